#!/usr/bin/env bash
# tests/valgrind.sh - the unit tests once under valgrind memcheck: no
# invalid access, no uninitialised value, no definite or indirect leak.
#
#   tests/valgrind.sh BUILD/unit_tests
#
# Criterion runs every test in a child process, so valgrind follows the
# children and each writes its own summary; any error in any of them
# fails the run. Criterion's runner and valgrind's children do not get
# along with --jobs above 1, so two runners take half the suites each.
# Left out, and covered by the ASan+UBSan build instead: the regex
# tokenizer tests (PCRE2's JIT code is opaque to memcheck and reads as
# uninitialised) and the fault-injection loops (oom/, vfs/: a thousand
# engine runs and commits, minutes under valgrind).
set -uo pipefail
bin=${1:?usage: tests/valgrind.sh BUILD/unit_tests}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

run() {
    valgrind -q --trace-children=yes --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect "$bin" --jobs 1 --filter "$2" >"$dir/$1.log" 2>&1
}
run a '[a-m]*/*' &
run b '!([a-m]*|tokenize/*regex*|oom/*|vfs/*)' &
wait

rc=0
for half in a b; do
    log=$dir/$half.log
    synthesis=$(grep -a 'Synthesis:' "$log" | tail -n 1)
    errors=$(grep -acE '== ERROR SUMMARY: [1-9]' "$log")
    echo "$synthesis; processes with memcheck errors: $errors"
    if [ "$errors" -ne 0 ] || ! grep -qE 'Failing: 0 \| Crashing: 0' <<<"$synthesis"; then
        grep -aE '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ bytes in)' \
            -A 14 "$log" | head -n 120
        grep -aE '^\[(FAIL|----)\]' "$log" | head -n 40
        rc=1
    fi
done
exit $rc
