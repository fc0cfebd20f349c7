# tests/integration/lib.sh - shared helpers for the integration scripts.
#
# Each script sources this, drives the built binary ($WCSTREAM) the way a
# user would (nc, files, signals) and asserts on what it sees: console
# output, the SQLite state, exit codes, logs. Work files go to $TEST_OUT.
# Everything started here is killed when the script exits.
set -euo pipefail

WCSTREAM=${WCSTREAM:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/wcstream}
TEST_OUT=${TEST_OUT:-$(mktemp -d)}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$TEST_OUT"
cd "$TEST_OUT"

WCS_PID=
_bg_pids=()

cleanup() {
    local p
    for p in ${WCS_PID:-} "${_bg_pids[@]}"; do
        kill -9 "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    [ -f "$TEST_OUT/err.txt" ] && { echo "--- wcstream stderr (tail):"; tail -n 20 "$TEST_OUT/err.txt"; } >&2
    exit 1
}

skip() {
    echo "skipped: $*"
    exit 77
}

log() { echo "# $*"; }

# A TCP port nobody listens on now, below the kernel's ephemeral range
# (32768 up): there, the outgoing connections of the tests running beside
# this one could take it before wcstream binds it.
free_port() {
    $PY -c '
import random, socket
while True:
    port = random.randrange(20000, 32768)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break'
}

# Listen on 127.0.0.1:PORT from another process, as a program that holds
# the port would, until the script ends; returns once it listens.
hold_port() {
    rm -f "held.$1"
    bg $PY -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
open("held." + sys.argv[1], "w").close()
time.sleep(600)' "$1"
    for _ in $(seq 1 200); do
        [ -e "held.$1" ] && return 0
        sleep 0.05
    done
    fail "could not hold port $1"
}

# Start wcstream in the background: stdout -> out.txt, stderr -> err.txt.
start_wcs() {
    # Emptied here, not by the background job's redirection, which may come
    # after a wait_for has already read the last run's "started".
    : >"$TEST_OUT/out.txt"
    : >"$TEST_OUT/err.txt"
    "$WCSTREAM" "$@" >>"$TEST_OUT/out.txt" 2>>"$TEST_OUT/err.txt" &
    WCS_PID=$!
}

# Run background helpers that cleanup() must kill.
bg() {
    "$@" <&0 &  # explicit: a background job would otherwise read /dev/null
    _bg_pids+=($!)
}

# Wait until PATTERN (grep -E) appears in FILE, at line FROM (default 1) or
# later; fail after SECS (default 20).
wait_for() {
    local file=$1 pattern=$2 secs=${3:-20} from=${4:-1} i
    for ((i = 0; i < secs * 20; i++)); do
        tail -n "+$from" "$file" 2>/dev/null | grep -aE -- "$pattern" >/dev/null && return 0
        if [ -n "$WCS_PID" ] && ! kill -0 "$WCS_PID" 2>/dev/null; then
            fail "wcstream exited while waiting for '$pattern' in $file"
        fi
        sleep 0.05
    done
    fail "timed out waiting for '$pattern' in $file"
}

# Run SQL against a state file (read-only, while the service may run).
sql() {
    sqlite3 -readonly "$1" "$2"
}

# Wait until the state at $1 has committed at least $2 words in total.
wait_total() {
    local state=$1 want=$2 secs=${3:-30} got i
    for ((i = 0; i < secs * 10; i++)); do
        got=$(sql "$state" "select coalesce(max(total_words), 0) from batches" 2>/dev/null || echo 0)
        [ "${got:-0}" -ge "$want" ] && return 0
        sleep 0.1
    done
    fail "state $state reached $got words, not $want, in ${secs}s"
}

# SIGTERM wcstream and wait; the exit status is left in WCS_RC.
stop_wcs() {
    kill -TERM "$WCS_PID" 2>/dev/null || true
    WCS_RC=0
    wait "$WCS_PID" || WCS_RC=$?
    WCS_PID=
}

# Assert that the state's word_counts equal the ground truth of the files.
#   check_counts STATE [--split MODE] [--lowercase] FILE...
check_counts() {
    $PY "$HERE/counts.py" check "$@" || fail "word_counts differ from the ground truth"
}

# Total words of files by the ground truth (whitespace split).
count_words() {
    $PY "$HERE/counts.py" total "$@"
}

