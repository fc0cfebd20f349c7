"""The table and results.json of `make bench` (tests/bench/bench.sh).

  report.py FIGURES.jsonl RESULTS.json

FIGURES holds one JSON object per line, written by the bench scripts'
`record` (tests/bench/lib.sh):

- {"kind": "machine", ...}, {"kind": "knobs", ...}: once each;
- {"kind": "corpus", "name", "path", "bytes", "words", "distinct",
  "checksum", "made_by"}: one per corpus;
- one object per run of a program: "workload" (stdin, listen, socket,
  kafka, latency, small-batch, baseline), "program", "corpus", "run",
  "command", "correct" (its counts were checked against the reference)
  and what was measured: "seconds" (wall), "t0" (epoch seconds at the
  start), "peak_rss_kb", "progress_log" (wcstream's --progress-log file),
  "rss_log" (listen: "EPOCH RSS_KB" samples), "log" (kafka: wcstream's
  stderr), "probe" (latency.py's figures)...

This program derives everything else: throughput from the best run
(lowest wall time) of each (workload, program, corpus), batch statistics
from that run's progress records (Spark StreamingQueryProgress fields:
numInputBytes, durationMs.{tokenize, aggregate, stateCommit, sinks,
triggerExecution}, stateOperators[0].{numRowsTotal, totalWords}), every
wcstream/baseline ratio, the listen run's RSS over time, the small-batch
and startup figures on the 10M-key state, the latency percentiles and the
issue's targets (reported as met or NOT met, never enforced). It prints
the tables on stdout and writes RESULTS as one JSON document in which every
figure names its corpus, command and machine. Runs whose counts were wrong
get no speed.
"""
import datetime
import json
import os
import statistics
import sys

MB = 1e6
# Targets of the performance issue (reported, never enforced).
TARGET_VS_BASELINE = 1.0
TARGET_VS_MAWK = 6.0
TARGET_VS_MAWK_1T = 4.0  # the engine issue's: one tokenizing thread
TARGET_LISTEN_MBPS = 150.0
TARGET_HC_DISTINCT = 10_000_000
TARGET_HC_RSS_MB = 256.0
TARGET_COMMIT_RATIO = 2.0
TARGET_STARTUP_MS = 200.0
TARGET_P99_MS = 10.0
# The listen run's memory "does not grow" when the largest RSS in the second
# half of the run after its first batch is within max(8 MB, 10%) of the
# largest in the first half (rss_profile).
FLAT_SLACK_MB, FLAT_SLACK_FRAC = 8.0, 0.10

WORKLOAD_LABEL = {
    "stdin": "wcstream stdin, available-now",
    "stdin1": "wcstream stdin, --threads 1",
    "listen": "wcstream listen://, 4 nc, 1s",
    "socket": "wcstream socket://, available-now",
    "kafka": "wcstream kafka://, 4 parts, avail-now",
}
BASELINES = ["mawk", "gawk", "sort | uniq -c", "wc_baseline (C)"]


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a list; None when empty."""
    v = sorted(values)
    if not v:
        return None
    rank = -(-q * len(v) // 100)  # ceil
    return v[max(0, min(len(v), int(rank)) - 1)]


def median(values):
    """The median rounded to the microsecond (of milliseconds); None when empty."""
    return round(statistics.median(values), 3) if values else None


def epoch(ts):
    """A progress record's timestamp ("2026-11-22T05:03:08.231Z") in epoch seconds."""
    t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def batch_end(rec):
    """When a batch ended: its start plus its whole trigger execution."""
    return epoch(rec["timestamp"]) + rec["durationMs"]["triggerExecution"] / 1e3


