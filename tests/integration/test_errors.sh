# Bad usage and hostile surroundings: bad flags (exit 2, one clear line and
# a usage hint), a port in use and a missing path (exit 1), state files
# that are not ours (refused and left byte-for-byte untouched), a state
# nobody may write, an unreadable stdin, and a socket server that is not
# there.
. "$(dirname "$0")/lib.sh"

# usage_error WANT_PATTERN ARGS...: exit 2, the pattern, the hint.
usage_error() {
    local want=$1 rc=0
    shift
    "$WCSTREAM" "$@" >out.txt 2>err.txt </dev/null || rc=$?
    [ "$rc" = 2 ] || fail "'$*' exited $rc, not 2"
    grep -q -- "$want" err.txt || fail "'$*' said: $(cat err.txt)"
    grep -q "Try 'wcstream --help'" err.txt || fail "'$*' gave no usage hint"
    [ "$(wc -l <err.txt)" = 2 ] || fail "'$*' printed more than one line: $(cat err.txt)"
    [ ! -e wcstream.db ] || fail "'$*' left a state file behind"
}
# runtime_error WANT_PATTERN ARGS...: exit 1 and the pattern.
runtime_error() {
    local want=$1 rc=0
    shift
    timeout 10 "$WCSTREAM" "$@" >out.txt 2>err.txt </dev/null || rc=$?
    [ "$rc" = 1 ] && grep -q -- "$want" err.txt || fail "'$*' exited $rc: $(cat err.txt)"
    [ ! -e wcstream.db ] || fail "'$*' left a new state file behind"
}

# start_listening ARGS...: wcstream on a listen:// source at a free port
# ($port) with ARGS, once it listens.
start_listening() {
    port=$(free_port)
    start_wcs --source "listen://127.0.0.1:$port" "$@"
    wait_for err.txt "listening" 10
}

usage_error "unknown option '--bogus'" --bogus
usage_error "no --source given" --sink console
usage_error "file://: no path given" --source file://
# Two sources that keep their offsets under one name could not both be
# exact: the one committed last would move the other's.
mkdir -p dup
usage_error "file://dup/ keeps its offsets where file://dup does" \
    --source file://dup --source file://dup/ --trigger available-now
usage_error "file://dup keeps its offsets where file://dup does" \
    --source file://dup --source file://dup --trigger available-now
usage_error "option '--trigger' needs a value" --source stdin --trigger
usage_error "needs a windowed aggregation" --source stdin --output-mode append
usage_error "trigger must be a duration" --source stdin --trigger soon
usage_error "at most 8760h" --source stdin --trigger 8761h
usage_error "unknown --split value .nonsense." --source stdin --split nonsense
usage_error "regex" --source stdin --split 'regex:('
usage_error "numRows must be a number from 1 to 100000" --source stdin --sink "console?numRows=600000000"
usage_error "unknown source 'gopher://x'" --source gopher://x
usage_error "unknown option 'colour'" --source stdin --sink 'console?colour=red'
usage_error "standard input can be read by one source only" --source stdin --source -
usage_error "numRows must be a number" --source stdin --sink 'console?numRows=0'
# A misspelt option is refused before anything opens: no port taken, no
# "listening" line, no file made, no connection to a broker.
usage_error "unknown option 'maxClient'" --source "listen://127.0.0.1:$(free_port)?maxClient=5"
usage_error "unknown option 'bogus'" --source stdin --sink "ws://127.0.0.1:$(free_port)?bogus=1"
usage_error "unknown option 'top'" --source stdin --sink "jsonl://$TEST_OUT/typo.jsonl?top=3"
[ ! -e typo.jsonl ] || fail "a misspelt jsonl option made the file"
usage_error "unknown option 'bogus'" --source "kafka://127.0.0.1:9/t?bogus=1"
usage_error "unknown option 'bogus'" --source stdin --sink "kafka://127.0.0.1:9/t?bogus=1"
# The kafka. prefix in any case; the property's name goes to librdkafka.
usage_error 'No such configuration property: "bogus.prop"' --source stdin \
    --sink "kafka://127.0.0.1:9/t?Kafka.bogus.prop=1"
