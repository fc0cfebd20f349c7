#!/usr/bin/env bash
# tests/fuzz/run.sh - replay and run the libFuzzer targets (build/fuzz/fuzz_*).
#
# For every target: replay tests/fuzz/regress/NAME/ (inputs that once
# crashed) and tests/fuzz/corpus/NAME/, then fuzz for SECONDS starting from
# both. New inputs go to a scratch directory, so the committed corpus stays
# as it is; with --grow (make fuzz) they are added to tests/fuzz/corpus/NAME/.
# A crash is written to tests/fuzz/crashes/ and printed, and the script exits
# non-zero. Up to FUZZ_JOBS targets (default 2) run at once.
#
#   tests/fuzz/run.sh [--grow] [SECONDS] [NAME...]     default 20 s, every target
#
# Build the fuzzers first: make fuzz-build.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

grow=0
if [ "${1:-}" = --grow ]; then
    grow=1
    shift
fi
secs=${1:-20}
shift || true
jobs=${FUZZ_JOBS:-2}
bin=build/fuzz
dir=tests/fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$dir"/fuzz_*.c; do
        n=$(basename "$f" .c)
        targets+=("${n#fuzz_}")
    done
fi

# Per-target libFuzzer options: input size bounds keep each run fast; a
# tests/fuzz/NAME.dict is its dictionary.
options() {
    case $1 in
    state) echo "-max_len=12288 -timeout=10" ;;
    tokenize) echo "-max_len=8192 -timeout=10" ;;
    framer) echo "-max_len=4096 -timeout=10" ;;
    *) echo "-max_len=2048 -timeout=10" ;;
    esac
    [ -f "$dir/$1.dict" ] && echo "-dict=$dir/$1.dict"
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p "$dir/crashes"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/wcs-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The targets' own scratch files (state databases, a dashboard directory)
# go here too, so a crash leaves nothing behind.
mkdir -p "$scratch/tmp"
export TMPDIR=$scratch/tmp

# run NAME: replay, then fuzz; output in $scratch/NAME.log. 0 when clean.
run() {
    local n=$1 exe=$bin/fuzz_$1 log=$scratch/$1.log
    local corpus=$dir/corpus/$n regress=$dir/regress/$n new=$scratch/new-$n
    local opts
    read -r -a opts <<<"$(options "$n" | tr '\n' ' ')"
    [ -x "$exe" ] || {
        echo "$exe is missing: run make fuzz-build" >"$log"
        return 1
    }
    mkdir -p "$corpus" "$new"
    local files=()
    while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$regress" "$corpus" -type f \
        -print0 2>/dev/null | sort -z)
    if [ ${#files[@]} -gt 0 ] && ! "$exe" "${opts[@]}" "${files[@]}" >"$log" 2>&1; then
        echo "replaying the corpus and regression inputs crashed" >>"$log"
        return 1
    fi
    local dirs=("$new" "$corpus")
    [ $grow = 1 ] && dirs=("$corpus")
    [ -d "$regress" ] && dirs+=("$regress")
    "$exe" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$dir/crashes/$n-" "${dirs[@]}" >>"$log" 2>&1
}

# summary NAME RC: one line, and the crash when there is one.
summary() {
    local n=$1 rc=$2 log=$scratch/$1.log
    local execs
    execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then
        printf '  pass  fuzz_%-10s %8s runs in %ss\n' "$n" "${execs:-?}" "$secs"
        return 0
    fi
    printf '  FAIL  fuzz_%-10s (exit %s)\n' "$n" "$rc"
    grep -E 'ERROR|property failed|runtime error|SUMMARY|crashed|missing' "$log" |
        head -n 20 | sed 's/^/        /'
    grep -A 30 -E '^==[0-9]+==ERROR: [A-Z]' "$log" | head -n 40 | sed 's/^/        /'
    # The input: the artifact libFuzzer wrote, or the file being replayed.
    local crash
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    [ -z "$crash" ] && crash=$(sed -n 's/^Running: \(.*\)$/\1/p' "$log" | tail -n 1)
    [ -n "$crash" ] && echo "        crash input: $crash"
    return 1
}

echo "== fuzz (${#targets[@]} targets, ${secs}s each, $jobs at a time)"
fail=0
pids=()
names=()
for n in "${targets[@]}"; do
    run "$n" &
    pids+=($!)
    names+=("$n")
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}"
        summary "${names[0]}" $? || fail=1
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    summary "${names[$i]}" $? || fail=1
done
exit $fail
