# A disk that fills: the state lives on a 2 MiB tmpfs. The batch that does
# not fit is rolled back and reported, and the service keeps retrying: once
# there is room again it goes on by itself. If it is stopped while the disk
# is full, it exits 1 with a clear sentence and the committed state is
# intact; a restart resumes from the committed offsets. Counts end exact.
. "$(dirname "$0")/lib.sh"

mkdir -p mnt mnt2 in
mount -t tmpfs -o size=2m tmpfs mnt 2>/dev/null || skip "cannot mount a tmpfs here (needs root)"
mount -t tmpfs -o size=2m tmpfs mnt2
trap 'cleanup; umount "$TEST_OUT/mnt" "$TEST_OUT/mnt2" 2>/dev/null || true' EXIT

$PY - <<'PY'
for f in range(8):
    with open("in/f%d.txt" % f, "w") as out:
        for i in range(40000):
            out.write("u%d_%d common\n" % (f, i))
PY

# Room again while it retries: it recovers by itself.
start_wcs --source "file://$TEST_OUT/in" --trigger 50ms --max-bytes-per-trigger 64KiB \
    --state mnt2/s.db
wait_for err.txt "not committed: database or disk is full" 60
mount -o remount,size=256m mnt2
wait_total mnt2/s.db "$(count_words in/*.txt)" 60
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC after recovering"
check_counts mnt2/s.db in/*.txt

# Stopped while the disk is full.
start_wcs --source "file://$TEST_OUT/in" --trigger 50ms --max-bytes-per-trigger 64KiB \
    --state mnt/s.db
wait_for err.txt "not committed: database or disk is full; the state still holds batch" 60
wait_for err.txt "retrying in 200 ms" 10
kill -0 "$WCS_PID" || fail "died on a full disk"
committed=$(sql mnt/s.db "select max(batch_id) from batches")
log "disk full after batch $committed"
stop_wcs
[ "$WCS_RC" = 1 ] || fail "SIGTERM with an uncommittable batch: exit $WCS_RC, want 1"
grep -q "wcstream: state: batch $((committed + 1)) not committed" err.txt || fail "no final sentence"
[ "$(sql mnt/s.db 'pragma integrity_check')" = ok ] || fail "state corrupted"
[ "$(sql mnt/s.db 'select max(batch_id) from batches')" = "$committed" ] || fail "half a batch"
# What is committed is consistent: counts equal the committed batches' totals.
[ "$(sql mnt/s.db 'select sum(count) from word_counts')" = \
  "$(sql mnt/s.db 'select total_words from batches order by batch_id desc limit 1')" ] ||
    fail "counts and batch totals disagree"

mount -o remount,size=256m mnt
"$WCSTREAM" --source "file://$TEST_OUT/in" --trigger available-now --state mnt/s.db \
    >/dev/null 2>err.txt || fail "resume after freeing space: exit $?"
check_counts mnt/s.db in/*.txt
echo ok