# An empty consumer group made a consumer with no group (and a crash).
usage_error "consumer group must not be empty" --source "kafka://127.0.0.1:9/t?group="
usage_error "consumer group must not be empty" --source "kafka://127.0.0.1:9/t?kafka.group.id="
usage_error "topic patterns are not supported; name the topics ('^t\.\*')" --source "kafka://127.0.0.1:9/t,^t.*"
# Names a broker would refuse are refused before anything connects, the
# sink's too.
long=$(printf 't%.0s' {1..250})
usage_error "longer than Kafka's 249 characters ('$long')" --source "kafka://127.0.0.1:9/$long"
usage_error "only ASCII letters, digits, .* ('word counts')" --source "kafka://127.0.0.1:9/word%20counts"
usage_error "an empty topic name ('')" --source "kafka://127.0.0.1:9/a,,b"
usage_error "cannot be named \. or \.\. ('\.\.')" --source stdin --sink "kafka://127.0.0.1:9/.."
usage_error "only ASCII letters" --source stdin --sink "kafka://127.0.0.1:9/caf%C3%A9"
# librdkafka refuses a subscription that names a topic twice, which read
# "cannot subscribe: Local: Invalid argument or configuration", exit 1.
usage_error "topic t is named twice" --source "kafka://127.0.0.1:9/t,u,t"
# The settings exactly-once rests on were taken from kafka.* options, by
# their names or librdkafka's aliases, with exit 0 and offsets committed
# before the state, or a retried count landing after a newer one.
usage_error "kafka.enable.auto.commit cannot be changed" \
    --source "kafka://127.0.0.1:9/t?kafka.enable.auto.commit=true"
usage_error "kafka.auto.offset.reset cannot be changed: failOnDataLoss" \
    --source "kafka://127.0.0.1:9/t?kafka.topic.auto.offset.reset=latest"
usage_error "kafka.enable.idempotence cannot be changed" \
    --source stdin --sink "kafka://127.0.0.1:9/t?kafka.enable.idempotence=false"
usage_error "not HOST:PORT" --source socket://localhost
usage_error "config nope.json" --source stdin --config nope.json
usage_error "cannot read config .*: Is a directory" --source stdin --config .
usage_error "config /dev/zero is larger than" --source stdin --config /dev/zero
echo '{"source": "stdin"}' >one.json
usage_error "--config is given twice" --config one.json --config one.json
usage_error "no ws:// sink given" --source stdin --dashboard-dir .
usage_error "state must be a file path" --source stdin --state ''
usage_error "progress-log must be a file path" --source stdin --progress-log ''
usage_error "dashboard-dir must be a directory" --source stdin --sink "ws://127.0.0.1:$(free_port)" \
    --dashboard-dir ''
usage_error "unexpected argument 'extra'" --source stdin extra
usage_error "max-line-bytes must be a size from 64 to 67108864" --source stdin --max-line-bytes 1g
# An output written into the state's own files (here, whatever path names
# them) lost its lines to SQLite's writes, with exit 0: refused, no file made.
usage_error "wcstream.db is the state wcstream.db or one of SQLite's files beside it, not an output" \
    --source stdin --sink jsonl://wcstream.db
mkdir -p s
usage_error "is the state s/x.db or one of SQLite's files beside it" --source stdin --state s/x.db \
    --progress-log "$TEST_OUT/s/../s/x.db-wal"
[ ! -e s/x.db ] && [ ! -e s/x.db-wal ] || fail "an output naming the state's files made a file"
"$WCSTREAM" --help | grep -q "listen://HOST:PORT" || fail "--help lists no sources"
"$WCSTREAM" --version | grep -q "^wcstream " || fail "--version"
# Help or version that could not be written is a failure, not exit 0.
for opt in --help --version; do
    rc=0
    "$WCSTREAM" $opt >/dev/full 2>err.txt || rc=$?
    [ "$rc" = 1 ] && grep -q "cannot write" err.txt || fail "$opt >/dev/full: exit $rc"
done

