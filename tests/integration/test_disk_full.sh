# A disk that fills: the state lives on a 2 MiB tmpfs. The batch that does
# not fit is rolled back and reported, and the service keeps retrying: once
# there is room again it goes on by itself. If it is stopped while the disk
# is full, it exits 1 with a clear sentence and the committed state is
# intact; a restart resumes from the committed offsets. Counts end exact.
. "$(dirname "$0")/lib.sh"

mkdir -p mnt mnt2 mnt3 in
mount -t tmpfs -o size=2m tmpfs mnt 2>/dev/null || skip "cannot mount a tmpfs here (needs root)"
mount -t tmpfs -o size=2m tmpfs mnt2
mount -t tmpfs -o size=1m tmpfs mnt3
trap 'cleanup; umount "$TEST_OUT/mnt" "$TEST_OUT/mnt2" "$TEST_OUT/mnt3" 2>/dev/null || true' EXIT

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
# The checkpointer frees room as it empties the WAL, so a batch that did not
# fit may fit on a retry. Even with the disk filled to the last byte a retry
# may still succeed (once seen: the one the stop cut the wait of short), so
# the last batch committed is read from the log once the process is gone:
# each batch's line follows its commit.
cat /dev/zero >mnt/fill 2>/dev/null || true
for _ in 1 2; do
    wait_for err.txt "not committed: database or disk is full" 30 "$(($(wc -l <err.txt) + 1))"
done
kill -0 "$WCS_PID" || fail "died on a full disk"
stop_wcs
committed=$(sed -n 's/.* INFO  batch \([0-9]*\): .*/\1/p' err.txt | tail -n 1)
log "disk full after batch $committed"
[ "$WCS_RC" = 1 ] || fail "SIGTERM with an uncommittable batch: exit $WCS_RC, want 1"
grep -q "wcstream: state: batch $((committed + 1)) not committed" err.txt || fail "no final sentence"
[ "$(sql mnt/s.db 'pragma integrity_check')" = ok ] || fail "state corrupted"
[ "$(sql mnt/s.db 'select max(batch_id) from batches')" = "$committed" ] || fail "half a batch"
# What is committed is consistent: counts equal the committed batches' totals.
[ "$(sql mnt/s.db 'select sum(count) from word_counts')" = \
  "$(sql mnt/s.db 'select total_words from batches order by batch_id desc limit 1')" ] ||
    fail "counts and batch totals disagree"

mount -o remount,size=256m mnt
rm mnt/fill
"$WCSTREAM" --source "file://$TEST_OUT/in" --trigger available-now --state mnt/s.db \
    >/dev/null 2>err.txt || fail "resume after freeing space: exit $?"
check_counts mnt/s.db in/*.txt

# The jsonl sink and the progress log on a disk that fills: a record that
# does not fit is left out whole (warned), never half written, so every
# line of both files is a whole JSON object once there is room again.
mkdir -p jin && head -c 400 in/f0.txt >jin/a.txt
start_wcs --source "file://$TEST_OUT/jin" --trigger 50ms --max-bytes-per-trigger 64KiB \
    --state j.db --sink "jsonl://$TEST_OUT/mnt3/out.jsonl?topN=50" --progress-log mnt3/p.jsonl
wait_total j.db "$(count_words jin/*.txt)" 20
cat /dev/zero >mnt3/fill 2>/dev/null || true # the disk is full
cp in/f0.txt in/f1.txt jin/
wait_for err.txt "sink jsonl://.*cannot write batch .*No space left on device" 60
wait_for err.txt "progress log mnt3/p.jsonl: batch .* not written: No space left on device" 60
wait_total j.db "$(count_words jin/*.txt)" 60
rm mnt3/fill
cp in/f2.txt jin/
wait_total j.db "$(count_words jin/*.txt)" 60
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC with the jsonl disk full"
grep -q "progress log mnt3/p.jsonl: written again" err.txt || fail "no word of the log's return"
$PY - "$(sql j.db 'select max(batch_id) from batches')" <<'PY' || fail "a torn record"
import json, sys
last = int(sys.argv[1])
for name in ("mnt3/out.jsonl", "mnt3/p.jsonl"):
    ids = [json.loads(line)["batchId"] for line in open(name)]
    assert ids == sorted(ids) and ids[-1] == last and len(ids) < last + 1, (name, len(ids), last)
PY

# A file system mounted read-only: said as such, the state untouched.
mount -o remount,ro mnt
for state in mnt/s.db mnt/new.db; do
    rc=0
    "$WCSTREAM" --source stdin --trigger available-now --state "$state" <<<"a" >/dev/null \
        2>err.txt || rc=$?
    [ "$rc" = 1 ] && grep -q "state $state: Read-only file system" err.txt ||
        fail "$state on a read-only file system: $rc $(cat err.txt)"
done
check_counts mnt/s.db in/*.txt
echo ok