def read_progress(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except OSError:
        return []


def batch_stats(recs):
    """Per-batch figures of one run from its progress records."""
    if not recs:
        return None
    d = [r["durationMs"] for r in recs]
    total = [x["triggerExecution"] for x in d]
    ops = recs[-1].get("stateOperators") or [{}]
    return {
        "batches": len(recs),
        "batch_mean_ms": round(statistics.mean(total), 3),
        "batch_p99_ms": round(percentile(total, 99), 3),
        "batch_max_ms": round(max(total), 3),
        "get_batch_s": round(sum(x.get("getBatch", 0) for x in d) / 1e3, 3),
        "tokenize_s": round(sum(x.get("tokenize", 0) for x in d) / 1e3, 3),
        "aggregate_s": round(sum(x.get("aggregate", 0) for x in d) / 1e3, 3),
        "state_commit_s": round(sum(x.get("stateCommit", 0) for x in d) / 1e3, 3),
        "sinks_s": round(sum(x.get("sinks", 0) for x in d) / 1e3, 3),
        "batches_s": round(sum(total) / 1e3, 3),
        "input_bytes": sum(r.get("numInputBytes", 0) for r in recs),
        "max_batch_bytes": max(r.get("numInputBytes", 0) for r in recs),
        "input_rows": sum(r.get("numInputRows", 0) for r in recs),
        "state_rows": ops[0].get("numRowsTotal"),
        "state_words": ops[0].get("totalWords"),
    }


def assigned_at(path):
    """kafka: when wcstream's log first says a partition was assigned."""
    try:
        with open(path, errors="replace") as f:
            for line in f:
                if ": assigned " in line:
                    return epoch(line.split()[0])
    except (OSError, ValueError):
        pass
    return None


def sustained_seconds(run, recs):
    """listen: from the first byte (t0) to the end of the batch that brought
    the state's totalWords to the expected total."""
    for r in recs:
        if (r.get("stateOperators") or [{}])[0].get("totalWords", 0) >= run["words"]:
            return round(batch_end(r) - run["t0"], 3)
    return None


def steady_mbps(recs):
    """listen: the rate once the stream is flowing, without the wait for the
    first trigger after the first byte or the last batch's drain: the input
    of the batches after the first with data, over the time from that
    first batch's start to the last batch's start."""
    data = [r for r in recs if r.get("numInputBytes")]
    if len(data) < 3:
        return None
    secs = epoch(data[-1]["timestamp"]) - epoch(data[0]["timestamp"])
    return round(sum(r["numInputBytes"] for r in data[:-1]) / secs / MB, 1) if secs > 0 else None


def rss_profile(run, first_end, end):
    """RSS over a listen run: the sample nearest 25/50/75/100% of the run
    (first byte to last commit), and whether memory grows: the largest RSS
    in the second half of the time after the first batch against the
    largest in the first half (so that each half holds whole batches with
    their working memory, and the first batch's warm-up is left out)."""
    samples = []
    try:
        with open(run["rss_log"]) as f:
            for line in f:
                t, kb = line.split()
                samples.append((float(t), int(kb) * 1024 / MB))
    except (OSError, ValueError):
        return None
    t0 = run["t0"]
    inside = [s for s in samples if t0 <= s[0] <= end + 0.2]
    if not inside:
        return None
    at = {}
    for q in (25, 50, 75, 100):
        point = t0 + (end - t0) * q / 100
        at["%d%%" % q] = round(min(inside, key=lambda s: abs(s[0] - point))[1], 1)
    mid = (first_end + end) / 2
    first = [s[1] for s in inside if first_end <= s[0] < mid]
    second = [s[1] for s in inside if mid <= s[0]]
    out = {
        "rss_mb_at": at,
        "rss_mb_max_sampled": round(max(s[1] for s in inside), 1),
        "samples": len(inside),
        "sample_interval_s": 0.1,
    }
    if first and second:
        a, b = max(first), max(second)
        out.update({
            "max_mb_first_half_after_batch0": round(a, 1),
            "max_mb_second_half_after_batch0": round(b, 1),
            "grows": b - a > max(FLAT_SLACK_MB, FLAT_SLACK_FRAC * a),
        })
    return out


class Report:
    def __init__(self, lines):
        self.machine, self.knobs, self.corpora, self.runs = {}, {}, {}, []
        for o in lines:
            kind = o.get("kind")
            if kind == "machine":
                self.machine = o
            elif kind == "knobs":
                self.knobs = o
            elif kind == "corpus":
                self.corpora[o["name"]] = {k: v for k, v in o.items() if k != "kind"}
            else:
                self.runs.append(o)
        m = self.machine
        self.machine_str = "%s cores, %s, %s" % (m.get("cores"), m.get("model"), m.get("kernel"))
        self.figures = []
        self.sections = {}
        self.targets = []

    def groups(self, workload):
        """Runs of a workload grouped by (program, corpus, state), in order."""
        out = {}
        for r in self.runs:
            if r["workload"] == workload:
                out.setdefault((r["program"], r["corpus"], r.get("state")), []).append(r)
        return out

    def figure(self, workload, runs):
        """One figure from the runs of a (workload, program, corpus)."""
        first = runs[0]
        corpus = self.corpora.get(first["corpus"], {})
        for r in runs:
            r["progress"] = read_progress(r["progress_log"]) if r.get("progress_log") else []
            if workload == "listen":
                r["seconds"] = sustained_seconds(r, r["progress"])
        good = [r for r in runs if r.get("correct") and r.get("seconds")]
        fig = {
            "workload": workload,
            "program": first["program"],
            "corpus": dict(corpus),
            "command": first["command"],
            "machine": self.machine_str,
            "runs": len(runs),
            "correct": len(good) == len(runs),
            "seconds": [r.get("seconds") for r in runs],
            "peak_rss_mb": round(max(r.get("peak_rss_kb", 0) for r in runs) * 1024 / MB, 1),
        }
        bytes_, words = corpus.get("bytes", 0), corpus.get("words", 0)
        if workload == "listen":
            bytes_, words = first["bytes"], first["words"]
            fig["corpus"]["sent"] = "%d clients x %d copies = %d bytes" % (
                first["clients"], first["copies"], bytes_)
        if not good:
            fig["note"] = "no speed: a run failed or its counts were wrong"
            return fig
        best = min(good, key=lambda r: r["seconds"])
        fig.update({
            "command": best["command"],
            "best_s": best["seconds"],
            "mb_per_s": round(bytes_ / best["seconds"] / MB, 1),
            "mwords_per_s": round(words / best["seconds"] / MB, 2),
            "best_run": best["run"],
        })
        if best["progress"]:
            fig["best_run_batches"] = batch_stats(best["progress"])
            fig["progress_log"] = best["progress_log"]
        if workload == "kafka" and assigned_at(best.get("log", "")):
            after = best["t0"] + best["seconds"] - assigned_at(best["log"])
            fig["join_s"] = round(best["seconds"] - after, 3)
            fig["after_assignment_s"] = round(after, 3)
            fig["mb_per_s_after_assignment"] = round(bytes_ / after / MB, 1)
        if workload == "listen":
            end = best["t0"] + best["seconds"]
            fig["rss"] = rss_profile(best, batch_end(best["progress"][0]), end) or {}
            fig["rss"]["peak_vmhwm_mb"] = round(best["peak_rss_kb"] * 1024 / MB, 1)
            fig["clock"] = "first byte sent -> end of the batch that committed the last byte"
            fig["steady_mb_per_s"] = steady_mbps(best["progress"])
        return fig

    def build(self):
        for workload in ("stdin", "stdin1", "listen", "socket", "kafka", "baseline"):
            for key, runs in self.groups(workload).items():
                self.figures.append(self.figure(workload, runs))
        self.build_ratios()
        self.build_highcard()
        self.build_latency()
        self.build_targets()

    def find(self, workload, corpus, program="wcstream"):
        for f in self.figures:
            if f["workload"] == workload and f["corpus"].get("name") == corpus and \
                    f["program"] == program:
                return f
        return None

    def build_ratios(self):
        """wcstream's MB/s over each baseline's, on the same corpus (kafka's
        corpus is the head of the natural one; listen sends it several times)."""
        rows = []
        for f in self.figures:
            if f["workload"] == "baseline" or "mb_per_s" not in f:
                continue
            base_corpus = "highcard" if f["corpus"].get("name") == "highcard" else "natural"
            row = {"workload": f["workload"], "corpus": f["corpus"].get("name"),
                   "baseline_corpus": base_corpus, "vs": {}}
            for b in BASELINES:
                bf = self.find("baseline", base_corpus, b)
                if bf and "mb_per_s" in bf:
                    row["vs"][b] = round(f["mb_per_s"] / bf["mb_per_s"], 2)
            rows.append(row)
        self.sections["ratios"] = rows

    def build_highcard(self):
        hc = self.find("stdin", "highcard")
        groups = self.groups("small-batch")
        if not hc and not groups:
            return
        out = {}
        if hc:
            st = hc.get("best_run_batches") or {}
            out["distinct_in_state"] = st.get("state_rows")
            out["peak_rss_mb"] = hc["peak_rss_mb"]
            out["command"] = hc["command"]
        for (prog, corpus, state), runs in groups.items():
            first, again, last, to_start, to_end, batches = [], [], [], [], [], []
            for r in runs:
                recs = read_progress(r["progress_log"])
                if not r.get("correct") or not recs:
                    continue
                first.append(recs[0]["durationMs"]["stateCommit"])
                batches.append(len(recs))
                if len(recs) > 1:
                    again.append(statistics.mean(x["durationMs"]["stateCommit"] for x in recs[1:10]))
                if len(recs) > 100:
                    last.append(statistics.mean(x["durationMs"]["stateCommit"] for x in recs[-100:]))
                to_start.append((epoch(recs[0]["timestamp"]) - r["t0"]) * 1e3)
                to_end.append((batch_end(recs[0]) - r["t0"]) * 1e3)
            key = "empty_state" if state == "empty" else "highcard_state"
            out[key] = {
                "corpus": self.corpora.get(corpus),
                "command": runs[0]["command"],
                "machine": self.machine_str,
                "runs": len(runs),
                "batches_per_run": max(batches, default=None),
                "first_batch_state_commit_ms": [round(c, 3) for c in first],
                "first_batch_state_commit_ms_median": median(first),
                "next_batches_state_commit_ms_mean": [round(c, 3) for c in again],
                "next_batches_state_commit_ms_median": median(again),
                "last_100_batches_state_commit_ms_mean": [round(c, 3) for c in last],
                "last_100_batches_state_commit_ms_median": median(last),
                "start_to_first_batch_start_ms": [round(x, 1) for x in to_start],
                "start_to_first_batch_start_ms_median": median(to_start),
                "start_to_first_batch_end_ms": [round(x, 1) for x in to_end],
                "start_to_first_batch_end_ms_median": median(to_end),
            }
            if state != "empty":
                out["peak_rss_mb"] = max(out.get("peak_rss_mb", 0), round(
                    max(r.get("peak_rss_kb", 0) for r in runs) * 1024 / MB, 1))
        e, h = out.get("empty_state"), out.get("highcard_state")
        for which in ("first_batch", "next_batches", "last_100_batches"):
            k = which + "_state_commit_ms_median"
            if e and h and e[k] and h[k]:
                out["commit_ratio_highcard_vs_empty_" + which] = round(h[k] / e[k], 2)
        self.sections["highcard"] = out

    def build_latency(self):
        runs = [r for r in self.runs if r["workload"] == "latency"]
        if not runs:
            return
        r = runs[0]
        probe = r.get("probe") or {}
        st = batch_stats(read_progress(r["progress_log"])) or {}
        self.sections["latency"] = {
            "command": r["command"],
            "machine": self.machine_str,
            "corpus": self.corpora.get(r["corpus"]),
            "correct": r.get("correct"),
            "probe": probe,
            "peak_rss_mb": round(r.get("peak_rss_kb", 0) * 1024 / MB, 1),
            "batches": st,
        }

    def build_targets(self):
        t = self.targets

        def add(name, value, met, shown):
            t.append({"target": name, "value": value, "met": met, "shown": shown})

        ratios = {(r["workload"], r["corpus"]): r["vs"] for r in self.sections.get("ratios", [])}
        vs = ratios.get(("stdin", "natural"), {})
        if "wc_baseline (C)" in vs:
            x = vs["wc_baseline (C)"]
            add("stdin natural >= %.1fx wc_baseline" % TARGET_VS_BASELINE, x,
                x >= TARGET_VS_BASELINE, "%.2fx" % x)
        if "mawk" in vs:
            x = vs["mawk"]
            add("stdin natural >= %.0fx mawk" % TARGET_VS_MAWK, x, x >= TARGET_VS_MAWK, "%.2fx" % x)
        vs1 = ratios.get(("stdin1", "natural"), {})
        if "mawk" in vs1:
            x = vs1["mawk"]
            add("stdin natural, --threads 1 >= %.0fx mawk" % TARGET_VS_MAWK_1T, x,
                x >= TARGET_VS_MAWK_1T, "%.2fx" % x)
        lf = self.find("listen", "natural")
        if lf and "mb_per_s" in lf:
            # "Sustain" is the steady state; the end-to-end figure is shown too.
            x, grows = lf.get("steady_mb_per_s") or lf["mb_per_s"], (lf.get("rss") or {}).get("grows")
            add("listen sustains >= %.0f MB/s, memory not growing" % TARGET_LISTEN_MBPS, x,
                x >= TARGET_LISTEN_MBPS and grows is False,
                "%.1f MB/s steady (%.1f end to end), memory %s" % (
                    x, lf["mb_per_s"], {True: "GROWS", False: "flat"}.get(grows, "unknown")))
        hc = self.sections.get("highcard", {})
        if hc.get("distinct_in_state") is not None:
            x = hc["distinct_in_state"]
            add("high-card: >= 10M distinct words in state", x, x >= TARGET_HC_DISTINCT,
                "{:,}".format(x))
        if "peak_rss_mb" in hc:
            x = hc["peak_rss_mb"]
            add("high-card: peak RSS < %.0f MB" % TARGET_HC_RSS_MB, x, x < TARGET_HC_RSS_MB,
                "%.1f MB" % x)
        for which, label in (("first_batch", "first batch"),
                             ("last_100_batches", "last 100 batches")):
            if "commit_ratio_highcard_vs_empty_" + which in hc:
                x = hc["commit_ratio_highcard_vs_empty_" + which]
                add("high-card: small-batch commit on 10M keys <= %.0fx empty (%s)" % (
                    TARGET_COMMIT_RATIO, label), x, x <= TARGET_COMMIT_RATIO, "%.2fx" % x)
        h = hc.get("highcard_state") or {}
        if h.get("start_to_first_batch_end_ms_median") is not None:
            x = h["start_to_first_batch_end_ms_median"]
            add("high-card: startup on 10M keys < %.0f ms" % TARGET_STARTUP_MS, x,
                x < TARGET_STARTUP_MS, "%.0f ms" % x)
        lat = self.sections.get("latency") or {}
        p99 = ((lat.get("probe") or {}).get("latency_ms") or {}).get("p99")
        if not lat.get("correct"):
            p99 = None  # no figures from a run whose counts were wrong
        if p99 is not None:
            add("latency p99 < %.0f ms" % TARGET_P99_MS, p99, p99 < TARGET_P99_MS, "%.1f ms" % p99)

    # ---- printing ---------------------------------------------------------

    def corpus_label(self, f):
        c = f["corpus"]
        name = c.get("name", "?")
        if f["workload"] == "listen":
            r = next(r for r in self.runs if r["workload"] == "listen")
            return "%s x%d" % (name, r["clients"] * r["copies"])
        return name

    def print(self):
        m = self.machine
        print("machine: %s" % self.machine_str)
        print("wcstream: %s (%s)" % (m.get("wcstream"), m.get("wcstream_version")))
        for c in self.corpora.values():
            print("corpus %-9s %7.1f MB, %s words, %s distinct (%s)" % (
                c["name"] + ":", c["bytes"] / MB, "{:,}".format(c["words"]),
                "{:,}".format(c["distinct"]), c["path"]))
        print("MB = 10^6 bytes; best = lowest wall time of the runs; peak RSS: largest over them;")
        print("every run's counts were checked against wc_baseline's before its time counts")
        print()
        hdr = "%-38s %-12s %4s %8s %8s %9s %8s" % (
            "workload", "corpus", "runs", "best s", "MB/s", "Mwords/s", "peak RSS")
        print(hdr)
        print("-" * len(hdr))
        order = [f for f in self.figures if f["workload"] != "baseline"] + \
                [f for f in self.figures if f["workload"] == "baseline"]
        for f in order:
            label = WORKLOAD_LABEL.get(f["workload"], f["program"])
            if "best_s" in f:
                print("%-38s %-12s %4d %8.3f %8.1f %9.2f %6.1fMB" % (
                    label, self.corpus_label(f), f["runs"], f["best_s"], f["mb_per_s"],
                    f["mwords_per_s"], f["peak_rss_mb"]))
            else:
                print("%-38s %-12s %4d   %s" % (label, self.corpus_label(f), f["runs"], f["note"]))
        notes = {
            "listen": "listen: sustained MB/s, from the first byte to the commit of the last",
            "kafka": "kafka: its corpus is the head of the natural one; the local broker keeps "
                     "~5 MiB a partition",
            "sort | uniq -c": "sort | uniq -c: peak RSS of its largest process",
        }
        for key, note in notes.items():
            if any(f["workload"] == key or f["program"] == key for f in order):
                print("(%s)" % note)
        kf = self.find("kafka", "kafka")
        if kf and "after_assignment_s" in kf:
            print("kafka best run: %.3f s from the start to the partitions' assignment "
                  "(group join), then %.3f s to the exit: %.1f MB/s" % (
                      kf["join_s"], kf["after_assignment_s"], kf["mb_per_s_after_assignment"]))

        rows = [f for f in order if f.get("best_run_batches")]
        if rows:
            print()
            hdr = "%-38s %-12s %7s %8s %8s %9s %9s %9s %9s %7s" % (
                "wcstream batches (best run)", "corpus", "batches", "mean ms", "p99 ms",
                "getBatch", "tokenize", "aggregate", "commit", "sinks")
            print(hdr)
            print("-" * len(hdr))
            for f in rows:
                b = f["best_run_batches"]
                print("%-38s %-12s %7d %8.1f %8.1f %8.3fs %8.3fs %8.3fs %8.3fs %6.3fs" % (
                    WORKLOAD_LABEL[f["workload"]], self.corpus_label(f), b["batches"],
                    b["batch_mean_ms"], b["batch_p99_ms"], b["get_batch_s"], b["tokenize_s"],
                    b["aggregate_s"], b["state_commit_s"], b["sinks_s"]))
            print("(seconds summed over the batches, from durationMs of the progress records; "
                  "kafka's getBatch includes joining the consumer group)")

        ratios = self.sections.get("ratios")
        if ratios and any(r["vs"] for r in ratios):
            print()
            hdr = "%-38s %-12s %-9s" % ("wcstream MB/s / baseline MB/s", "corpus", "baseline") + \
                "".join("%16s" % b for b in BASELINES)
            print(hdr)
            print("-" * len(hdr))
            for r in ratios:
                f = self.find(r["workload"], r["corpus"])
                print("%-38s %-12s %-9s" % (WORKLOAD_LABEL[r["workload"]], self.corpus_label(f),
                                            r["baseline_corpus"]) +
                      "".join("%15.2fx" % r["vs"][b] if b in r["vs"] else "%16s" % "-"
                              for b in BASELINES))

        lf = self.find("listen", "natural")
        if lf and lf.get("rss", {}).get("samples"):
            rs, b = lf["rss"], lf.get("best_run_batches") or {}
            print()
            biggest = b.get("max_batch_bytes", 0) / MB
            print("listen:// best run: %d batches, the largest %.1f MB (one batch per 1 s trigger: "
                  "a ceiling of %.1f MB/s unless a batch is cut at --max-bytes-per-trigger, when the "
                  "next starts at once)" % (b.get("batches", 0), biggest, biggest))
            if lf.get("steady_mb_per_s"):
                print("  steady state (from the first batch's start to the last's, without the wait "
                      "for the first tick and the last commit): %.1f MB/s" % lf["steady_mb_per_s"])
            print("  RSS (sampled every 0.1 s) %s MB at 25/50/75/100%% of the run; peak (VmHWM) "
                  "%s MB" % (" / ".join("%.1f" % v for v in rs["rss_mb_at"].values()),
                             rs["peak_vmhwm_mb"]))
            if "grows" in rs:
                print("  after the first batch: max %.1f MB in the first half of the time, %.1f MB "
                      "in the second: %s" % (
                          rs["max_mb_first_half_after_batch0"],
                          rs["max_mb_second_half_after_batch0"],
                          "GROWS" if rs["grows"] else "flat"))

        hc = self.sections.get("highcard")
        if hc:
            print()
            e, h = hc.get("empty_state") or {}, hc.get("highcard_state") or {}
            print("high-card state: %s distinct words, peak RSS %s MB" % (
                "{:,}".format(hc["distinct_in_state"]) if hc.get("distinct_in_state") else "?",
                hc.get("peak_rss_mb", "?")))
            if e and h:
                keys = "{:,}".format(hc.get("distinct_in_state") or 0)
                print("  1,000-line batch, stateCommit, median of %d runs: %s ms on the %s-key "
                      "state, %s ms on an empty one: %sx" % (
                          h["runs"], h["first_batch_state_commit_ms_median"], keys,
                          e["first_batch_state_commit_ms_median"],
                          hc.get("commit_ratio_highcard_vs_empty_first_batch", "?")))
                for which, label in (("next_batches", "batches 2-10"),
                                     ("last_100_batches", "the last 100 of %s batches" %
                                      h["batches_per_run"])):
                    if h[which + "_state_commit_ms_median"] is not None:
                        print("  %s (new lines), mean stateCommit: %s ms on the %s-key state, "
                              "%s ms on the other: %sx" % (
                                  label, h[which + "_state_commit_ms_median"], keys,
                                  e[which + "_state_commit_ms_median"],
                                  hc.get("commit_ratio_highcard_vs_empty_" + which, "?")))
                print("  from the process's start (median): first batch starts after %s ms, ends "
                      "after %s ms on the %s-key state (%s / %s ms on an empty state)" % (
                          h["start_to_first_batch_start_ms_median"],
                          h["start_to_first_batch_end_ms_median"], keys,
                          e["start_to_first_batch_start_ms_median"],
                          e["start_to_first_batch_end_ms_median"]))

        lat = self.sections.get("latency")
        if lat:
            p = lat["probe"] or {}
            l = p.get("latency_ms") or {}
            print()
            if not lat["correct"]:
                print("latency: no figures: wcstream's counts were wrong or it failed")
            elif l.get("p50") is None:
                print("latency: no figures (see build/bench/latency.err)")
            else:
                print("latency line -> dashboard (listen://, --trigger 0, ws://), %.0f s at "
                      "%.2f MB/s: p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
                          p["seconds"], p["rate_bytes_per_s"] / MB, l["p50"], l["p99"], l["max"]))
                print("  %d of %d tags seen (after %.0f s warm-up; %d updates, %d dropped for the "
                      "slow client, %d capped); wcstream batches: mean %.1f ms, p99 %.1f ms" % (
                          p["tags_seen"], p["tags_counted"], p["warmup_s"], p["updates"],
                          p["updates_dropped"], p["updates_capped"],
                          (lat["batches"] or {}).get("batch_mean_ms", 0),
                          (lat["batches"] or {}).get("batch_p99_ms", 0)))

        if self.targets:
            print()
            print("targets (reported, not enforced):")
            for t in self.targets:
                met = "met" if t["met"] else "NOT met"
                print("  %-66s %-8s %s" % (t["target"], met, t["shown"]))

    def json(self):
        return {
            "machine": self.machine,
            "knobs": self.knobs,
            "corpora": self.corpora,
            "units": {"mb": 1000000, "peak_rss_mb": "KiB * 1024 / 1e6",
                      "best": "lowest wall time of the runs"},
            "figures": self.figures,
            "ratios_wcstream_over_baseline": self.sections.get("ratios", []),
            "highcard": self.sections.get("highcard"),
            "latency": self.sections.get("latency"),
            "targets": self.targets,
            "all_counts_correct": all(r.get("correct") for r in self.runs),
        }


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: report.py FIGURES.jsonl RESULTS.json")
    with open(sys.argv[1]) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    rep = Report(lines)
    rep.build()
    rep.print()
    with open(sys.argv[2] + ".tmp", "w") as f:
        json.dump(rep.json(), f, indent=1)
        f.write("\n")
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])


if __name__ == "__main__":
    main()