# A port in use, a FIFO nobody reads as an output, a host that does not
# resolve, a dashboard directory that is missing or not one: exit 1, one
# clear sentence.
port=$(free_port)
hold_port "$port"
runtime_error "cannot listen on 127.0.0.1:$port: Address already in use" \
    --source "listen://127.0.0.1:$port"
# ... and its jsonl sink's file, made before the source failed, goes with
# it; one that was there stays.
runtime_error "Address already in use" --source "listen://127.0.0.1:$port" --sink jsonl://new.jsonl
[ ! -e new.jsonl ] || fail "a failed start left the jsonl file it made"
: >old.jsonl
runtime_error "Address already in use" --source "listen://127.0.0.1:$port" --sink jsonl://old.jsonl
[ -e old.jsonl ] || fail "a failed start removed a jsonl file that was there"
: >plain.txt
mkfifo unread.fifo
runtime_error "cannot open unread.fifo: a FIFO that no process reads" --source stdin \
    --sink jsonl://unread.fifo --state :memory:
runtime_error "progress log unread.fifo: a FIFO that no process reads" --source stdin \
    --progress-log unread.fifo
runtime_error "cannot open progress log absent/p.log: No such file or directory" \
    --source stdin --progress-log absent/p.log
# (a jsonl sink's file, made and started before the progress log failed,
# goes with the start)
runtime_error "cannot open progress log absent/p.log" --source stdin --progress-log absent/p.log \
    --sink jsonl://late.jsonl
[ ! -e late.jsonl ] || fail "a start that failed at its progress log left the jsonl file it made"
# (RES_OPTIONS: a resolver that does not answer fails in a second or two.)
RES_OPTIONS="timeout:1 attempts:1" runtime_error "cannot resolve nowhere.invalid" \
    --source stdin --sink "ws://nowhere.invalid:$(free_port)" --state :memory:
for dir in absent:"No such file or directory" plain.txt:"Not a directory"; do
    runtime_error "dashboard-dir ${dir%%:*}: ${dir#*:}" --source stdin \
        --sink "ws://127.0.0.1:$(free_port)" --dashboard-dir "${dir%%:*}" --state :memory:
done

# State files that are not ours are refused and not touched.
refused() { # FILE PATTERN
    local before after rc=0 had_wal=0
    [ -e "$1-wal" ] && had_wal=1
    before=$(sha256sum "$1")
    "$WCSTREAM" --source stdin --trigger available-now --state "$1" <<<"a b" >out.txt 2>err.txt || rc=$?
    [ "$rc" = 1 ] || fail "state $1: exit $rc"
    grep -q -- "$2" err.txt || fail "state $1: $(cat err.txt)"
    after=$(sha256sum "$1")
    [ "$before" = "$after" ] || fail "state $1 was modified"
    [ "$had_wal" = 1 ] || [ ! -e "$1-wal" ] || fail "state $1 got a WAL file"
}
echo "just some text" >text.db
refused text.db "not a wcstream state database (not an SQLite file)"
head -c 4096 /dev/urandom >random.db
refused random.db "not a wcstream state database"
sqlite3 other.db "create table t(x); insert into t values (1)"
refused other.db "another application"
"$WCSTREAM" --source stdin --trigger available-now --state newer.db <<<"a" >/dev/null 2>&1
sqlite3 newer.db "pragma user_version = 99"
refused newer.db "schema version 99, newer than this wcstream"
ln -s absent.db dangling.db
runtime_error "state dangling.db is a symbolic link to a file that does not exist" \
    --source stdin --state dangling.db
[ -e absent.db ] && fail "a state was made through a dangling symbolic link"
runtime_error "cannot open state nodir/s.db: No such file or directory" --source stdin \
    --state nodir/s.db
# One of its tables dropped by hand: SQLite's words name the file.
"$WCSTREAM" --source stdin --trigger available-now --state dropped.db <<<"a" >/dev/null 2>&1
sqlite3 dropped.db "drop table leaders"
refused dropped.db "state dropped.db: no such table: leaders"
# A state cut inside its last page (a copy cut short): SQLite reads the
# missing bytes as zeros, so it opened and committed onto the damage.
seq -f 'w%05g' 1 20000 | "$WCSTREAM" --source stdin --trigger available-now --state cut.db \
    >/dev/null 2>&1 || fail "making cut.db"
