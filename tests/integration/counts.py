"""Ground truth for the integration tests, independent of wcstream's code.

  counts.py check STATE[+STATE...] [--split whitespace|spark] [--lowercase] FILE...
      compare the state's word_counts view (summed over several states joined
      with '+') with the counts of FILE...
  counts.py total FILE...            print the number of words (whitespace)
  counts.py changelog STATE TSV      the latest value per key of a changelog
      (kcat -f '%k\t%s\n') equals the state's word_counts
  counts.py text BYTES [SEED]        print deterministic text of about BYTES
  counts.py checkws JSON FILE...     the "counts" a websocket client learnt
      (wsclient.py follow --json) equal the counts of FILE...

Words are bytes: whitespace split is bytes.split() (ASCII whitespace, as
wcstream's default), spark split is line.split(b' ') per line with a
trailing '\\r' removed. Runs with Debian's /usr/bin/python3.
"""
import collections
import json
import random
import sqlite3
import sys


def lines(data):
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p[:-1] if p.endswith(b"\r") else p for p in parts]


def words(data, split, lowercase):
    if split == "spark":
        out = [w for line in lines(data) for w in line.split(b" ")]
    else:
        out = data.split()
    if lowercase:
        out = [w.lower() for w in out]  # ASCII-only corpora in these tests
    return out


def expected(files, split, lowercase):
    c = collections.Counter()
    for f in files:
        with open(f, "rb") as fh:
            c.update(words(fh.read(), split, lowercase))
    return c


def state_counts(path):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    con.text_factory = bytes
    got = collections.Counter({w: n for w, n in con.execute("SELECT word, count FROM word_counts")})
    con.close()
    return got


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "total":
        print(sum(expected(args, "whitespace", False).values()))
        return 0
    if cmd == "changelog":
        want = {w.decode(): n for w, n in state_counts(args[0]).items()}
        last = {}
        for line in open(args[1]):
            k, v = line.rstrip("\n").split("\t")
            last[k] = max(int(v), last.get(k, 0))  # counts only grow
        if last == want:
            return 0
        print("changelog has %d words, the state %d" % (len(last), len(want)))
        return 1
    if cmd == "checkws":
        with open(args[0]) as f:
            got = json.load(f)["counts"]
        want = {w.decode(): n for w, n in expected(args[1:], "whitespace", False).items()}
        if got == want:
            print("websocket counts match: %d distinct" % len(got))
            return 0
        diff = [(w, n, got.get(w)) for w, n in want.items() if got.get(w) != n]
        print("websocket counts differ in %d words, e.g. %s" % (len(diff), diff[:5]))
        return 1
    if cmd == "text":
        size, seed = int(args[0]), int(args[1]) if len(args) > 1 else 1
        rnd = random.Random(seed)
        vocab = ["w%d" % i for i in range(500)] + ["the", "a", "stream", "count", "spark"]
        out, n = [], 0
        while n < size:
            line = " ".join(rnd.choice(vocab) for _ in range(rnd.randint(1, 12)))
            out.append(line)
            n += len(line) + 1
        sys.stdout.write("\n".join(out) + "\n")
        return 0
    state, split, lowercase, files = args[0], "whitespace", False, []
    it = iter(args[1:])
    for a in it:
        if a == "--split":
            split = next(it)
        elif a == "--lowercase":
            lowercase = True
        else:
            files.append(a)
    want, got = expected(files, split, lowercase), collections.Counter()
    for path in state.split("+"):
        got.update(state_counts(path))
    if want == got:
        print("counts match: %d words, %d distinct" % (sum(got.values()), len(got)))
        return 0
    missing = {w: n for w, n in want.items() if got.get(w) != n}
    extra = {w: n for w, n in got.items() if w not in want}
    print("counts differ: want %d words/%d distinct, got %d/%d" %
          (sum(want.values()), len(want), sum(got.values()), len(got)))
    for w, n in list(missing.items())[:10]:
        print("  %r: want %d got %s" % (w, n, got.get(w)))
    for w, n in list(extra.items())[:10]:
        print("  unexpected %r: %d" % (w, n))
    return 1


if __name__ == "__main__":
    sys.exit(main())
