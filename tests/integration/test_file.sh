# file:// sources: a file, a directory read in name order, new files and
# appended bytes picked up while running, restarts that resume exactly at
# the committed offsets, a stop that leaves the rest to the next run, and
# kill -9 at 40 random moments losing and doubling nothing (the offsets
# commit in the same transaction as the counts); a watched directory that
# goes away and comes back.
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

# A batch of many files, pulled in 1 MiB chunks: its progress record names
# each file once, from where the batch began it to where it ended it.
mkdir -p many
for i in $(seq -w 1 12); do make_text 200000 "$i" >"many/f$i.txt"; done
"$WCSTREAM" --source "file://$TEST_OUT/many" --trigger available-now --state many.db \
    --progress-log many.jsonl >/dev/null 2>err.txt || fail "exit $?"
check_counts many.db many/*.txt
$PY - "$TEST_OUT/many" <<'PY' || fail "the progress record's offsets of 12 files"
import json, os, sys
d = sys.argv[1]
p = [json.loads(line) for line in open("many.jsonl")]
assert len(p) == 1, len(p)
src = p[0]["sources"][0]
names = {os.path.join(d, f): os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)}
assert sum(names.values()) > 2 << 20, "fewer than three chunks"
assert src["startOffset"] == {n: 0 for n in names}, src["startOffset"]
assert src["endOffset"] == names, src["endOffset"]
PY

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

# A stop reads no more from files: what was appended waits for the next
# run, which reads on from the committed offsets. (e0.txt makes the first
# trigger's batch, so e.txt comes after that trigger, not before.)
make_text 1000 7 >in/e0.txt
start_wcs --source "file://$TEST_OUT/in" --trigger 1h --state s.db
wait_for err.txt "INFO  batch [0-9]+:" 10
last=$(sql s.db "select max(batch_id) from batches")
make_text 1000 6 >in/e.txt
sleep 0.5
stop_wcs
[ "$WCS_RC" = 0 ] || fail "SIGTERM exit status $WCS_RC"
[ "$(sql s.db "select max(batch_id) from batches")" = "$last" ] || fail "a stop read a file on"
"$WCSTREAM" --source "file://$TEST_OUT/in" --trigger available-now --state s.db \
    >out.txt 2>err.txt || fail "exit $?"
check_counts s.db in/a.txt in/b.txt in/c.txt in/d.txt in/e0.txt in/e.txt

# One file, named directly, last line without a newline.
printf 'one two\ntwo three' >single.txt
"$WCSTREAM" --source "file://$TEST_OUT/single.txt" --trigger available-now --state one.db \
    >/dev/null 2>&1 || fail "single file exit $?"
check_counts one.db single.txt

# The offsets belong to the path, not to how the URI spells it: a restart
# naming the directory with a trailing slash, an upper-case scheme or a
# percent-escape reads nothing again. So does one with the spelling a
# version that kept the offsets under the URI as given was run with.
mkdir -p sp
make_text 2000 41 >sp/a.txt
"$WCSTREAM" --source "file://$TEST_OUT/sp" --trigger available-now --state sp.db \
    >/dev/null 2>err.txt || fail "spelling: exit $?: $(cat err.txt)"
for u in "file://$TEST_OUT/sp/" "FILE://$TEST_OUT/sp//" "file://$TEST_OUT/%73p"; do
    "$WCSTREAM" --source "$u" --trigger available-now --state sp.db >/dev/null 2>err.txt ||
        fail "$u: exit $?: $(cat err.txt)"
done
check_counts sp.db sp/a.txt
sqlite3 sp.db "update offsets set source = 'file://$TEST_OUT/sp/'"
make_text 2000 42 >sp/b.txt
"$WCSTREAM" --source "file://$TEST_OUT/sp/" --trigger available-now --state sp.db \
    >/dev/null 2>err.txt || fail "older spelling: exit $?: $(cat err.txt)"
check_counts sp.db sp/a.txt sp/b.txt
[ "$(sql sp.db "select count(*) from offsets where source <> 'file://$TEST_OUT/sp'")" = 0 ] ||
    fail "offsets left under the older key: $(sql sp.db 'select * from offsets')"
"$WCSTREAM" --source "file://$TEST_OUT/sp" --trigger available-now --state sp.db \
    >/dev/null 2>err.txt || fail "after the move: exit $?: $(cat err.txt)"
check_counts sp.db sp/a.txt sp/b.txt

# kill -9 at random moments, 40 times, restarting with the same state:
# exact counts. Each kill waits for a random number of new commits first,
# so every one of them lands while the files are still being read. An
# 8 KiB batch commits in about a millisecond and the poll sees it within a
# few, so a few hundred of the 38 MB's ~4,700 batches are read before the
# last kill. With test_kafka.sh's 10, that is 50 crashes per build.
mkdir -p big
for i in $(seq 1 96); do make_text 400000 "$((i + 10))" >big/f$(printf %02d "$i").txt; done
crash_loop crash.db 40 8 --source "file://$TEST_OUT/big" --trigger 0 --max-bytes-per-trigger 8KiB
"$WCSTREAM" --source "file://$TEST_OUT/big" --trigger available-now --state crash.db \
    --max-bytes-per-trigger 8KiB >/dev/null 2>err.txt || fail "final run exit $?"
[ "$(sql crash.db 'select max(batch_id) from batches')" -gt "$LAST_BATCH" ] ||
    fail "the kills came too late to test anything"
check_counts crash.db big/*.txt
[ "$(sql crash.db 'pragma integrity_check')" = ok ] || fail "integrity check"

# Watching: bytes appended to a file are not split at its old end, and a
# file deleted while the framer holds its partial line does not glue that
# line to the next file's bytes.
mkdir -p w
printf 'hel' >w/a.txt
start_wcs --source "file://$TEST_OUT/w" --trigger 100ms --state w.db --max-bytes-per-trigger 1KiB
sleep 0.3
printf 'lo world\n' >>w/a.txt
wait_total w.db 2 10
[ "$(sql w.db "select count from word_counts where word = 'hello'")" = 1 ] ||
    fail "an append was split: $(sql w.db 'select * from word_counts')"
stop_wcs
mkdir -p d
$PY -c 'import sys; sys.stdout.write("short line\n" * 100 + "y" * 3000)' >d/a.txt
start_wcs --source "file://$TEST_OUT/d" --trigger 2s --state d.db --max-bytes-per-trigger 1KiB
wait_total d.db 200 10
rm d/a.txt
printf 'bee one\nbee two\n' >d/b.txt
for _ in $(seq 1 100); do
    [ "$(sql d.db "select count from word_counts where word = 'bee'")" = 2 ] && break
    sleep 0.1
done
stop_wcs
[ "$(sql d.db "select count from word_counts where word = 'bee'")" = 2 ] || fail "b.txt lost"
[ "$(sql d.db "select count(*) from word_counts where word like 'y%' and word like '%bee%'")" = 0 ] ||
    fail "a deleted file's partial line was glued to the next file"

# A file whose last line is still being written (changed in the last
# second) holds up no other file; the line counts once it settles.
mkdir -p nb
printf 'bword\n' >nb/b.txt
printf 'x\ny' >nb/a.txt
start_wcs --source "file://$TEST_OUT/nb" --trigger 100ms --state nb.db
for i in $(seq 25); do
    printf 'x\ny' >>nb/a.txt
    sleep 0.2
done &
writer=$!
for i in $(seq 60); do
    [ "$(sql nb.db "select count(*) from word_counts where word = 'bword'" 2>/dev/null)" = 1 ] && break
    sleep 0.05
done
kill -0 "$writer" 2>/dev/null || fail "setup: the writer ended before b.txt was counted"
[ "$(sql nb.db "select count(*) from word_counts where word = 'bword'")" = 1 ] ||
    fail "a file whose last line was being written held up the others"
wait "$writer"
wait_total nb.db 28 10 # x, yx x 25, y, bword
stop_wcs
[ "$(sql nb.db "select group_concat(word || ':' || count, ' ') from word_counts order by word")" = \
    "bword:1 x:1 y:1 yx:25" ] || fail "watched lines: $(sql nb.db 'select * from word_counts')"

# A file stamped an hour ahead (clock skew, an unpacked archive) has its
# last line counted too: its time cannot tell whether it is still written.
# So has one stamped in the year 5138 (its age in ns is past 2^63) and,
# for the past side, one in 1901.
mkdir -p fut
printf 'aa bb\ncc' >fut/a.txt
printf 'dd\nee' >fut/b.txt
printf 'ff\ngg' >fut/c.txt
touch -d '+1 hour' fut/a.txt
touch -d @99999999999 fut/b.txt
touch -d @-2147483648 fut/c.txt
start_wcs --source "file://$TEST_OUT/fut" --trigger 100ms --state fut.db
wait_total fut.db 7 10
stop_wcs

# A file renamed away and back while its last line waits is counted once.
mkdir -p mv
printf 'xx yy' >mv/a.txt
start_wcs --source "file://$TEST_OUT/mv" --trigger 200ms --state mv.db
sleep 0.3
mv mv/a.txt mv/.a.txt
sleep 0.6
mv mv/.a.txt mv/a.txt
wait_total mv.db 2 10
sleep 0.5
stop_wcs
[ "$(sql mv.db "select count from word_counts where word = 'xx'")" = 1 ] ||
    fail "a line counted twice: $(sql mv.db 'select * from word_counts')"

# A file shorter than what was read of it (truncated, or replaced) is read
# again from its start, and the log says so.
printf 'hello world\n' >short.txt
"$WCSTREAM" --source "file://$TEST_OUT/short.txt" --trigger available-now --state t.db \
    >/dev/null 2>&1 || fail "short exit $?"
printf 'bye\n' >short.txt
"$WCSTREAM" --source "file://$TEST_OUT/short.txt" --trigger available-now --state t.db \
    >/dev/null 2>err.txt || fail "truncated exit $?"
grep -q "short.txt is shorter than the 12 bytes read of it" err.txt || fail "no warning: $(cat err.txt)"
[ "$(sql t.db "select count from word_counts where word = 'bye'")" = 1 ] ||
    fail "the truncated file was not read again: $(sql t.db 'select * from word_counts')"

# A file's name is the directory writer's to choose, the log is not: its
# control characters show escaped, so that no name can drive the terminal
# (an ESC sequence) or forge a log line (a newline).
mkdir -p esc
evil="$(printf 'e\033[31mred\nFAKE\377')"
printf 'hello world\n' >"esc/$evil"
"$WCSTREAM" --source "file://$TEST_OUT/esc" --trigger available-now --state esc.db \
    >/dev/null 2>&1 || fail "esc exit $?"
printf 'bye\n' >"esc/$evil"
"$WCSTREAM" --source "file://$TEST_OUT/esc" --trigger available-now --state esc.db \
    >/dev/null 2>err.txt || fail "esc truncated exit $?"
grep -qF 'e\x1b[31mred\nFAKE\xff is shorter than' err.txt || fail "name not escaped: $(cat -A err.txt)"
! LC_ALL=C grep -q "$(printf '\033')" err.txt || fail "an ESC in the log: $(cat -A err.txt)"
! grep -qv '^[0-9]\{4\}-' err.txt || fail "a forged log line: $(cat -A err.txt)"
# The same for the sentence of a run that ends on it (exit 1).
rm "esc/$evil" && mkdir "esc/$evil"
"$WCSTREAM" --source "file://$TEST_OUT/esc" --trigger available-now --state esc.db \
    >/dev/null 2>err.txt && fail "a directory in a file's place: exit 0"
grep -qF 'e\x1b[31mred\nFAKE\xff: not a regular file' err.txt || fail "name not escaped: $(cat -A err.txt)"
! LC_ALL=C grep -q "$(printf '\033')" err.txt || fail "an ESC in the error: $(cat -A err.txt)"

# A watched directory that goes away is waited for: the query goes on, and
# reads the directory's files again once it is back.
mkdir -p vanish
printf 'alpha beta\n' >vanish/1.txt
start_wcs --source "file://$TEST_OUT/vanish" --trigger 100ms --state vanish.db
wait_total vanish.db 2 20
rm -rf vanish
wait_for "$TEST_OUT/err.txt" "cannot read directory .*vanish: it is gone; waiting for it" 20
sleep 0.3
mkdir -p vanish.tmp && printf 'gamma\n' >vanish.tmp/2.txt && mv vanish.tmp vanish
wait_total vanish.db 3 20
stop_wcs
[ "$WCS_RC" = 0 ] || fail "vanished directory: exit $WCS_RC: $(cat err.txt)"
grep -q "directory .*vanish can be read again" err.txt || fail "no word of the directory's return"

# A watched file that cannot be read is skipped with a warning while the
# others are read, and counted once it can be: a FIFO in a read file's
# place (which must not block the open), and, as an unprivileged user, a
# file without read permission.
mkdir -p odd
printf 'one\n' >odd/1.txt
start_wcs --source "file://$TEST_OUT/odd" --trigger 100ms --state odd.db
wait_total odd.db 1 20
rm odd/1.txt && mkfifo odd/1.txt
printf 'two\n' >odd/2.txt
wait_total odd.db 2 20
grep -q "cannot read .*odd/1.txt: not a regular file; skipping it for now" err.txt ||
    fail "no warning for the FIFO: $(cat err.txt)"
rm odd/1.txt && printf 'one three\n' >odd/1.txt # read on from its offset, 4
wait_total odd.db 3 20
stop_wcs
[ "$(sql odd.db "select count from word_counts where word = 'three'")" = 1 ] ||
    fail "the file was not read again: $(sql odd.db 'select * from word_counts')"
[ "$WCS_RC" = 0 ] || fail "odd files: exit $WCS_RC"
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    mkdir -p perm && chmod 777 perm "$TEST_OUT"
    printf 'alpha\n' >perm/1.txt
    printf 'beta\n' >perm/2.txt && chmod 600 perm/2.txt
    : >err.txt
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$WCSTREAM" \
        --source "file://$TEST_OUT/perm" --trigger 100ms --state "$TEST_OUT/perm/_s.db" \
        >/dev/null 2>err.txt &
    WCS_PID=$!
    wait_total perm/_s.db 1 20
    wait_for err.txt "cannot read .*perm/2.txt: Permission denied; skipping it for now" 10
    chmod 644 perm/2.txt
    wait_total perm/_s.db 2 20
    stop_wcs
    [ "$WCS_RC" = 0 ] || fail "an unreadable file: exit $WCS_RC: $(cat err.txt)"
    grep -q "perm/2.txt can be read again" err.txt || fail "no word of the file's return"
fi

# The service's own files in the watched directory (the state and
# SQLite's files beside it, the progress log, a jsonl sink's file, each
# named by another path than the source's) are never read back as input,
# however many triggers pass; a source naming one of them is refused.
mkdir -p own
make_text 20000 31 >own/a.txt
make_text 20000 32 >own/b.txt
start_wcs --source "file://$TEST_OUT/own" --trigger 200ms --state own/s.db \
    --progress-log own/p.jsonl --sink "jsonl://$TEST_OUT/own/out.jsonl"
wait_total own/s.db "$(count_words own/a.txt own/b.txt)" 20
sleep 1.2
stop_wcs
[ "$WCS_RC" = 0 ] || fail "own files: exit $WCS_RC: $(cat err.txt)"
check_counts own/s.db own/a.txt own/b.txt
grep -q "not reading s.db (and its -wal, -shm, -journal), p.jsonl, out.jsonl: the service's own" \
    err.txt || fail "no word of the own files left alone: $(cat err.txt)"
"$WCSTREAM" --source "file://$TEST_OUT/own/s.db-wal" --state own/s.db --trigger available-now \
    >/dev/null 2>err.txt && fail "the state's WAL accepted as input"
grep -q "own/s.db-wal is the service's own state file" err.txt || fail "unclear: $(cat err.txt)"
# The default state, wcstream.db, in the watched directory itself.
mkdir -p own2
make_text 20000 33 >own2/a.txt
make_text 20000 34 >own2/b.txt
(cd own2 && "$WCSTREAM" --source file://. --trigger available-now >/dev/null 2>../err.txt) ||
    fail "default state: exit $?: $(cat err.txt)"
check_counts own2/wcstream.db own2/a.txt own2/b.txt
# A state named by a symlink into the watched directory: SQLite writes
# where it points.
mkdir -p own3
"$WCSTREAM" --source stdin --trigger available-now --state own3/real.db </dev/null >/dev/null 2>&1
ln -s own3/real.db link.db
make_text 20000 35 >own3/a.txt
"$WCSTREAM" --source "file://$TEST_OUT/own3" --state link.db --trigger available-now >/dev/null \
    2>err.txt || fail "a state through a symlink: exit $?: $(cat err.txt)"
check_counts own3/real.db own3/a.txt
# The default state, wcstream.db, a symlink in the watched directory to a
# state elsewhere: the link is the state, not an input.
mkdir -p own4
"$WCSTREAM" --source stdin --trigger available-now --state own4.db </dev/null >/dev/null 2>&1
ln -s ../own4.db own4/wcstream.db
make_text 20000 36 >own4/a.txt
(cd own4 && "$WCSTREAM" --source file://. --trigger available-now >/dev/null 2>../err.txt) ||
    fail "a state symlink in the directory: exit $?: $(cat err.txt)"
check_counts own4.db own4/a.txt

# Idle triggers are no batch's: a batch's getBatch counts its own pulls,
# not every empty pull of a 2,000-file directory since the batch before,
# and so never exceeds its triggerExecution.
mkdir -p idle
for i in $(seq 1 2000); do echo "w$i" >"idle/f$i"; done
start_wcs --source "file://$TEST_OUT/idle" --trigger 0 --state idle.db --progress-log idle.jsonl \
    --sink 'console?numRows=1'
wait_total idle.db 2000 20
sleep 2
echo "late" >idle/z
wait_total idle.db 2001 20
stop_wcs
$PY - <<'PY' || fail "getBatch longer than its trigger"
import json
for line in open("idle.jsonl"):
    d = json.loads(line)["durationMs"]
    assert d["getBatch"] <= d["triggerExecution"], d
PY

# Files come and go in a watched directory for months: the ones gone for
# 10 s are forgotten, in memory and with their offsets in the state, so
# that neither (nor the stat() of each at every pull) grows with every
# file ever seen. A name that comes back later is a new file, read whole.
mkdir -p churn
for i in $(seq 1 30); do echo "c$i" >"churn/f$i"; done
start_wcs --source "file://$TEST_OUT/churn" --trigger 100ms --state churn.db
wait_total churn.db 30 20
rm churn/f*
sleep 10
# Their rows go even with no other file to carry them: a stop now must
# not leave them for a later file under one of those names.
for _ in $(seq 1 50); do
    [ "$(sql churn.db 'select count(*) from offsets')" = 0 ] && break
    sleep 0.1
done
[ "$(sql churn.db 'select count(*) from offsets')" = 0 ] ||
    fail "gone files' offsets wait for another file: $(sql churn.db 'select count(*) from offsets')"
echo "x y" >churn/g
wait_total churn.db 32 20
sleep 0.3
stop_wcs
[ "$(sql churn.db 'select count(*) from offsets')" = 1 ] ||
    fail "offsets of deleted files kept: $(sql churn.db 'select count(*) from offsets')"
echo "c1 again" >churn/f1
"$WCSTREAM" --source "file://$TEST_OUT/churn" --trigger available-now --state churn.db \
    >/dev/null 2>err.txt || fail "churn restart: exit $?: $(cat err.txt)"
[ "$(sql churn.db "select count from word_counts where word = 'c1'")" = 2 ] ||
    fail "a file back under a gone name not read whole: $(sql churn.db 'select * from word_counts')"

# An available-now run lists the directory once, and sees no file come
# back: a name the state holds that is not there is forgotten at once,
# also by a run that has nothing else to read, so that a file back under
# that name in a later run is a new file, read from its start.
mkdir -p spool
printf 'alpha\n' >spool/drop.txt
for step in read deleted back; do
    [ "$step" = back ] && printf 'beta gamma delta\n' >spool/drop.txt
    "$WCSTREAM" --source "file://$TEST_OUT/spool" --trigger available-now --state spool.db \
        >/dev/null 2>err.txt || fail "spool $step: exit $?: $(cat err.txt)"
    [ "$step" = read ] && rm spool/drop.txt
done
[ "$(sql spool.db "select group_concat(word || ':' || count, ' ') from word_counts order by word")" = \
    "alpha:1 beta:1 delta:1 gamma:1" ] || fail "spool: $(sql spool.db 'select * from word_counts')"

# A path that does not exist is a clear error.
"$WCSTREAM" --source "file://$TEST_OUT/nope" --state x.db >/dev/null 2>err.txt && fail "missing path accepted"
grep -q "cannot read .*nope: No such file or directory" err.txt || fail "unclear error: $(cat err.txt)"
echo ok