truncate -s -1000 cut.db
refused cut.db "not a whole number of its 16384-byte pages"
: >cut.db-wal # an empty WAL holds no page to mend it
refused cut.db "not a whole number of its 16384-byte pages"
# Another application's database in WAL mode, its writer gone without a
# checkpoint (killed): neither its file nor its WAL is touched.
$PY - <<'PY'
import os, sqlite3
con = sqlite3.connect("walapp.db", isolation_level=None)
con.execute("pragma journal_mode=wal")
con.execute("create table t(x)")
con.execute("insert into t values (1)")
os._exit(0)  # no close: the WAL keeps the table
PY
[ -s walapp.db-wal ] || fail "setup: no WAL left"
before_wal=$(sha256sum walapp.db-wal)
refused walapp.db "another application"
[ "$before_wal" = "$(sha256sum walapp.db-wal)" ] || fail "the other application's WAL was changed"
# Another application's database whose writer died mid-transaction: its
# hot rollback journal is neither rolled back into the file nor removed.
$PY - <<'PY'
import os, sqlite3
con = sqlite3.connect("hotapp.db", isolation_level=None)
con.execute("create table t(x)")
con.execute("with recursive n(i) as (select 1 union all select i + 1 from n where i < 20000) "
            "insert into t select randomblob(100) from n")
con.execute("pragma cache_size = 5")
con.execute("begin")
con.execute("update t set x = zeroblob(100)")  # spills into the file
os._exit(0)
PY
[ -s hotapp.db-journal ] || fail "setup: no journal left"
before_journal=$(sha256sum hotapp.db-journal)
refused hotapp.db "rollback journal"
[ "$before_journal" = "$(sha256sum hotapp.db-journal)" ] || fail "the other application's journal was changed"

mkdir -p dir.db
rc=0
"$WCSTREAM" --source stdin --state dir.db </dev/null >/dev/null 2>err.txt || rc=$?
[ "$rc" = 1 ] && grep -q "not a regular file" err.txt || fail "directory as state: $rc $(cat err.txt)"

# A directory where SQLite keeps its shared memory (or WAL, or journal)
# would fail every commit: refused at start, the state untouched.
"$WCSTREAM" --source stdin --trigger available-now --state ours.db <<<"a b" >/dev/null 2>&1
for suffix in -shm -wal -journal; do
    mkdir "ours.db$suffix"
    refused ours.db "ours.db$suffix is not a regular file"
    rmdir "ours.db$suffix"
done

# One state, one process: a second wcstream on it is refused at start.
start_listening --state shared.db
rc=0
"$WCSTREAM" --source stdin --trigger available-now --state shared.db <<<"a" >/dev/null 2>err2.txt || rc=$?
[ "$rc" = 1 ] && grep -q "state shared.db is in use by another wcstream process" err2.txt ||
    fail "a second process on one state: $rc $(cat err2.txt)"
# Nor does it write into the files the first one appends to (its sinks
# are made before the state is found in use): a jsonl file that ends
# mid-line, as while the first one writes a big line, is not "ended".
printf '{"batchId":3,"outputMode":"comp' >shared.jsonl
before=$(sha256sum shared.jsonl)
rc=0
"$WCSTREAM" --source stdin --trigger available-now --state shared.db \
    --sink "jsonl://$TEST_OUT/shared.jsonl" <<<"a" >/dev/null 2>err2.txt || rc=$?
[ "$rc" = 1 ] && grep -q "in use by another wcstream process" err2.txt ||
    fail "a second process with a jsonl sink: $rc $(cat err2.txt)"
[ "$before" = "$(sha256sum shared.jsonl)" ] || fail "a process refused the state wrote into a jsonl file"
"$WCSTREAM" --source stdin --trigger available-now --state shared.db \
    --sink "jsonl://$TEST_OUT/mine.jsonl" <<<"a" >/dev/null 2>&1 && fail "a second process ran"
