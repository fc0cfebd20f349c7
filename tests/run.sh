#!/usr/bin/env bash
# tests/run.sh - everything `make test` runs, with one summary line.
#
# For each build (build/ release, build/asan/ AddressSanitizer +
# UndefinedBehaviorSanitizer): the Criterion unit tests, then every
# tests/integration/test_*.sh against that build's binary. A test script
# passes with exit 0, is skipped with exit 77 (it says why), fails
# otherwise. Output of each script goes to tests/out/<build>/<name>.log.
# Ends with "N passed, N failed, N skipped".
#
#   tests/run.sh                 all of it
#   TESTS=socket tests/run.sh    only integration scripts whose name matches
#   BUILDS=build tests/run.sh    only the release build
set -uo pipefail
cd "$(dirname "$0")/.."

builds=${BUILDS:-"build build/asan"}
filter=${TESTS:-}
pass=0 fail=0 skip=0
failed=()

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

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
    for t in tests/integration/test_*.sh; do
        tn=$(basename "$t" .sh)
        [ -n "$filter" ] && [[ "$tn" != *$filter* ]] && continue
        start=$(date +%s)
        WCSTREAM="$PWD/$b/wcstream" TEST_OUT="$PWD/$out/$tn" timeout 600 bash "$t" >"$out/$tn.log" 2>&1
        rc=$?
        secs=$(($(date +%s) - start))
        if [ $rc -eq 0 ]; then
            pass=$((pass + 1))
            printf '  pass  %-32s %3ss\n' "$tn" "$secs"
        elif [ $rc -eq 77 ]; then
            skip=$((skip + 1))
            printf '  skip  %-32s %s\n' "$tn" "$(tail -n 1 "$out/$tn.log")"
        else
            fail=$((fail + 1))
            failed+=("$tn ($name)")
            printf '  FAIL  %-32s %3ss (exit %s)\n' "$tn" "$secs" "$rc"
            sed 's/^/        /' "$out/$tn.log" | tail -n 25
        fi
    done
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
