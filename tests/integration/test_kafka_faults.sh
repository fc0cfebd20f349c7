# kafka:// under broker and group faults, exactly once. (1) The brokers go
# down and come back five times at random moments while a bounded query
# consumes, two outages longer than the session timeout so that the group
# drops the member and it rejoins; more is produced between outages. The
# counts equal the ground truth, and every partition's batches follow on
# from one another with no gap and no overlap. (2) A third member joins
# and leaves a two-member group again and again while data keeps coming,
# so rebalances land while batches are read, with eager and with
# cooperative assignment: the three states together hold every word
# exactly once. (3) wcstream is killed (-9) while the brokers are down and
# started again once they are back: exact counts. (4) A member joins while
# the group's offsets cannot be read: it waits for them, exactly once.
# (5) An available-now query starts while the partitions' watermarks cannot
# be read: it waits for them, then reads to the end and stops. (6) An
# available-now query whose member the group drops in an outage waits to
# be assigned again, then reads to the end and stops.
#
# The local broker is librdkafka's mock cluster, which keeps its topics in
# memory: killing its process would lose them, which tests nothing about a
# restart. SIGUSR1 takes every broker down (connections dropped, new ones
# refused) and SIGUSR2 brings them back with the data intact, which is
# what a client sees of a real broker killed and restarted.
#
# Outage moments and lengths are random; the seed is logged and SEED=N
# replays the same choices (the timing still differs).
. "$(dirname "$0")/lib.sh"

start_broker --topic flap:4 --topic eager:4 --topic coop:4 --topic dead:2 --topic fetch:2 \
    --topic marks:2 --topic lost:2