[ ! -e mine.jsonl ] || fail "a process refused the state left the jsonl file it made"
grep -q "cut short" err2.txt && fail "a process refused the state warned of a crash: $(cat err2.txt)"
# --state is a path, not an SQLite URI: file:shared.db is another file, a
# state of its own, and never shared.db under the first one's lock.
rc=0
"$WCSTREAM" --source stdin --trigger available-now --state file:shared.db <<<"b" >/dev/null \
    2>err2.txt || rc=$?
[ "$rc" = 0 ] || fail "--state file:shared.db: $rc $(cat err2.txt)"
[ "$(sql ./file:shared.db "select word from word_counts")" = b ] ||
    fail "--state file:shared.db did not make a state of that name"
stop_wcs
[ "$(sql shared.db "select count(*) from word_counts where word = 'b'")" = 0 ] ||
    fail "--state file:shared.db wrote into shared.db"

# A damaged page is not retried for ever: exit 1 at the first commit.
seq -f 'w%05g' 1 10000 | "$WCSTREAM" --source stdin --trigger available-now --state dam.db \
    >/dev/null 2>&1 || fail "making dam.db"
$PY - <<'PY'
import sqlite3
db = sqlite3.connect("dam.db")
size = db.execute("pragma page_size").fetchone()[0]
leaves = [r[0] for r in db.execute("select pageno from dbstat where name = 'counts' and pagetype = 'leaf'")]
db.close()
assert len(leaves) > 1, leaves
with open("dam.db", "r+b") as f:
    for p in leaves:
        f.seek((p - 1) * size)
        f.write(b"\xff" * 512)
PY
rc=0
timeout 30 "$WCSTREAM" --source stdin --trigger available-now --state dam.db <<<"w00007" \
    >/dev/null 2>err2.txt || rc=$?
[ "$rc" = 1 ] && grep -q "malformed; not retrying: the state file is damaged" err2.txt ||
    fail "a damaged state: $rc $(cat err2.txt)"
# ... and a running service ends at that batch, not at the next input.
start_listening --trigger 200ms --state dam.db
printf 'w00007\n' | nc -N 127.0.0.1 "$port"
for ((i = 0; i < 100; i++)); do kill -0 "$WCS_PID" 2>/dev/null && sleep 0.1; done
kill -0 "$WCS_PID" 2>/dev/null && fail "still running 10 s after a batch failed for good"
stop_wcs
[ "$WCS_RC" = 1 ] && grep -q "not retrying: the state file is damaged" err.txt ||
    fail "a damaged state while running: $WCS_RC $(cat err.txt)"

# A state renamed (or deleted) while in use: its batches were committed to
# a file no path named, lost or beside no WAL, and reported committed.
# Now the commit is refused with a sentence and retried; moved back, the
# service goes on and no batch is lost; deleted, a stop exits 1.
start_listening --trigger 100ms --state moved.db
printf 'm1\n' | nc -N 127.0.0.1 "$port"
wait_for err.txt "batch 0:" 10
mv moved.db moved-away.db
printf 'm1\n' | nc -N 127.0.0.1 "$port"
wait_for err.txt "batch 1 not committed: the state file was deleted, renamed or replaced" 10
mv moved-away.db moved.db
wait_for err.txt "batch 1:" 20
stop_wcs
[ "$WCS_RC" = 0 ] && [ "$(sql moved.db "select count from word_counts where word = 'm1'")" = 2 ] ||
    fail "a state moved away and back: $WCS_RC $(sql moved.db 'select * from word_counts')"
start_listening --trigger 100ms --state deleted.db
rm deleted.db
printf 'd1\n' | nc -N 127.0.0.1 "$port"
wait_for err.txt "batch 0 not committed: the state file was deleted" 10
stop_wcs
[ "$WCS_RC" = 1 ] || fail "a state deleted while in use: $WCS_RC $(cat err.txt)"
rm -f deleted.db-wal deleted.db-shm