# Write N bytes of deterministic text made of a small vocabulary.
make_text() {
    $PY "$HERE/counts.py" text "$@"
}

# Start the local Kafka-protocol broker (tests/support/kafka_broker.c) with
# the given --topic NAME:PARTITIONS flags; its address goes to $BROKER.
start_broker() {
    local bin
    bin=$(dirname "$WCSTREAM")/kafka_broker
    [ -x "$bin" ] || bin=$HERE/../../build/kafka_broker
    rm -f broker.addr
    "$bin" --bootstrap-file broker.addr "$@" >/dev/null 2>broker.err &
    BROKER_PID=$!
    _bg_pids+=("$BROKER_PID")
    # Usually 15 ms, but the mock's topic creation at times stalls for
    # whole seconds: test_kafka's 16 topics took up to 7 s here.
    for _ in $(seq 1 600); do
        [ -s broker.addr ] && break
        kill -0 "$BROKER_PID" 2>/dev/null || break
        sleep 0.05
    done
    BROKER=$(cat broker.addr) || fail "the broker did not start: $(cat broker.err)"
}

# Produce FILE's lines as messages to TOPIC, spread over PARTITIONS.
produce() { # TOPIC PARTITIONS FILE
    local topic=$1 parts=$2 file=$3 p
    split -n "l/$parts" -d "$file" "$file.part."
    for ((p = 0; p < parts; p++)); do
        kcat -P -b "$BROKER" -t "$topic" -p "$p" -l "$file.part.0$p" || fail "kcat"
    done
    rm -f "$file".part.*
}

# kill -9 wcstream KILLS times, restarting it with ARGS each time; before
# each kill it waits for 1 to SPREAD new commits in STATE, so every kill
# lands mid-stream. The last committed batch id is left in LAST_BATCH.
#   crash_loop STATE KILLS SPREAD ARGS...
crash_loop() {
    local state=$1 kills=$2 spread=$3 k target
    shift 3
    LAST_BATCH=-1
    for ((k = 1; k <= kills; k++)); do
        start_wcs "$@" --state "$state"
        target=$((LAST_BATCH + 1 + RANDOM % spread))
        # One process polls every 2 ms (at most 12 s): an sqlite3 process
        # a poll saw a commit some 70 ms late, dozens of batches on.
        $PY - "$state" "$target" <<'PY'
import sqlite3, sys, time
state, target, con = sys.argv[1], int(sys.argv[2]), None
end = time.monotonic() + 12
while time.monotonic() < end:
    try:
        con = con or sqlite3.connect(f"file:{state}?mode=ro", uri=True, isolation_level=None)
        if con.execute("select coalesce(max(batch_id), -1) from batches").fetchall()[0][0] >= target:
            break
    except sqlite3.Error:
        pass  # not made yet
    time.sleep(0.002)
PY
        kill -9 "$WCS_PID"
        wait "$WCS_PID" 2>/dev/null || true
        WCS_PID=
        LAST_BATCH=$(sql "$state" 'select coalesce(max(batch_id), -1) from batches')
        log "kill $k at batch $LAST_BATCH"
    done
}

# Resident memory of a process, in KiB.
rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# One sample's value from a Prometheus endpoint: metric URL 'NAME{labels}'.
metric() {
    curl -sf "$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}

# Wait until metric NAME at URL is at least WANT.
wait_metric() { # URL NAME WANT [SECS]
    local url=$1 name=$2 want=$3 secs=${4:-30} got i
    for ((i = 0; i < secs * 10; i++)); do
        got=$(metric "$url" "$name" || true)
        [ -n "$got" ] && [ "${got%.*}" -ge "$want" ] && return 0
        sleep 0.1
    done
    fail "$name reached ${got:-nothing}, not $want, in ${secs}s"
}

# Evaluate a Python expression over JSON files: pyjson 'EXPR' NAME=FILE...
# (each NAME bound to the file's parsed JSON; FILE may be /dev/stdin);
# prints the result.
pyjson() {
    $PY -c '
import json, sys
env = {}
for a in sys.argv[2:]:
    name, path = a.split("=", 1)
    with open(path) as f:
        env[name] = json.load(f)
print(eval(sys.argv[1], env))' "$@"
}
