# listen:// with several concurrent nc clients: every line of every client
# counted exactly once, a client's half line at disconnect included, and
# counts that keep growing across batches; SIGTERM ends it with exit 0.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
for i in 1 2 3 4; do make_text 300000 "$i" >c$i.txt; done
printf 'tail half line without newline' >half.txt

start_wcs --source "listen://127.0.0.1:$port" --trigger 200ms --state s.db \
    --sink 'console?numRows=3'
wait_for err.txt "listening" 10

for i in 1 2 3 4; do bg nc -N 127.0.0.1 "$port" <c$i.txt; done
nc -N 127.0.0.1 "$port" <half.txt
want=$(count_words c1.txt c2.txt c3.txt c4.txt half.txt)
wait_total s.db "$want" 30
check_counts s.db c1.txt c2.txt c3.txt c4.txt half.txt

# A second round: counts continue, batch ids keep rising.
before=$(sql s.db "select max(batch_id) from batches")
nc -N 127.0.0.1 "$port" <c1.txt
wait_total s.db $((want + $(count_words c1.txt))) 30
check_counts s.db c1.txt c1.txt c2.txt c3.txt c4.txt half.txt
after=$(sql s.db "select max(batch_id) from batches")
[ "$after" -gt "$before" ] || fail "batch id did not advance"

grep -q '^Batch: 0$' out.txt || fail "no console batch"
grep -q 'only showing top 3 rows' out.txt || fail "numRows not applied"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "SIGTERM exit status $WCS_RC"
grep -q "stopped at batch" err.txt || fail "no clean stop in the log"

# A backlog larger than --max-bytes-per-trigger is not held to one batch
# per interval: a batch cut at the bound is followed at once by the next.
# 4 MB in 256 KiB batches with a 3 s trigger: 16 batches, 45 s at one per
# tick; within the first tick or two with the catch-up.
port=$(free_port)
make_text 4000000 9 >big.txt
start_wcs --source "listen://127.0.0.1:$port" --trigger 3s --max-bytes-per-trigger 256KiB \
    --state catch.db --sink 'console?numRows=1'
wait_for err.txt "listening" 10
nc -N 127.0.0.1 "$port" <big.txt
wait_total catch.db "$(count_words big.txt)" 12
check_counts catch.db big.txt
[ "$(sql catch.db "select count(*) from batches")" -ge 12 ] || fail "the backlog was not cut in batches"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "SIGTERM exit status $WCS_RC"

# SIGTERM long before the next trigger: the lines already received are
# committed with the last batch, not dropped, and that batch's progress
# is timed from the stop, not from a batch before it.
port=$(free_port)
start_wcs --source "listen://127.0.0.1:$port" --trigger 3s --state term.db
wait_for err.txt "listening" 10
seq 1 1000 | nc -N 127.0.0.1 "$port"
wait_total term.db 1000 10
seq 1 500 | nc -N 127.0.0.1 "$port"
sleep 0.5
stop_wcs
[ "$WCS_RC" = 0 ] || fail "SIGTERM exit status $WCS_RC"
[ "$(sql term.db "select coalesce(sum(count), 0) from word_counts")" = 1500 ] ||
    fail "lines received before SIGTERM were dropped: $(sql term.db 'select sum(count) from word_counts')"
sql term.db "select progress from batches where batch_id = 1" | $PY -c '
import datetime, json, sys
p = json.load(sys.stdin)
age = datetime.datetime.now(datetime.timezone.utc) - datetime.datetime.fromisoformat(p["timestamp"].replace("Z", "+00:00"))
assert p["numInputRows"] == 500 and 0 <= age.total_seconds() < 60 and p["inputRowsPerSecond"] > 0, p
' || fail "the batch committed at the stop has the progress times of another batch"

# SIGHUP (the terminal of `make run` closed) stops it as SIGTERM does: the
# lines received are committed, exit 0. Started with it ignored (nohup), it
# is still ignored.
port=$(free_port)
start_wcs --source "listen://127.0.0.1:$port" --trigger 3s --state hup.db
wait_for err.txt "listening" 10
seq 1 700 | nc -N 127.0.0.1 "$port"
sleep 0.5
kill -HUP "$WCS_PID"
WCS_RC=0
wait "$WCS_PID" || WCS_RC=$?
WCS_PID=
[ "$WCS_RC" = 0 ] || fail "SIGHUP exit status $WCS_RC"
[ "$(sql hup.db "select coalesce(sum(count), 0) from word_counts")" = 700 ] ||
    fail "lines received before SIGHUP were dropped: $(sql hup.db 'select sum(count) from word_counts')"
port=$(free_port)
: >err.txt
nohup "$WCSTREAM" --source "listen://127.0.0.1:$port" --state nohup.db >>out.txt 2>>err.txt &
WCS_PID=$!
wait_for err.txt "listening" 10
kill -HUP "$WCS_PID"
sleep 0.5
kill -0 "$WCS_PID" 2>/dev/null || fail "SIGHUP ended a process started with nohup"
stop_wcs

# available-now ends once every client that came has left. A client that
# connects meanwhile is read to its end or refused, never let in by the
# kernel and reset unread when the run ends (nc -N exits 0 then, its line
# lost): every nc that succeeded has its line counted. First a burst of
# clients, some of them in the backlog as the last one before them leaves.
port=$(free_port)
start_wcs --source "listen://127.0.0.1:$port" --trigger available-now --state an.db
wait_for err.txt "listening" 10
: >sent.txt
clients=()
for k in $(seq 1 100); do
    { if echo "w$k sent" | nc -N 127.0.0.1 "$port" 2>/dev/null; then echo "$k" >>sent.txt; fi; } &
    clients+=($!)
done
_bg_pids+=("${clients[@]}")
wait_for err.txt "stopped at batch" 30
wait "$WCS_PID" || fail "available-now exit $?"
WCS_PID=
for p in "${clients[@]}"; do wait "$p"; done
sent=$(wc -l <sent.txt)
[ "$sent" -gt 0 ] || fail "no client got in"
[ "$(sql an.db "select coalesce(sum(count), 0) from word_counts where word = 'sent'")" = "$sent" ] ||
    fail "$sent clients sent a line, $(sql an.db "select count from word_counts where word = 'sent'") counted"
# Then a client that comes after the last one left, while the query still
# runs (its other source, stdin, is open): refused, not let in and left
# hanging with its line unread (nc -N then waited past the run's end).
port=$(free_port)
mkfifo hold.fifo
exec 3<>hold.fifo
"$WCSTREAM" --source "listen://127.0.0.1:$port" --source stdin --trigger available-now \
    --state late.db <hold.fifo >out.txt 2>err.txt 3>&- &
WCS_PID=$!
wait_for err.txt "listening" 10
echo "first" | nc -N 127.0.0.1 "$port"
sleep 0.5
echo "late" | timeout 5 nc -N 127.0.0.1 "$port" 2>/dev/null &
late=$!
sleep 0.5
echo "stdin" >&3
exec 3>&-
wait "$WCS_PID" || fail "available-now exit $?"
WCS_PID=
rc=0
wait "$late" || rc=$?
[ "$rc" != 124 ] || fail "a client let in after the end was left hanging"
[ "$rc" != 0 ] || [ "$(sql late.db "select count(*) from word_counts where word = 'late'")" = 1 ] ||
    fail "a client let in after the end: nc exited 0, its line not counted"
[ "$(sql late.db "select group_concat(word) from (select word from word_counts order by word)")" = first,stdin ] ||
    fail "counts: $(sql late.db "select * from word_counts")"
echo ok