# A jsonl sink that cannot write the stop's batch (a full disk) leaves that
# line out with a warning, as while running: the stop still exits 0.
start_listening --trigger 1h --sink jsonl:///dev/full --state :memory:
printf 'a b\n' | nc -N 127.0.0.1 "$port" # returns once the source has read to its end
stop_wcs
[ "$WCS_RC" = 0 ] && grep -q "batch 0: .*No space left on device" err.txt ||
    fail "a jsonl sink failing at the stop: $WCS_RC $(cat err.txt)"

# A state nobody may write: as an unprivileged user, a read-only file.
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
    "$WCSTREAM" --source stdin --trigger available-now --state ro.db <<<"a" >/dev/null 2>&1
    chmod 444 ro.db && chmod 777 "$TEST_OUT"
    rc=0
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$WCSTREAM" --source stdin --trigger available-now --state "$TEST_OUT/ro.db" <<<"b" \
        >out.txt 2>err.txt || rc=$?
    [ "$rc" = 1 ] && grep -q "cannot write state" err.txt || fail "read-only state: $rc $(cat err.txt)"
    [ "$(sql ro.db 'select count(*) from word_counts')" = 1 ] || fail "read-only state changed"
    # A state it may write in a directory it may not: SQLite's -wal and
    # -shm go next to the file. Not called "not a wcstream state".
    mkdir rodir && "$WCSTREAM" --source stdin --trigger available-now --state rodir/s.db <<<"a" \
        >/dev/null 2>&1
    chmod 666 rodir/s.db && chmod 555 rodir
    rc=0
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$WCSTREAM" --source stdin --trigger available-now --state "$TEST_OUT/rodir/s.db" <<<"b" \
        >out.txt 2>err.txt || rc=$?
    [ "$rc" = 1 ] && grep -q "cannot write state .*its directory must be writable" err.txt ||
        fail "state in a read-only directory: $rc $(cat err.txt)"
    chmod 755 rodir
    # A state it may write whose -wal and -shm another user (root, killed)
    # left behind: refused at start, not retried for ever as "a readonly
    # database".
    mkdir rootwal && chmod 777 rootwal
    (
        "$WCSTREAM" --source stdin --trigger 100ms --state rootwal/s.db >/dev/null 2>&1 &
        pid=$!
        i=0
        while [ "$i" -lt 100 ] && ! [ -s rootwal/s.db-wal ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$pid"
        wait "$pid" 2>/dev/null || true
    ) < <(echo a && sleep 5)
    [ -e rootwal/s.db-wal ] && [ -e rootwal/s.db-shm ] || fail "no -wal and -shm left by root"
    chmod 666 rootwal/s.db && chmod 644 rootwal/s.db-wal rootwal/s.db-shm
    rc=0
    setpriv --reuid=nobody --regid=nogroup --clear-groups \
        timeout 10 "$WCSTREAM" --source stdin --trigger available-now \
        --state "$TEST_OUT/rootwal/s.db" <<<"b" >out.txt 2>err.txt || rc=$?
    [ "$rc" = 1 ] && grep -q "cannot write state .*s.db-\(wal\|shm\): Permission denied" err.txt ||
        fail "state with another user's -wal: $rc $(cat err.txt)"
fi
rc=0
"$WCSTREAM" --source stdin --state /proc/wcstream-test.db </dev/null >/dev/null 2>err.txt || rc=$?
[ "$rc" = 1 ] && grep -q "state" err.txt || fail "unwritable directory: $rc $(cat err.txt)"

# A stdin that cannot be read is a failed run, not an empty input.
rc=0
"$WCSTREAM" --source stdin --trigger available-now --state sd.db <. >/dev/null 2>err.txt || rc=$?
[ "$rc" = 1 ] && grep -q "stdin: reading failed: Is a directory" err.txt ||
    fail "unreadable stdin: $rc $(cat err.txt)"

# An unreachable socket server: the service keeps trying and says so once.
start_wcs --source "socket://127.0.0.1:$(free_port)" --state un.db --trigger 100ms
wait_for err.txt "cannot connect: Connection refused; retrying with backoff" 10
sleep 1
kill -0 "$WCS_PID" || fail "died without a server"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "stop while retrying: exit $WCS_RC"

# SIGTERM while starting (here, building a top 100000 of a million words)
# stops the query as soon as it runs: exit 0, not a kill.
seq -f 'w%07g' 1 1000000 | "$WCSTREAM" --source stdin --trigger available-now --state big.db \
    >/dev/null 2>&1 || fail "making big.db"
start_wcs --source "socket://127.0.0.1:$(free_port)" --state big.db --sink 'console?numRows=100000'
wait_for err.txt "building the top 100000" 20
stop_wcs
[ "$WCS_RC" = 0 ] && grep -q "stopped at batch 1" err.txt || fail "a stop while starting: $WCS_RC"

# A sink stuck on a pipe nobody reads holds the stop's batch; a second
# SIGTERM ends the process at once, as by default, the state intact. Also
# as PID 1 of a PID namespace (a container's init), where the default
# action of a signal does nothing.
mkfifo stuck.fifo
bg sleep 120 <>stuck.fifo # holds the pipe open and never reads it
stuck_sink() { # [LAUNCHER...]
    rm -f stuck.db*
    "$@" "$WCSTREAM" --source stdin --state stuck.db --sink 'console?numRows=100000' \
        < <(seq -f 'w%07g' 1 100000) >stuck.fifo 2>err.txt &
    WCS_PID=$!
    local pid=$WCS_PID
    wait_total stuck.db 1 20 # batch 0, whose console table fills the pipe
    [ $# = 0 ] || pid=$(pgrep -P "$WCS_PID" -x wcstream) # the launcher's child
    kill -TERM "$pid"
    sleep 1
    kill -0 "$pid" 2>/dev/null || fail "$*: the stuck sink's process exited at the first SIGTERM"
    timeout 5 bash -c "kill -TERM $pid; while kill -0 $pid 2>/dev/null; do sleep 0.05; done" ||
        fail "$*: a second SIGTERM did not end a stuck sink's process"
    stop_wcs
    [ "$WCS_RC" = 143 ] || fail "$*: a second SIGTERM: exit $WCS_RC, want 143"
    # Batch 0 may be any head of the input (a busy machine cuts it sooner)
    # and one more batch may commit behind its stuck sink: whole batches.
    [ "$(sql stuck.db 'pragma quick_check')" = ok ] &&
        [ "$(sql stuck.db 'select sum(count) from word_counts')" = \
            "$(sql stuck.db 'select total_words from batches order by batch_id desc limit 1')" ] ||
        fail "$*: the state after a second SIGTERM"
}
stuck_sink
if unshare --pid --fork true 2>/dev/null; then
    stuck_sink unshare --pid --fork
else
    log "no PID namespaces here (root needed): the PID 1 case is not run"
fi

# make and make run need the build's packages only: a user who is not root
# and lacks a tool of the tests (chromium here) is not sent to install it
# before wcstream builds; the tests still ask for it. id and dpkg-query are
# faked on PATH: a user who is not root, then chromium missing.
mkdir -p fake
printf '#!/bin/sh\necho 1000\n' >fake/id
chmod +x fake/id
mk() { PATH=$TEST_OUT/fake:$PATH make -s -C "$HERE/../.." BUILD="$TEST_OUT/mk" "$@" >make.txt 2>&1; }
if ! mk deps; then
    log "a package make deps wants is missing here: the check of the build's alone is not tried"
else
    cat >fake/dpkg-query <<'SH'
#!/bin/sh
for p; do :; done
[ "$p" = chromium ] && exit 1
exec /usr/bin/dpkg-query "$@"
SH
    chmod +x fake/dpkg-query
    mk "$TEST_OUT/mk/.deps-ok" || fail "make's package check wants more than the build: $(cat make.txt)"
    mk "$TEST_OUT/mk/.test-deps-ok" && fail "the tests' package check passed without chromium"
    grep -q 'missing packages; run: sudo apt-get install -y chromium$' make.txt ||
        fail "the tests' package check: $(cat make.txt)"
fi
echo ok
