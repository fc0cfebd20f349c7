#!/usr/bin/env bash
# bench.sh - `make bench`: wcstream's throughput against mawk, sort | uniq -c
# and a plain single-threaded C word counter, all on one corpus.
#
# 1. Makes a deterministic natural-like corpus of BENCH_MB MiB with
#    build/gen_corpus, cached as build/bench/corpus-<MB>.txt (made again
#    only when build/gen_corpus is newer than it).
# 2. Runs every program once and checks that they all count the same words:
#    total words, distinct words and the full sorted (count, word) sets
#    (wcstream's read back from its SQLite state). On any difference it
#    prints the first differing lines and exits 1 before reporting a speed.
# 3. Times BENCH_RUNS runs of each program (round-robin, stdout to
#    /dev/null) and reports the best (lowest wall time) of each: seconds,
#    MB/s, Mwords/s, peak RSS and how many times wcstream's throughput is
#    that program's. wcstream starts from a deleted state each run and
#    commits into a real file (build/bench/state.db); its counts are checked
#    again after every timed run.
# 4. Sums wcstream's per-batch log lines (tokenize, aggregate, commit,
#    sinks) of its best run to show where its time goes.
#
# Units: MB is 10^6 bytes everywhere (corpus, MB/s, RSS). Wall seconds come
# from bash's $EPOCHREALTIME around /usr/bin/time (ms resolution); peak RSS
# is GNU time's %M. For the `sort | uniq -c` pipeline, timed as
# `bash -c '...'`, %M is the largest RSS of the shell and of the processes
# it waited for, i.e. of the largest process in the pipeline (sort).
# The issue's target (wcstream >= 4x mawk's throughput) is reported, never
# enforced.
#
# Run:   make bench
#        BENCH_MB=200 BENCH_RUNS=5 make bench
#        tests/bench/bench.sh   (once build/wcstream, build/gen_corpus and
#                                build/wc_baseline are built)
# Knobs: BENCH_MB (default 40), BENCH_RUNS (default 3).
# Out:   the table on stdout, progress on stderr, build/bench/results.json,
#        wcstream's logs in build/bench/wcstream-run-<N>.log.
# Exit:  0 when all counts agree; 1 when they disagree or a program fails;
#        2 for a bad knob or a missing tool.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

MB=${BENCH_MB:-40}
RUNS=${BENCH_RUNS:-3}
DIR=build/bench
CORPUS=$DIR/corpus-$MB.txt
STATE=$DIR/state.db
WCS=build/wcstream
GEN=build/gen_corpus
BASE=build/wc_baseline
TIMEF=$DIR/time.out

# shellcheck disable=SC2016 # $i and $0 are mawk's, not the shell's
MAWK_PROG='{for(i=1;i<=NF;i++) c[$i]++} END{for(w in c) print c[w], w}'
PIPE="LC_ALL=C tr -s ' \\t' '\\n' | LC_ALL=C sort | LC_ALL=C uniq -c"

KEYS=(wcstream mawk sortuniq baseline)
declare -A LABEL=(
    [wcstream]="wcstream (stdin, state)"
    [mawk]="mawk"
    [sortuniq]="sort | uniq -c"
    [baseline]="wc_baseline (C)"
)

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
    say "$2"
    exit "$1"
}

