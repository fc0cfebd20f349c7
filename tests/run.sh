#!/usr/bin/env bash
# tests/run.sh - everything `make test` runs, with one summary line.
#
# Once: static analysis (make lint), the release unit tests under valgrind
# memcheck (tests/valgrind.sh), every fuzzer's corpus replayed and each run
# for FUZZ_CHECK_SECONDS (tests/fuzz/run.sh). Then for each build (build/
# release, build/asan/ AddressSanitizer + UndefinedBehaviorSanitizer): the
# Criterion unit tests, then every tests/integration/test_*.sh against that
# build's binary, TEST_JOBS (default 2) at a time, each reported as it
# ends. A test script passes with exit 0, is skipped with exit 77 (it says
# why), fails otherwise. Output of each goes to
# tests/out/<build>/<name>.log (tests/out/<name>.log for the first three).
# Ends with "N passed, N failed, N skipped".
#
#   tests/run.sh                 all of it
#   TESTS=socket tests/run.sh    only integration scripts whose name matches
#   BUILDS=build tests/run.sh    only the release build (and no lint,
#                                valgrind or fuzz when TESTS is set)
set -uo pipefail
cd "$(dirname "$0")/.."

builds=${BUILDS:-"build build/asan"}
filter=${TESTS:-}
pass=0 fail=0 skip=0
failed=()

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# stage NAME CMD...: run once, output to tests/out/NAME.log.
stage() {
    local name=$1 start secs
    shift
    mkdir -p tests/out
    echo "== $name"
    start=$(date +%s)
    if "$@" >"tests/out/$name.log" 2>&1; then
        pass=$((pass + 1))
        secs=$(($(date +%s) - start))
        printf '  pass  %-32s %3ss\n' "$name" "$secs"
    else
        fail=$((fail + 1))
        failed+=("$name")
        printf '  FAIL  %-32s\n' "$name"
        sed 's/^/        /' "tests/out/$name.log" | tail -n 40
    fi
}

# integration BUILD OUT SCRIPT: run one integration script against BUILD's
# binary; prints its line when it ends and leaves its exit status in
# OUT/NAME.rc for the count.
integration() {
    local b=$1 out=$2 t=$3 tn start rc secs
    tn=$(basename "$t" .sh)
    start=$(date +%s)
    WCSTREAM="$PWD/$b/wcstream" TEST_OUT="$PWD/$out/$tn" timeout 600 bash "$t" >"$out/$tn.log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    echo "$rc" >"$out/$tn.rc"
    if [ $rc -eq 0 ]; then
        printf '  pass  %-32s %3ss\n' "$tn" "$secs"
    elif [ $rc -eq 77 ]; then
        printf '  skip  %-32s %s\n' "$tn" "$(tail -n 1 "$out/$tn.log")"
    else
        # One write, so that a script ending meanwhile cannot cut into it.
        printf '  FAIL  %-32s %3ss (exit %s)\n%s\n' "$tn" "$secs" "$rc" \
            "$(sed 's/^/        /' "$out/$tn.log" | tail -n 25)"
    fi
}

# The integration scripts run TEST_JOBS (default 2) at a time. The Kafka
# ones go first: they are the longest, and most of their time is spent
# waiting on the broker's timers (sessions, rebalances, outages).
test_jobs=${TEST_JOBS:-2}
scripts=(tests/integration/test_kafka*.sh)
for t in tests/integration/test_*.sh; do
    [[ "$t" == */test_kafka* ]] || scripts+=("$t")
done

if [ -z "$filter" ]; then
    stage lint make -s lint
    stage valgrind tests/valgrind.sh build/unit_tests
    stage fuzz tests/fuzz/run.sh "${FUZZ_CHECK_SECONDS:-20}"
fi

for b in $builds; do
    name=$(basename "$b")
    [ "$b" = build ] && name=release
    out=tests/out/$name
    rm -rf "$out" && mkdir -p "$out"

    if [ -z "$filter" ]; then
        echo "== unit tests ($name)"
        if "$b/unit_tests" --jobs 2 >"$out/unit.log" 2>&1; then
            pass=$((pass + 1))
            tail -n 1 "$out/unit.log"
        else
            fail=$((fail + 1))
            failed+=("unit ($name)")
            tail -n 30 "$out/unit.log"
        fi
    fi

    echo "== integration tests ($name)"
    ran=()
    for t in "${scripts[@]}"; do
        tn=$(basename "$t" .sh)
        [ -n "$filter" ] && [[ "$tn" != *$filter* ]] && continue
        while [ "$(jobs -rp | wc -l)" -ge "$test_jobs" ]; do
            wait -n
        done
        integration "$b" "$out" "$t" &
        ran+=("$tn")
    done
    wait
    for tn in "${ran[@]}"; do
        rc=$(cat "$out/$tn.rc" 2>/dev/null) || rc=1 # no status: the runner failed
        if [ "$rc" -eq 0 ]; then
            pass=$((pass + 1))
        elif [ "$rc" -eq 77 ]; then
            skip=$((skip + 1))
        else
            fail=$((fail + 1))
            failed+=("$tn ($name)")
        fi
    done
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