# The mock's rebalances wait session.timeout.ms - 1 s for the members.
SESSION_MS=4000
opts="kafka.session.timeout.ms=$SESSION_MS&kafka.heartbeat.interval.ms=400"
seed=${SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$((seed % 32768))
log "seed $seed"

# Produce FILE to TOPIC's PARTITIONS with LINES lines a message, so a few MB
# are a few thousand messages. TOPIC PARTITIONS FILE LINES
produce_lines() {
    local topic=$1 parts=$2 file=$3 lines=$4 p
    split -n "l/$parts" -d "$file" "$file.part."
    for ((p = 0; p < parts; p++)); do
        awk -v n="$lines" '{ print } NR % n == 0 { printf "\036" }' "$file.part.0$p" |
            kcat -P -b "$BROKER" -t "$topic" -p "$p" -D '\x1e' || fail "kcat"
    done
    rm -f "$file".part.*
}

# A random time between LO and HI milliseconds, in seconds for sleep.
rand_s() {
    local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
    printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}

last_batch() { sql "$1" 'select coalesce(max(batch_id), -1) from batches' 2>/dev/null || echo -1; }

# Wait until STATE commits a batch after batch AFTER (default: its last).
wait_batch() { # STATE [AFTER [SECS]]
    local after=${2:-$(last_batch "$1")} secs=${3:-60} i
    for ((i = 0; i < secs * 20; i++)); do
        [ "$(last_batch "$1")" -gt "$after" ] && return 0
        sleep 0.05
    done
    fail "$1: no batch after $after in ${secs}s"
}

# Wait up to SECS for an available-now query to end by itself, with exit 0.
wait_end() { # SECS WHEN
    timeout "$1" tail --pid="$WCS_PID" -f /dev/null || fail "available-now did not end $2"
    WCS_RC=0
    wait "$WCS_PID" || WCS_RC=$?
    WCS_PID=
    [ "$WCS_RC" = 0 ] || fail "available-now $2: exit $WCS_RC"
}

# In the progress of every batch of STATE, each partition of TOPIC starts
# where the last batch that read it ended (the first at 0) and ends past
# its start; the last end is the state's offset.
check_offsets() { # STATE TOPIC
    $PY - "$1" "$2" <<'PY' || fail "$1: batch offsets not contiguous"
import json, sqlite3, sys
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
topic, last, n = sys.argv[2], {}, 0
for bid, prog in db.execute("select batch_id, progress from batches order by batch_id"):
    src = json.loads(prog)["sources"][0]
    start = (src["startOffset"] or {}).get(topic, {})
    end = (src["endOffset"] or {}).get(topic, {})
    assert sorted(start) == sorted(end), (bid, start, end)
    for p, e in end.items():
        assert start[p] == last.get(p, 0) and e > start[p], (bid, p, start[p], e, last.get(p))
        last[p] = e
        n += 1
stored = {k.split("/")[1]: v for k, v in db.execute(
    "select partition, offset from offsets where source = 'kafka:%s'" % topic)}
assert stored == last, (stored, last)
print("%s: %d partition ranges in order, ending at %s" % (sys.argv[1], n, last))
PY
}

# 1. Five outages while consuming. At 200 messages of 20 lines (about
# 100 KB) a batch the topic takes longer to read than the outages last;
# each comes at a random moment after the query is reading again, and more
# is produced after each. Reconnecting at most a second after a failure
# (librdkafka's backoff grows to 10 s) keeps the short outages short.
make_text 2000000 1 >f0.txt
produce_lines flap 4 f0.txt 20
files=(f0.txt)
start_wcs --source "kafka://$BROKER/flap?startingOffsets=earliest&maxOffsetsPerTrigger=200&$opts&kafka.reconnect.backoff.max.ms=1000" \
    --state flap.db --trigger 100ms
wait_batch flap.db -1 30
long=0
for i in 1 2 3 4 5; do
    sleep "$(rand_s 200 1500)"
    if [ $i = 2 ] || [ $i = 4 ]; then # the group drops the member
        down=$(rand_s $((SESSION_MS + 1000)) $((SESSION_MS + 2500)))
        long=$((long + 1))
    else
        down=$(rand_s 500 3000)
    fi
    at=$(last_batch flap.db)
    [ "$(sql flap.db 'select max(total_words) from batches')" -lt "$(count_words "${files[@]}")" ] ||
        fail "outage $i: the query had read everything already"
    log "outage $i: ${down}s after batch $at"
    kill -USR1 "$BROKER_PID"
    sleep "$down"
    kill -0 "$WCS_PID" || fail "wcstream died in outage $i"
    kill -USR2 "$BROKER_PID"
    make_text 300000 $((10 + i)) >f$i.txt
    produce_lines flap 4 f$i.txt 20
    files+=(f$i.txt)
    wait_batch flap.db "$at" 60 # reading again
done
wait_total flap.db "$(count_words "${files[@]}")" 120
sleep 0.5
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC after the outages"
check_counts flap.db "${files[@]}"
check_offsets flap.db flap
joins=$(grep -c "assigned flap/0 " err.txt)
[ "$joins" -gt "$long" ] || fail "the member joined $joins times, not after each long outage"
log "joined the group $joins times; ${SECONDS}s so far"

mv err.txt flap.err # fail() shows err.txt: from here on the members' logs matter

# 2. Members A and B of one group, each with its own state, and C joining
# and leaving while a producer keeps adding text: every join and leave is
# a rebalance under load. A half-second trigger lets messages pile up in
# the consumer's queue ahead of the rebalance's revocation, so that it
# often comes in the middle of a batch. With eager assignment a member
# reads only until its heartbeat hears of the rebalance; a heartbeat of
# 1.2 s (cooperative members keep reading through it, and in the mock
# settle only with a short one) leaves time for reads that the group
# refuses. C leaves only once it was given partitions (librdkafka 2.0.2
# asserts when a cooperative consumer closes before its first
# assignment). URI TOPIC
churn() {
    local uri=$1 topic=$2 a b c n i prod
    rm -f ga.db* gb.db* gc.db* chunk.*
    : >gc.err
    make_text 1000000 20 >chunk.000 # a backlog to start with
    produce "$topic" 4 chunk.000
    "$WCSTREAM" --source "$uri" --state ga.db --trigger 500ms >ga.out 2>ga.err &
    a=$!
    _bg_pids+=("$a")
    "$WCSTREAM" --source "$uri" --state gb.db --trigger 500ms >gb.out 2>gb.err &
    b=$!
    _bg_pids+=("$b")
    bg produce_loop "$topic"
    prod=${_bg_pids[-1]}
    for i in 1 2 3 4 5 6; do # three rounds, more until a rebalance met a read
        ((i > 3)) && { [ "$(met_reads)" -gt 0 ] || ! kill -0 "$prod" 2>/dev/null; } && break
        n=$(grep -c "assigned $topic/" gc.err || true)
        "$WCSTREAM" --source "$uri" --state gc.db --trigger 500ms >gc.out 2>>gc.err &
        c=$!
        _bg_pids+=("$c")
        for _ in $(seq 1 800); do
            [ "$(grep -c "assigned $topic/" gc.err)" -gt "$n" ] && break
            sleep 0.05
        done
        [ "$(grep -c "assigned $topic/" gc.err)" -gt "$n" ] || fail "$topic: C was given nothing in 40s"
        sleep "$(rand_s 0 1000)"
        kill -TERM "$c"
        wait "$c" || fail "member C: exit $?"
        sleep "$(rand_s 300 1500)"
    done
    touch stop.produce
    wait "$prod" || fail "the producer failed"
    rm -f stop.produce
    want=$(count_words chunk.*)
    for _ in $(seq 1 600); do
        [ $(($(total_of ga.db) + $(total_of gb.db) + $(total_of gc.db))) -ge "$want" ] && break
        sleep 0.1
    done
    sleep 1.5 # a last tick: nothing more may come
    kill -TERM "$a" "$b"
    wait "$a" || fail "member A: exit $?"
    wait "$b" || fail "member B: exit $?"
    check_counts ga.db+gb.db+gc.db chunk.*
    # Rebalances met batches: revocations held until the batch in hand
    # committed, and reads the group refused mid-rebalance.
    held=$(cat ga.err gb.err gc.err | grep -c 'after the batch in hand' || true)
    back=$(cat ga.err gb.err gc.err | grep -c 'did not take' || true)
    log "$topic: $held revocations held for a batch, $back reads put back; ${SECONDS}s so far"
    [ $((held + back)) -gt 0 ] || fail "$topic: no rebalance came while the members were reading"
}
met_reads() { cat ga.err gb.err gc.err | grep -c -e 'after the batch in hand' -e 'did not take' || true; }
total_of() { sql "$1" 'select coalesce(max(total_words), 0) from batches' 2>/dev/null || echo 0; }
# 100 KB of one-line messages every 0.1 s until stop.produce exists, 10 MB
# at most: the mock broker keeps about 5 MiB a partition, and a slow churn
# (rebalances of 10 s each under ASan on a busy machine) once produced 17 MB
# before any member claimed a batch, so the first offsets were gone and
# the members stopped on the data loss. Each chunk is kept for the ground
# truth. TOPIC
produce_loop() {
    local k=1 f
    while [ ! -e stop.produce ] && ((k <= 100)); do
        f=$(printf 'chunk.%03d' $k)
        make_text 100000 $((100 + k)) >"$f"
        produce "$1" 4 "$f"
        k=$((k + 1))
        sleep 0.1
    done
}
churn "kafka://$BROKER/eager?group=eager&startingOffsets=earliest&kafka.session.timeout.ms=$SESSION_MS&kafka.heartbeat.interval.ms=1200" eager
churn "kafka://$BROKER/coop?group=coop&startingOffsets=earliest&kafka.partition.assignment.strategy=cooperative-sticky&$opts" coop

# 3. kill -9 while the brokers are down, a start once they are back.
make_text 1000000 30 >d1.txt
make_text 200000 31 >d2.txt
produce_lines dead 2 d1.txt 20
duri="kafka://$BROKER/dead?startingOffsets=earliest&maxOffsetsPerTrigger=100&$opts"
start_wcs --source "$duri" --state dead.db --trigger 100ms
wait_batch dead.db 3 30
kill -USR1 "$BROKER_PID"
sleep "$(rand_s 300 2000)"
kill -9 "$WCS_PID"
{ wait "$WCS_PID"; } 2>/dev/null || true
WCS_PID=
[ "$(sql dead.db 'select max(total_words) from batches')" -lt "$(count_words d1.txt)" ] ||
    fail "the kill came after the topic was read"
log "killed at batch $(last_batch dead.db) with the brokers down"
sleep 1
kill -USR2 "$BROKER_PID"
start_wcs --source "$duri" --state dead.db --trigger 100ms
produce_lines dead 2 d2.txt 20
wait_total dead.db "$(count_words d1.txt d2.txt)" 120
sleep 0.5
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC after the restart"
check_counts dead.db d1.txt d2.txt
check_offsets dead.db dead

# 4. The group's offsets cannot be read when partitions are assigned: the
# member must not start from its own state, behind another member's
# progress, and count that again. Member A counts f1 in group "fetch"; B,
# with a new state, joins while every OffsetFetch fails (SIGWINCH to the
# broker), holds its partitions unread, and starts from A's offsets once
# the group answers again: A and B together hold f1 and f2 once.
make_text 200000 40 >f1.txt
make_text 100000 41 >f2.txt
produce_lines fetch 2 f1.txt 20
furi="kafka://$BROKER/fetch?group=fetch&startingOffsets=earliest&$opts"
"$WCSTREAM" --source "$furi" --state fa.db --trigger available-now >/dev/null 2>fa.err ||
    fail "member A: exit $?: $(tail -3 fa.err)"
produce_lines fetch 2 f2.txt 20
kill -WINCH "$BROKER_PID"
start_wcs --source "$furi" --state fb.db --trigger 100ms
wait_for "$TEST_OUT/err.txt" "cannot read the group's committed offsets" 60
sleep 2
[ "$(last_batch fb.db)" = -1 ] || fail "B read before it knew the group's offsets"
kill -WINCH "$BROKER_PID"
wait_for "$TEST_OUT/err.txt" "read the group's offset of fetch/1" 30
wait_total fb.db "$(count_words f2.txt)" 30
sleep 0.5
stop_wcs
[ "$WCS_RC" = 0 ] || fail "member B: exit $WCS_RC"
check_counts fa.db+fb.db f1.txt f2.txt
# The same with available-now and startingOffsets=latest: C must not take
# its partitions for read to their end before it knows where they start.
make_text 100000 42 >f3.txt
produce_lines fetch 2 f3.txt 20
kill -WINCH "$BROKER_PID"
start_wcs --source "kafka://$BROKER/fetch?group=fetch&$opts" --state fc.db --trigger available-now
wait_for "$TEST_OUT/err.txt" "cannot read the group's committed offsets" 60
sleep 2
kill -0 "$WCS_PID" 2>/dev/null || fail "C ended before it knew the group's offsets"
kill -WINCH "$BROKER_PID"
WCS_RC=0
wait "$WCS_PID" || WCS_RC=$?
WCS_PID=
[ "$WCS_RC" = 0 ] || fail "member C: exit $WCS_RC"
check_counts fa.db+fb.db+fc.db f1.txt f2.txt f3.txt

# 5. Available-now needs each partition's end (its high watermark at the
# start): until ListOffsets answers (SIGALRM to the broker) the query must
# neither read nor end, and once it answers it reads to the end and stops.
make_text 100000 43 >f5.txt
produce_lines marks 2 f5.txt 20
kill -ALRM "$BROKER_PID"
start_wcs --source "kafka://$BROKER/marks?startingOffsets=earliest&$opts" --state f5.db \
    --trigger available-now
wait_for "$TEST_OUT/err.txt" "cannot read the watermarks of marks/" 60
sleep 2
kill -0 "$WCS_PID" 2>/dev/null || fail "the query ended before it knew the partitions' ends"
[ "$(last_batch f5.db)" = -1 ] || fail "the query read before it knew the partitions' ends"
kill -ALRM "$BROKER_PID"
wait_for "$TEST_OUT/err.txt" "read the group's offset of marks/1" 30
wait_end 60 "once the ends were known"
check_counts f5.db f5.txt

# 6. Partitions revoked, or lost with the member, do not end an
# available-now query: having none is not having read them.
make_text 200000 44 >f6.txt
produce_lines lost 2 f6.txt 20
start_wcs --source "kafka://$BROKER/lost?startingOffsets=earliest&maxOffsetsPerTrigger=5&$opts" \
    --state f6.db --trigger available-now
wait_batch f6.db -1 30
kill -USR1 "$BROKER_PID"
sleep "$(rand_s $((SESSION_MS + 1500)) $((SESSION_MS + 2500)))"
kill -USR2 "$BROKER_PID"
wait_end 120 "after the group dropped the member"
check_counts f6.db f6.txt
log "${SECONDS}s in all"
echo ok