# 1234567 -> 1,234,567
commas() {
    local s=$1 out=""
    while ((${#s} > 3)); do
        out=",${s: -3}$out"
        s=${s:0:${#s}-3}
    done
    printf '%s%s' "$s" "$out"
}

# A JSON string literal for $1 (no control characters expected).
json_str() {
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}

# Floating-point arithmetic: calc FORMAT EXPR-over-a,b,c [a [b [c]]]
calc() {
    awk -v a="${3:-0}" -v b="${4:-0}" -v c="${5:-0}" "BEGIN { printf \"$1\", $2 }"
}

# Sets CMD to the command line of program $1.
set_cmd() {
    case $1 in
    wcstream)
        CMD=("$WCS" --source stdin --trigger available-now --state "$STATE"
            --sink 'console?numRows=1')
        ;;
    mawk) CMD=(mawk "$MAWK_PROG") ;;
    sortuniq) CMD=(bash -c "$PIPE") ;;
    baseline) CMD=("$BASE") ;;
    esac
}

# run KEY OUT ERR [timed]: one run of program KEY over the corpus, stdout to
# OUT, stderr to ERR. Sets RUN_S (wall seconds) and, when timed, RUN_KB (peak
# RSS in KiB). wcstream's state files are deleted first, outside the clock.
run() {
    local key=$1 out=$2 err=$3 timed=${4:-} rc=0 t0 t1
    local -a pre=()
    set_cmd "$key"
    if [[ -n $timed ]]; then
        pre=(/usr/bin/time -f '%e %M' -o "$TIMEF")
    fi
    if [[ $key == wcstream ]]; then
        rm -f "$STATE" "$STATE-wal" "$STATE-shm"
    fi
    t0=$EPOCHREALTIME
    "${pre[@]}" "${CMD[@]}" <"$CORPUS" >"$out" 2>"$err" || rc=$?
    t1=$EPOCHREALTIME
    if ((rc != 0)); then
        say "${LABEL[$key]} failed (exit status $rc); its stderr ($err) ends with:"
        tail -n 5 "$err" >&2
        exit 1
    fi
    RUN_S=$(calc '%.3f' 'b - a' "$t0" "$t1")
    if [[ -n $timed ]]; then
        RUN_KB=$(tail -n 1 "$TIMEF" | awk '{ print $2 }')
    fi
}

# "total distinct" of a sorted "count word" file.
totals() { awk '{ t += $1 } END { printf "%d %d\n", t, NR }' "$1"; }

# ---- setup -------------------------------------------------------------

[[ $MB =~ ^[1-9][0-9]*$ ]] || die 2 "BENCH_MB must be a positive whole number of MiB, not '$MB'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die 2 "BENCH_RUNS must be a positive whole number, not '$RUNS'"
[[ -n ${EPOCHREALTIME:-} ]] || die 2 "needs bash 5 or later (for \$EPOCHREALTIME)"
for f in "$WCS" "$GEN" "$BASE"; do
    [[ -x $f ]] || die 2 "$f is missing; run: make bench"
done
for t in mawk sqlite3 tr sort uniq; do
    command -v "$t" >/dev/null || die 2 "$t is missing; run: make deps"
done
[[ -x /usr/bin/time ]] || die 2 "/usr/bin/time is missing; run: make deps (Debian package time)"
mkdir -p "$DIR"

if [[ ! -s $CORPUS || $GEN -nt $CORPUS ]]; then
    say "generating $CORPUS ($MB MiB)..."
    "$GEN" "$MB" >"$CORPUS.tmp"
    mv "$CORPUS.tmp" "$CORPUS"
fi
BYTES=$(stat -c %s "$CORPUS")
CORES=$(nproc)
MODEL=$(grep -m 1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
MODEL=${MODEL:-unknown CPU}

# ---- correctness: all four must agree -----------------------------------

say "checking that all programs count the same words..."
for key in "${KEYS[@]}"; do
    run "$key" "$DIR/out-$key.txt" "$DIR/check-$key.log"
done
sqlite3 -separator ' ' "$STATE" 'select count, word from word_counts' | sort >"$DIR/counts-wcstream.txt"
sort "$DIR/out-mawk.txt" >"$DIR/counts-mawk.txt"
sed 's/^ *//' "$DIR/out-sortuniq.txt" | sort >"$DIR/counts-sortuniq.txt"
sort "$DIR/out-baseline.txt" >"$DIR/counts-baseline.txt"

read -r WORDS DISTINCT < <(totals "$DIR/counts-mawk.txt")
bad=0
for key in wcstream sortuniq baseline; do
    read -r t d < <(totals "$DIR/counts-$key.txt")
    if [[ $t != "$WORDS" || $d != "$DISTINCT" ]]; then
        say "${LABEL[$key]} counts $t words, $d distinct; mawk counts $WORDS, $DISTINCT"
        bad=1
    fi
    if ! cmp -s "$DIR/counts-mawk.txt" "$DIR/counts-$key.txt"; then
        say "${LABEL[$key]} disagrees with mawk on these (count word) lines (< mawk, > ${LABEL[$key]}):"
        diff "$DIR/counts-mawk.txt" "$DIR/counts-$key.txt" | head -n 20 >&2 || true
        bad=1
    fi
done
((bad == 0)) || die 1 "the programs disagree; no speed is reported"
((WORDS > 0)) || die 1 "the corpus has no words"
say "all agree: $(commas "$WORDS") words, $(commas "$DISTINCT") distinct"

# ---- timing ------------------------------------------------------------

declare -A BEST SECS RSS
WCS_BEST_RUN=1
for key in "${KEYS[@]}"; do
    BEST[$key]=""
    SECS[$key]=""
    RSS[$key]=0
done
for ((r = 1; r <= RUNS; r++)); do
    for key in "${KEYS[@]}"; do
        run "$key" /dev/null "$DIR/$key-run-$r.log" timed
        say "run $r/$RUNS: ${LABEL[$key]}: $RUN_S s"
        if [[ $key == wcstream ]]; then
            got=$(sqlite3 -separator ' ' "$STATE" 'select coalesce(sum(count), 0), count(*) from word_counts')
            [[ $got == "$WORDS $DISTINCT" ]] ||
                die 1 "timed wcstream run $r left '$got' (words distinct) in $STATE, expected '$WORDS $DISTINCT'"
        fi
        SECS[$key]+="${SECS[$key]:+, }$RUN_S"
        if [[ -z ${BEST[$key]} ]] || (($(calc '%d' 'a < b' "$RUN_S" "${BEST[$key]}"))); then
            BEST[$key]=$RUN_S
            if [[ $key == wcstream ]]; then
                WCS_BEST_RUN=$r
            fi
        fi
        if ((RUN_KB > RSS[$key])); then
            RSS[$key]=$RUN_KB
        fi
    done
done

# ---- report ------------------------------------------------------------

MBYTES=$(calc '%.1f' 'a / 1e6' "$BYTES")
echo "corpus: $MBYTES MB natural-like text, $(commas "$WORDS") words, $(commas "$DISTINCT") distinct ($CORPUS)"
echo "machine: $CORES cores, $MODEL"
echo "best of $RUNS runs (lowest wall time); MB = 10^6 bytes; peak RSS: largest over the runs"
echo "wcstream x: wcstream's throughput divided by the program's"
printf '%-24s %8s %8s %10s %13s %12s\n' program "best s" MB/s Mwords/s "peak RSS MB" "wcstream x"
declare -A MBPS MWPS RSSMB XW
for key in "${KEYS[@]}"; do
    s=${BEST[$key]}
    MBPS[$key]=$(calc '%.1f' 'a / b / 1e6' "$BYTES" "$s")
    MWPS[$key]=$(calc '%.2f' 'a / b / 1e6' "$WORDS" "$s")
    RSSMB[$key]=$(calc '%.1f' 'a * 1024 / 1e6' "${RSS[$key]}")
    XW[$key]=$(calc '%.2f' 'a / b' "$s" "${BEST[wcstream]}")
    printf '%-24s %8.3f %8s %10s %13s %11sx\n' "${LABEL[$key]}" "$s" "${MBPS[$key]}" \
        "${MWPS[$key]}" "${RSSMB[$key]}" "${XW[$key]}"
done
echo "(sort | uniq -c: peak RSS is the pipeline's largest process, sort; reading a pipe, GNU sort" \
    "sorts small runs and merges them through temporary files in ${TMPDIR:-/tmp})"
MET=$(calc '%d' 'a >= 4' "${XW[mawk]}")
echo "target wcstream >= 4x mawk: $( ((MET)) && echo met || echo NOT met) (${XW[mawk]}x; reported, not enforced)"
echo "wcstream / wc_baseline throughput: ${XW[baseline]}x"

# Where wcstream's time went, from the per-batch log lines of its best run.
LOG=$DIR/wcstream-run-$WCS_BEST_RUN.log
read -r NB BTOTAL TOK AGG COMMIT SINKS OTHER < <(awk '
    / batch [0-9]+: .*\(tokenize / {
        s = $0; sub(/.*; /, "", s); gsub(/[(),]/, "", s); split(s, f, " ")
        # f: total "ms" "tokenize" t "aggregate" a "commit" c "sinks" k
        n++; tot += f[1]; tok += f[4]; agg += f[6]; com += f[8]; snk += f[10]
    }
    END {
        printf "%d %.3f %.3f %.3f %.3f %.3f %.3f\n", n, tot / 1e3, tok / 1e3, agg / 1e3, com / 1e3,
            snk / 1e3, (tot - tok - agg - com - snk) / 1e3
    }
' "$LOG")
OUTSIDE=$(calc '%.3f' 'a - b' "${BEST[wcstream]}" "$BTOTAL")
echo "wcstream best run ($LOG): $NB batches, $BTOTAL s in batches: tokenize $TOK s, aggregate $AGG s," \
    "commit $COMMIT s, sinks $SINKS s, rest of batch (top-N, sort) $OTHER s;" \
    "outside batches (reading input, start, exit) $OUTSIDE s"

# ---- results.json ------------------------------------------------------

{
    printf '{\n'
    printf '  "corpus": {"path": %s, "bytes": %d, "mib": %d, "words": %d, "distinct": %d},\n' \
        "$(json_str "$CORPUS")" "$BYTES" "$MB" "$WORDS" "$DISTINCT"
    printf '  "machine": {"cores": %d, "model": %s},\n' "$CORES" "$(json_str "$MODEL")"
    printf '  "runs": %d,\n  "best": "lowest wall time of the runs",\n' "$RUNS"
    printf '  "units": {"mb": 1000000, "peak_rss_mb": "GNU time %%M * 1024 / 1e6, largest over the runs"},\n'
    printf '  "programs": [\n'
    sep=""
    for key in "${KEYS[@]}"; do
        set_cmd "$key"
        printf '%s    {"name": %s, "command": %s, "seconds": [%s], "best_s": %s, "mb_per_s": %s, ' \
            "$sep" "$(json_str "${LABEL[$key]}")" "$(json_str "${CMD[*]}")" "${SECS[$key]}" \
            "${BEST[$key]}" "${MBPS[$key]}"
        printf '"mwords_per_s": %s, "peak_rss_mb": %s, "wcstream_x": %s}' \
            "${MWPS[$key]}" "${RSSMB[$key]}" "${XW[$key]}"
        sep=$',\n'
    done
    printf '\n  ],\n'
    printf '  "wcstream_vs_mawk": %s, "target_vs_mawk": 4, "target_met": %s,\n' \
        "${XW[mawk]}" "$( ((MET)) && echo true || echo false)"
    printf '  "wcstream_vs_baseline": %s,\n' "${XW[baseline]}"
    printf '  "wcstream_batches": {"log": %s, "batches": %d, "batch_s": %s, "tokenize_s": %s, ' \
        "$(json_str "$LOG")" "$NB" "$BTOTAL" "$TOK"
    printf '"aggregate_s": %s, "commit_s": %s, "sinks_s": %s, "other_in_batch_s": %s, ' \
        "$AGG" "$COMMIT" "$SINKS" "$OTHER"
    printf '"outside_batches_s": %s}\n' "$OUTSIDE"
    printf '}\n'
} >"$DIR/results.json.tmp"
mv "$DIR/results.json.tmp" "$DIR/results.json"
say "figures written to $DIR/results.json"
