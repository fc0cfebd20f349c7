#!/usr/bin/env bash
# bench.sh - `make bench`: wcstream's throughput, memory, state and latency
# figures side by side with mawk, gawk, sort | uniq -c and a plain C word
# counter, in one invocation, every figure checked for correct counts.
#
# 1. Corpora, generated deterministically and cached in build/bench/ (made
#    again when build/gen_corpus is newer):
#      natural   corpus-<MB>.txt: BENCH_MB MiB of natural-like text (Zipf
#                vocabulary of 60,000 words, punctuation, numbers, UTF-8);
#      highcard  highcard-<N>.txt: exactly BENCH_HC_WORDS distinct words (4
#                base-62 characters each up to 14.7M), the vocabulary
#                growing to the last line (gen_corpus --high-card);
#      kafka     the head of natural, BENCH_KAFKA_MB MB of whole lines;
#      small     the first 1,000 lines of natural; smallrun the first 300,000.
#    Each corpus's reference counts are wc_baseline's, kept as a fingerprint
#    (total, distinct, checksum: tests/bench/count_sum.c) next to it.
# 2. Workloads, each in a file of its own (all sourced here, helpers in
#    lib.sh), selected with BENCH_ONLY:
#      baselines  mawk, gawk, sort | uniq -c, wc_baseline on natural (and
#                 on highcard when that runs too)          stdin.sh
#      stdin      (a) --source stdin --trigger available-now, state file,
#                 on natural                               stdin.sh
#      highcard   (a) the same on highcard, then a small batch's commit on
#                 the 10M-key state against an empty one, and startup on
#                 it                                       highcard.sh
#      listen     (b) listen:// with 4 nc clients, --trigger 1s, sustained
#                 MB/s and RSS over time                   network.sh
#      socket     (c) socket:// from an nc -l server       network.sh
#      kafka      (d) kafka:// through build/kafka_broker   kafka.sh
#      latency    line-to-dashboard latency, listen:// + ws:// at 1 MB/s,
#                 --trigger 0 (latency.py)                 latency.sh
#    Every run is checked before its time counts: wcstream's SQLite state
#    (word_counts) and every baseline's output must have the reference
#    fingerprint; a wrong run is reported and gets no speed.
# 3. report.py prints the tables (throughput, where wcstream's batches
#    spend their time from its progress records, every wcstream/baseline
#    ratio, RSS over the listen run, the high-card and latency figures, the
#    issue's targets as met / NOT met) and writes build/bench/results.json,
#    where every figure names its corpus, command and machine.
#
# Run:   make bench
#        BENCH_ONLY=stdin,baselines BENCH_RUNS=5 make bench
#        tests/bench/bench.sh   (once the programs `make bench` builds exist)
# Knobs: BENCH_MB             natural corpus size in MiB (default 40)
#        BENCH_RUNS           runs of each workload, best reported (3)
#        BENCH_ONLY           comma-separated subset of the workloads above
#                             (default: all)
#        BENCH_HC_WORDS       distinct words of the highcard corpus (10000000)
#        BENCH_HC_RUNS        runs over the highcard corpus (1: ~25 s each for
#                             wcstream, mawk, gawk)
#        BENCH_LISTEN_COPIES  times each of the 4 listen clients sends the
#                             natural corpus (4: 670 MB in all, so that the
#                             1 s trigger's granularity stays small)
#        BENCH_KAFKA_MB       size of the kafka corpus in MB (15; at most ~16
#                             fits the local broker's 4 partitions)
#        BENCH_LATENCY_S      seconds the latency probe sends (15)
#        BENCH_LATENCY_RATE   its bytes per second (1000000)
#        WCSTREAM             the binary (build/wcstream)
# Out:   the tables on stdout, progress on stderr, build/bench/results.json;
#        per run: build/bench/*.err (wcstream's log), *.progress.jsonl.
# Exit:  0 when every count checked was right (targets never matter);
#        1 when one was wrong or a program failed; 2 for a bad knob or a
#        missing tool.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=tests/bench/lib.sh
. tests/bench/lib.sh
# shellcheck source=tests/bench/stdin.sh
. tests/bench/stdin.sh
# shellcheck source=tests/bench/highcard.sh
. tests/bench/highcard.sh
# shellcheck source=tests/bench/network.sh
. tests/bench/network.sh
# shellcheck source=tests/bench/kafka.sh
. tests/bench/kafka.sh
# shellcheck source=tests/bench/latency.sh
. tests/bench/latency.sh

