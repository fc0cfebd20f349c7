# file:// sources: a file, a directory read in name order, new files and
# appended bytes picked up while running, restarts that resume exactly at
# the committed offsets, and kill -9 at random moments losing and doubling
# nothing (the offsets commit in the same transaction as the counts).
. "$(dirname "$0")/lib.sh"

mkdir -p in
make_text 50000 1 >in/a.txt
make_text 50000 2 >in/b.txt
printf 'ignored by name\n' >in/.hidden
printf 'ignored too\n' >in/_tmp

"$WCSTREAM" --source "file://$TEST_OUT/in" --trigger available-now --state s.db \
    >out.txt 2>err.txt || fail "exit $?"
check_counts s.db in/a.txt in/b.txt
[ "$(sql s.db "select count(*) from offsets")" = 2 ] || fail "offsets not stored"

# A restart reads only what is new: an appended tail and a new file.
make_text 20000 3 >>in/a.txt
make_text 20000 4 >in/c.txt
"$WCSTREAM" --source "file://$TEST_OUT/in" --trigger available-now --state s.db \
    >out.txt 2>err.txt || fail "exit $?"
check_counts s.db in/a.txt in/b.txt in/c.txt
[ "$(sql s.db "select min(batch_id) from batches")" = 0 ] || fail "batch ids restarted"

# While running: a new file renamed into the watched directory.
start_wcs --source "file://$TEST_OUT/in" --trigger 100ms --state s.db
make_text 30000 5 >d.tmp && mv d.tmp in/d.txt
wait_total s.db "$(count_words in/a.txt in/b.txt in/c.txt in/d.txt)" 20
stop_wcs
check_counts s.db in/a.txt in/b.txt in/c.txt in/d.txt

# One file, named directly, last line without a newline.
printf 'one two\ntwo three' >single.txt
"$WCSTREAM" --source "file://$TEST_OUT/single.txt" --trigger available-now --state one.db \
    >/dev/null 2>&1 || fail "single file exit $?"
check_counts one.db single.txt

# kill -9 at random moments, restart with the same state: exact counts.
mkdir -p big
for i in $(seq 1 12); do make_text 400000 "$((i + 10))" >big/f$(printf %02d "$i").txt; done
for k in $(seq 1 8); do
    start_wcs --source "file://$TEST_OUT/big" --trigger 0 --max-bytes-per-trigger 16KiB \
        --state crash.db
    sleep "0.$((RANDOM % 5 + 1))"
    kill -9 "$WCS_PID"
    wait "$WCS_PID" 2>/dev/null || true
    WCS_PID=
    log "kill $k at batch $(sql crash.db 'select max(batch_id) from batches')"
done
"$WCSTREAM" --source "file://$TEST_OUT/big" --trigger available-now --state crash.db \
    --max-bytes-per-trigger 16KiB >/dev/null 2>err.txt || fail "final run exit $?"
check_counts crash.db big/*.txt
[ "$(sql crash.db 'pragma integrity_check')" = ok ] || fail "integrity check"

# A path that does not exist is a clear error.
"$WCSTREAM" --source "file://$TEST_OUT/nope" --state x.db >/dev/null 2>err.txt && fail "missing path accepted"
grep -q "cannot read .*nope: No such file or directory" err.txt || fail "unclear error: $(cat err.txt)"
echo ok