MB=${BENCH_MB:-40}
RUNS=${BENCH_RUNS:-3}
ONLY=${BENCH_ONLY:-baselines,stdin,highcard,listen,socket,kafka,latency}
HC_WORDS=${BENCH_HC_WORDS:-10000000}
HC_RUNS=${BENCH_HC_RUNS:-1}
LISTEN_COPIES=${BENCH_LISTEN_COPIES:-4}
KAFKA_MB=${BENCH_KAFKA_MB:-15}
LAT_S=${BENCH_LATENCY_S:-15}
LAT_RATE=${BENCH_LATENCY_RATE:-1000000}
ALL_WORKLOADS=(baselines stdin highcard listen socket kafka latency)

# ---- knobs and tools -----------------------------------------------------

for knob in MB RUNS HC_WORDS HC_RUNS LISTEN_COPIES KAFKA_MB LAT_S LAT_RATE; do
    [[ ${!knob} =~ ^[1-9][0-9]*$ ]] ||
        die 2 "BENCH_$knob must be a positive whole number, not '${!knob}'"
done
declare -A WANT=()
IFS=, read -ra picked <<<"$ONLY"
for w in "${picked[@]}"; do
    [[ " ${ALL_WORKLOADS[*]} " == *" $w "* ]] ||
        die 2 "BENCH_ONLY: unknown workload '$w' (known: ${ALL_WORKLOADS[*]})"
    WANT[$w]=1
done
want() { [[ -n ${WANT[$1]:-} ]]; }

[[ -n ${EPOCHREALTIME:-} ]] || die 2 "needs bash 5 or later (for \$EPOCHREALTIME)"
for f in "$WCS" "$GEN" "$BASE" "$SUM"; do
    [[ -x $f ]] || die 2 "$f is missing; run: make bench"
done
tools=(sqlite3 awk "$PY" /usr/bin/time)
if want baselines; then tools+=(mawk gawk tr sort uniq); fi
if want listen || want socket || want latency; then tools+=(nc); fi
if want kafka; then tools+=(kcat build/kafka_broker); fi
for t in "${tools[@]}"; do
    command -v "$t" >/dev/null || die 2 "$t is missing; run: make deps (or make bench)"
done
if want latency; then
    "$PY" -c 'import websockets' 2>/dev/null ||
        die 2 "$PY has no websockets module; run: make deps (python3-websockets)"
fi
mkdir -p "$DIR"
: >"$FIGS"
START=$EPOCHREALTIME

# ---- corpora -------------------------------------------------------------

declare -A CORPUS_PATH=() CORPUS_BYTES=()

# corpus NAME PATH SOURCE MADE_BY CMD...: makes PATH with CMD (stdout) when
# it is missing or older than SOURCE (the generator or the corpus it is
# cut from), then records it with its reference counts.
corpus() {
    local name=$1 path=$2 src=$3 made_by=$4 fp
    shift 4
    if [[ ! -s $path || $src -nt $path ]]; then
        say "generating $path ($made_by)..."
        "$@" >"$path.tmp"
        mv "$path.tmp" "$path"
    fi
    CORPUS_PATH[$name]=$path
    CORPUS_BYTES[$name]=$(stat -c %s "$path")
    fp=$(ref_fp "$path")
    read -r total distinct sum <<<"$fp"
    record kind=corpus name="$name" path="$path" bytes:="${CORPUS_BYTES[$name]}" \
        words:="$total" distinct:="$distinct" checksum="$sum" made_by="$made_by" \
        reference="build/wc_baseline < $path | build/count_sum"
}

NATURAL=$DIR/corpus-$MB.txt
corpus natural "$NATURAL" "$GEN" "build/gen_corpus $MB" "$GEN" "$MB"
if want highcard; then
    corpus highcard "$DIR/highcard-$HC_WORDS.txt" "$GEN" "build/gen_corpus --high-card $HC_WORDS" \
        "$GEN" --high-card "$HC_WORDS"
    corpus small "$DIR/corpus-$MB-small.txt" "$NATURAL" "head -n 1000 $NATURAL" \
        head -n 1000 "$NATURAL"
    corpus smallrun "$DIR/corpus-$MB-smallrun.txt" "$NATURAL" "head -n 300000 $NATURAL" \
        head -n 300000 "$NATURAL"
fi
if want kafka; then
    # Whole lines only: the last, maybe cut, line of the head is dropped.
    # shellcheck disable=SC2016 # expanded by the inner bash
    corpus kafka "$DIR/corpus-$MB-head-$KAFKA_MB.txt" "$NATURAL" \
        "head -c $((KAFKA_MB * 1000000)) $NATURAL | sed '\$d'" \
        bash -c 'head -c "$1" "$2" | sed "\$d"' - "$((KAFKA_MB * 1000000))" "$NATURAL"
fi

MODEL=$(grep -m 1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
record kind=machine cores:="$(nproc)" model="${MODEL:-unknown CPU}" kernel="$(uname -sr)" \
    memory_mb:="$(awk '/^MemTotal:/ { printf "%d", $2 * 1024 / 1e6 }' /proc/meminfo)" \
    date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" wcstream="$WCS" \
    wcstream_version="$("$WCS" --version 2>&1 | head -n 1)"
record kind=knobs BENCH_MB:="$MB" BENCH_RUNS:="$RUNS" BENCH_ONLY="$ONLY" \
    BENCH_HC_WORDS:="$HC_WORDS" BENCH_HC_RUNS:="$HC_RUNS" BENCH_LISTEN_COPIES:="$LISTEN_COPIES" \
    BENCH_KAFKA_MB:="$KAFKA_MB" BENCH_LATENCY_S:="$LAT_S" BENCH_LATENCY_RATE:="$LAT_RATE"

# ---- workloads -----------------------------------------------------------

BASELINE_PROGRAMS=()
if want baselines; then BASELINE_PROGRAMS=(mawk gawk sortuniq wc_baseline); fi

programs=()
if want stdin; then programs+=(wcstream wcstream1); fi
programs+=("${BASELINE_PROGRAMS[@]}")
if ((${#programs[@]})); then
    stdin_round natural "$RUNS" "${programs[@]}"
fi
if want highcard; then
    stdin_round highcard "$HC_RUNS" wcstream "${BASELINE_PROGRAMS[@]}"
    highcard_small "$RUNS"
fi
if want listen; then listen_runs "$RUNS" "$LISTEN_COPIES"; fi
if want socket; then socket_runs "$RUNS"; fi
if want kafka; then kafka_runs "$RUNS"; fi
if want latency; then latency_run "$LAT_S" "$LAT_RATE"; fi

# ---- report --------------------------------------------------------------

"$PY" tests/bench/report.py "$FIGS" "$DIR/results.json"
say "figures written to $DIR/results.json ($(awk -v a="$START" -v b="$EPOCHREALTIME" \
    'BEGIN { printf "%.0f", b - a }') s in all)"
if ((BAD)); then
    say "counts were WRONG or a program failed; no speed is reported for those runs:"
    for f in "${FAILS[@]}"; do
        say "  $f"
    done
    exit 1
fi
