# kafka:// against the local Kafka-protocol broker: exact counts from a
# 4-partition topic, exactly-once state across 10 kill -9 during
# consumption, offsets per topic (topics added, reordered, dropped), failOnDataLoss, startingOffsets, maxOffsetsPerTrigger (split
# by lag), big and binary messages, empty messages, a broker outage in the middle of the stream, two members of one
# group (eager and cooperative, a partition leaving and coming back), the
# sink's changelog and its outages, a topic that appears later, an
# unreachable broker, a topic deleted under the query, a failed
# authentication.
. "$(dirname "$0")/lib.sh"

start_broker --topic lines:4 --topic crash:4 --topic late:2 --topic outage:2 --topic counts:2 \
    --topic group:4 --topic coop:4 --topic souts:1 --topic souts2:1 --topic empties:1 --topic back:4 \
    --topic skew:4 --topic gone:2 --vanishing gone --topic blobs:1 --topic endq:2 --topic ta:2 \
    --topic tb:2 --topic quiet:2 --topic lq:3 --late latet
# The mock's rebalances wait session.timeout.ms - 1 s for the members, and
# every start of a member is one: 3 s keeps that wait at 2 s.
opts="kafka.session.timeout.ms=3000&kafka.heartbeat.interval.ms=500"

# A corpus over 4 partitions, counted as a batch job.
make_text 400000 1 >c1.txt
produce lines 4 c1.txt
"$WCSTREAM" --source "kafka://$BROKER/lines?startingOffsets=earliest&$opts" \
    --trigger available-now --state k.db --progress-log p.jsonl >out.txt 2>err.txt ||
    fail "available-now: exit $?"
check_counts k.db c1.txt
[ "$(sql k.db "select count(*) from offsets where source = 'kafka:lines'")" = 4 ] ||
    fail "per-partition offsets: $(sql k.db 'select * from offsets')"
$PY - <<'PY' || fail "progress offsets"
import json
p = [json.loads(l) for l in open("p.jsonl")][-1]
end = p["sources"][0]["endOffset"]["lines"]
assert sorted(end) == ["0", "1", "2", "3"], end
m = p["sources"][0]["metrics"]
assert sorted(m["offsetsBehindLatest"]) == ["lines/0", "lines/1", "lines/2", "lines/3"], m
assert m["maxOffsetsBehindLatest"] == 0, m  # available-now read it all
et = m["eventTimeMs"]
assert 1.5e12 < et["min"] <= et["max"], et  # the messages' timestamps
PY
# Nothing new: a second run adds nothing.
"$WCSTREAM" --source "kafka://$BROKER/lines?startingOffsets=earliest&$opts" \
    --trigger available-now --state k.db >out.txt 2>err.txt || fail "rerun: exit $?"
check_counts k.db c1.txt

# Offsets are kept per topic: a topic added, the topics in another order,
# one dropped, each reads on where it left off; none is read twice.
topics_run() {
    "$WCSTREAM" --source "kafka://$BROKER/$1?startingOffsets=Earliest&$opts" \
        --trigger available-now --state tt.db >out.txt 2>err.txt || fail "topics $1: exit $?"
}
seed=10
for f in ta1 tb1 ta2 tb2; do make_text 20000 $((seed += 1)) >"$f.txt"; done
produce ta 2 ta1.txt
topics_run ta
produce tb 2 tb1.txt
topics_run tb,ta
check_counts tt.db ta1.txt tb1.txt
produce ta 2 ta2.txt
topics_run ta,tb
check_counts tt.db ta1.txt tb1.txt ta2.txt
produce tb 2 tb2.txt
topics_run tb
check_counts tt.db ta1.txt tb1.txt ta2.txt tb2.txt
[ "$(sql tt.db "select group_concat(source, ' ') from (select distinct source from offsets order by 1)")" = \
    "kafka:ta kafka:tb" ] || fail "offsets per topic: $(sql tt.db 'select * from offsets')"
# A state of schema version 2 kept them under the list: converted when
# opened, so another list finds them.
sqlite3 tt.db "update offsets set source = 'kafka:tb,ta'; pragma user_version = 2"
make_text 20000 $((seed += 1)) >ta3.txt
produce ta 2 ta3.txt
topics_run ta
grep -q "schema version 2 upgraded to 3" err.txt || fail "no upgrade: $(cat err.txt)"
topics_run tb
check_counts tt.db ta1.txt tb1.txt ta2.txt tb2.txt ta3.txt

# The Kafka sink: a changelog whose last value per word is the state's
# count, as text and as JSON, over several batches.
"$WCSTREAM" --source "kafka://$BROKER/lines?startingOffsets=earliest&maxOffsetsPerTrigger=3000&$opts" \
    --trigger available-now --state sink.db --sink "kafka://$BROKER/counts?format=text" \
    --sink "kafka://$BROKER/countsj?format=json" >/dev/null 2>err.txt || fail "sink: exit $?"
kcat -C -b "$BROKER" -t counts -e -q -f '%k\t%s\n' >counts.tsv
kcat -C -b "$BROKER" -t countsj -e -q -f '%s\n' >countsj.jsonl
$PY "$HERE/counts.py" changelog sink.db counts.tsv || fail "the output topic does not match word_counts"
$PY - <<'PY' || fail "the JSON output topic does not match word_counts"
import json, sqlite3
want = dict(sqlite3.connect("sink.db").execute("select word, count from word_counts"))
lastj, batches = {}, set()
for line in open("countsj.jsonl"):
    m = json.loads(line)
    lastj[m["word"]] = max(m["count"], lastj.get(m["word"], 0))
    batches.add(m["batchId"])
assert lastj == want and len(batches) > 1, (len(lastj), batches)
PY
# A word too large for any Kafka message is skipped with a warning; the
# rest of its batch is sent, and the batch counts as delivered (it was
# replayed at every start before, and failed there again).
$PY -c 'print("hello world " + "x" * 1000100 + " zzz")' >big.txt
"$WCSTREAM" --source stdin --trigger available-now --state big.db \
    --sink "kafka://$BROKER/bigout" <big.txt >/dev/null 2>err.txt || fail "a too large result: exit $?"
grep -q "1 results of batch 0 are larger than a Kafka message" err.txt ||
    fail "no warning of a too large result: $(tail -3 err.txt)"
[ "$(kcat -C -b "$BROKER" -t bigout -e -q -f '%k\n' | sort | tr '\n' ' ')" = "hello world zzz " ] ||
    fail "the rest of the batch was not sent"
"$WCSTREAM" --source stdin --trigger available-now --state big.db \
    --sink "kafka://$BROKER/bigout" <<<"more" >/dev/null 2>err.txt ||
    fail "a restart after a too large result: exit $? $(tail -3 err.txt)"

# Stored offsets no longer on the broker: failOnDataLoss=true (the
# default) stops with a clear error and exit 1; false goes on from the
# earliest offset still there. (In one CI run of many the group's join
# never ended here: the consumer group's debug lines are kept for the
# next time, and fail() shows their tail.)
cp k.db lost.db
sqlite3 lost.db "update offsets set offset = 999999 where partition = 'lines/0'"
rc=0
timeout 60 "$WCSTREAM" --log-level debug --state lost.db --trigger 100ms \
    --source "kafka://$BROKER/lines?$opts&kafka.debug=cgrp&kafka.log_level=7" >/dev/null 2>err.txt ||
    rc=$?
[ "$rc" = 1 ] || fail "data loss with failOnDataLoss=true: exit $rc"
grep -q "no longer on the broker" err.txt || fail "unclear data-loss error: $(tail -3 err.txt)"
start_wcs --source "kafka://$BROKER/lines?failOnDataLoss=false&$opts" --state lost.db --trigger 100ms
wait_total lost.db $(($(count_words c1.txt) + 1)) 60 # partition 0 read again
stop_wcs
[ "$WCS_RC" = 0 ] || fail "failOnDataLoss=false: exit $WCS_RC"

# The same with available-now, a stored offset past the partition's end
# (the topic recreated or truncated since): exit 1, not a run that ends at
# once having read nothing; with failOnDataLoss=false, the partition is
# read again from its earliest offset.
cp k.db lostan.db
sqlite3 lostan.db "update offsets set offset = 999999 where partition = 'lines/0'"
rc=0
timeout 60 "$WCSTREAM" --state lostan.db --trigger available-now \
    --source "kafka://$BROKER/lines?$opts" >/dev/null 2>err.txt || rc=$?
[ "$rc" = 1 ] || fail "data loss with available-now: exit $rc"
grep -q "no longer on the broker (offset 999999 of lines/0 is past its end" err.txt ||
    fail "unclear data-loss error with available-now: $(tail -3 err.txt)"
timeout 60 "$WCSTREAM" --state lostan.db --trigger available-now \
    --source "kafka://$BROKER/lines?failOnDataLoss=false&$opts" >/dev/null 2>err.txt ||
    fail "failOnDataLoss=false with available-now: exit $?"
[ "$(sql lostan.db "select max(total_words) from batches")" -gt "$(count_words c1.txt)" ] ||
    fail "available-now did not read lines/0 again: $(sql lostan.db 'select * from offsets')"

# kill -9 while consuming, 10 times; the state's offsets win on restart.
make_text 1500000 2 >c2.txt
produce crash 4 c2.txt
crash_loop crash.db 10 5 \
    --source "kafka://$BROKER/crash?startingOffsets=earliest&maxOffsetsPerTrigger=400&$opts"
"$WCSTREAM" --source "kafka://$BROKER/crash?startingOffsets=earliest&$opts" \
    --trigger available-now --state crash.db >/dev/null 2>err.txt || fail "final run: exit $?"
[ "$(sql crash.db 'select max(batch_id) from batches')" -gt "$LAST_BATCH" ] || fail "kills came too late"
check_counts crash.db c2.txt

# maxOffsetsPerTrigger bounds every batch (one line per message here).
"$WCSTREAM" --source "kafka://$BROKER/lines?startingOffsets=earliest&maxOffsetsPerTrigger=1000&$opts" \
    --trigger available-now --state max.db >/dev/null 2>err.txt || fail "maxOffsets: exit $?"
check_counts max.db c1.txt
[ "$(sql max.db 'select max(num_input_rows) from batches')" -le 1000 ] || fail "a batch over 1000"
[ "$(sql max.db 'select count(*) from batches')" -ge 5 ] || fail "too few batches"

# ... and is split over the partitions in proportion to their lag: 2000,
# 500, 0 and 700 messages, 300 a batch.
for p in 0 1 2 3; do
    n=$((p == 0 ? 2000 : p == 1 ? 500 : p == 2 ? 0 : 700))
    [ "$n" -gt 0 ] && seq -f "p$p-%g" "$n" | kcat -P -b "$BROKER" -t skew -p "$p"
done
"$WCSTREAM" --source "kafka://$BROKER/skew?startingOffsets=earliest&maxOffsetsPerTrigger=300&$opts" \
    --trigger available-now --state skew.db --progress-log skew.jsonl >/dev/null 2>err.txt ||
    fail "skewed partitions: exit $?"
[ "$(sql skew.db 'select sum(count) from word_counts')" = 3200 ] || fail "skew: not every message"
$PY - <<'PY' || fail "maxOffsetsPerTrigger is not split by lag"
import json
produced = {"0": 2000, "1": 500, "2": 0, "3": 700}
pos = dict.fromkeys(produced, 0)
checked = 0
for i, line in enumerate(open("skew.jsonl")):
    src = json.loads(line)["sources"][0]
    end = (src["endOffset"] or {}).get("skew", {})
    start = (src["startOffset"] or {}).get("skew", {})
    # startOffset names every partition the batch read, at its start
    assert start == {p: pos[p] for p in end if end[p] > pos[p]}, (i, start, pos, end)
    lag = {p: produced[p] - pos[p] for p in produced}
    took = {p: end.get(p, pos[p]) - pos[p] for p in produced}
    total = sum(lag.values())
    if i > 0 and total > 300:  # the first batch may start before any watermark is known
        assert sum(took.values()) == 300, (i, took)
        for p in produced:
            assert abs(took[p] - 300 * lag[p] / total) <= 1, (i, p, took, lag)
        checked += 1
    pos.update({p: end.get(p, pos[p]) for p in produced})
assert checked >= 3, checked
print("split by lag in %d batches" % checked)
PY
# available-now with the bound ends at the ends it started with, however
# much arrives meanwhile: the shares go by the lag up to those ends (a
# partition at its end that grew behind them took every share, and the
# run waited for ever).
seq -f "p1-%g" 1000 | kcat -P -b "$BROKER" -t endq -p 1
"$WCSTREAM" --source "kafka://$BROKER/endq?startingOffsets=earliest&maxOffsetsPerTrigger=100&$opts" \
    --trigger available-now --state endq.db >/dev/null 2>err.txt &
endq=$!
_bg_pids+=("$endq")
wait_for err.txt "assigned endq/0" 20
seq -f "p0-%g" 20000 | kcat -P -b "$BROKER" -t endq -p 0
rc=0
timeout 60 tail --pid="$endq" -f /dev/null || rc=$?
[ "$rc" = 0 ] || fail "available-now with shares did not end"
wait "$endq" || fail "available-now with shares: exit $?"
[ "$(sql endq.db 'select sum(count) from word_counts')" = 1000 ] ||
    fail "endq: $(sql endq.db 'select sum(count) from word_counts') words, not the 1000 before the end"

# The split by lag also holds for partitions started at latest that have
# not been read yet: their lag counts from where they started, not from
# their end now (which gave them no lag, so no share: each partition
# waited for the one before it to catch up).
start_wcs --source "kafka://$BROKER/lq?maxOffsetsPerTrigger=100&$opts" --state lq.db \
    --trigger 200ms --progress-log lq.jsonl
wait_for err.txt "assigned lq/2" 30
for p in 0 1 2; do seq -f "p$p-%g" 1000 | kcat -P -b "$BROKER" -t lq -p "$p"; done
wait_total lq.db 3000 60
stop_wcs
$PY - <<'PY' || fail "partitions started at latest are not split by lag"
import json
pos, waited, worst = dict.fromkeys("012", 0), dict.fromkeys("012", 0), 0
for i, line in enumerate(open("lq.jsonl")):
    end = (json.loads(line)["sources"][0]["endOffset"] or {}).get("lq", {})
    # batches in a row that left a partition with lag unread (a partition
    # that took its share is refetched after the commit, so it may miss
    # the next batch); the first ones may start while kcat produces
    for p in pos:
        waited[p] = waited[p] + 1 if i > 1 and pos[p] < 1000 and p not in end else 0
        worst = max(worst, waited[p])
    pos.update(end)
assert worst <= 3, "a partition with lag went unread for %d batches in a row" % worst
PY

# Streaming with the bound: once caught up, new messages keep coming in;
# the dashboard's /metrics shows the consumer lag.
http=$(free_port)
start_wcs --source "kafka://$BROKER/skew?startingOffsets=earliest&maxOffsetsPerTrigger=300&$opts" \
    --trigger 200ms --state skew.db --sink "ws://127.0.0.1:$http"
sleep 2 # caught up: every lag is 0
seq -f "late-%g" 50 | kcat -P -b "$BROKER" -t skew -p 2
wait_total skew.db 3250 30
for _ in $(seq 1 100); do # a batch after that one, empty or not, sees the last lag
    curl -sf "http://127.0.0.1:$http/metrics" >lag.txt || true
    grep -q '^wcstream_source_lag_offsets{source="kafka://.*/skew?.*"} 0$' lag.txt && break
    sleep 0.1
done
grep -q '^wcstream_source_lag_offsets{source="kafka://.*/skew?.*"} 0$' lag.txt ||
    fail "no Kafka lag of 0 in /metrics in 10 s: $(grep lag lag.txt)"
stop_wcs

# Big and binary messages are text like any other: a 3 MB message of lines
# and 256 KiB of random bytes (NULs, invalid UTF-8, a last line without a
# newline) are counted exactly.
make_text 3000000 13 >big.txt
$PY -c 'import random, sys; r = random.Random(7); sys.stdout.buffer.write(r.randbytes(262144))' >bin.dat
kcat -P -b "$BROKER" -t blobs -X message.max.bytes=10000000 big.txt bin.dat || fail "kcat blobs"
"$WCSTREAM" --source "kafka://$BROKER/blobs?startingOffsets=earliest&$opts" \
    --trigger available-now --state blobs.db >/dev/null 2>err.txt || fail "blobs: exit $?"
check_counts blobs.db big.txt bin.dat
[ "$(sql blobs.db 'select sum(num_input_rows) from batches')" = \
    "$(($(wc -l <big.txt) + $(wc -l <bin.dat) + 1))" ] || fail "blobs: lines miscounted"

# startingOffsets=latest: what was there before the start is skipped.
make_text 20000 3 >old.txt
make_text 20000 4 >new.txt
produce late 2 old.txt
start_wcs --source "kafka://$BROKER/late?startingOffsets=latest&$opts" --state late.db --trigger 100ms
wait_for err.txt "assigned late/1" 30
sleep 1
produce late 2 new.txt
wait_total late.db "$(count_words new.txt)" 30
sleep 0.5
stop_wcs
check_counts late.db new.txt

# startingOffsets=latest starts a partition there once: a partition that
# got nothing while the query ran (so no batch wrote its offset) starts
# where the last run had it, not at latest again, after a stop or a kill -9;
# what arrived while the query was down is counted.
quiet_run() {
    start_wcs --source "kafka://$BROKER/quiet?startingOffsets=latest&$opts" --state quiet.db \
        --trigger 100ms
    wait_for err.txt "assigned quiet/1" 30
}
echo before | kcat -P -b "$BROKER" -t quiet -p 1
quiet_run
sleep 1
echo first | kcat -P -b "$BROKER" -t quiet -p 0
wait_total quiet.db 1 30
stop_wcs
echo second | kcat -P -b "$BROKER" -t quiet -p 1
quiet_run
wait_total quiet.db 2 30
echo third | kcat -P -b "$BROKER" -t quiet -p 0
wait_total quiet.db 3 30
kill -9 "$WCS_PID"
wait "$WCS_PID" 2>/dev/null || true
echo fourth | kcat -P -b "$BROKER" -t quiet -p 1
quiet_run
wait_total quiet.db 4 30
stop_wcs
[ "$(sql quiet.db "select group_concat(word, ' ') from (select word from word_counts order by 1)")" = \
    "first fourth second third" ] || fail "latest on a restart: $(sql quiet.db 'select * from word_counts')"

# A broker outage mid-stream: it waits, says so, and resumes without loss.
make_text 60000 5 >o1.txt
make_text 60000 6 >o2.txt
produce outage 2 o1.txt
start_wcs --source "kafka://$BROKER/outage?startingOffsets=earliest&$opts" --state out.db --trigger 100ms
wait_total out.db "$(count_words o1.txt)" 30
kill -USR1 "$BROKER_PID"
sleep 2 # shorter than a session: the member stays in the group
kill -0 "$WCS_PID" || fail "died when the broker went down"
kill -USR2 "$BROKER_PID"
produce outage 2 o2.txt
wait_total out.db "$(count_words o1.txt o2.txt)" 60
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC after the outage"
check_counts out.db o1.txt o2.txt

# A topic that does not exist yet: wait for it, read it once it is there.
# (librdkafka's mock creates a subscribed topic at once, so this checks the
# waiting side; a real cluster logs "topic ... does not exist (yet)".)
make_text 5000 8 >t.txt
start_wcs --source "kafka://$BROKER/newtopic?startingOffsets=earliest&$opts" --state new.db \
    --trigger 100ms
sleep 2
kill -0 "$WCS_PID" || fail "gave up on a topic that is not there yet"
produce newtopic 1 t.txt
wait_total new.db "$(count_words t.txt)" 30
stop_wcs

# The same on a cluster that does not make topics on demand (--late: the
# topic is unknown until SIGURG), with startingOffsets=latest: the topic
# is new, so it is read from its first message, as Spark reads partitions
# that appear after its start. (It started at the end the topic had when
# the group first assigned it, skipping what came before.)
start_wcs --source "kafka://$BROKER/latet?kafka.topic.metadata.refresh.interval.ms=2000&$opts" \
    --state latet.db --trigger 100ms
wait_for err.txt "topic latet does not exist \(yet\); waiting for it" 30
kill -URG "$BROKER_PID"
sleep 0.2
echo early | kcat -P -b "$BROKER" -t latet -p 0
wait_for err.txt "assigned latet/0" 30
echo later | kcat -P -b "$BROKER" -t latet -p 1
wait_total latet.db 2 30
stop_wcs
[ "$(sql latet.db "select group_concat(word, ' ') from (select word from word_counts order by 1)")" = \
    "early later" ] || fail "a new topic with latest: $(sql latet.db 'select * from word_counts')"

# Two processes in one group, each with its own state: together they count
# every message once, and when one stops the other takes its partitions
# from the group's committed offsets.
total_of() { sql "$1" 'select coalesce(max(total_words), 0) from batches' 2>/dev/null || echo 0; }
wait_sum() { # WANT: until ga.db + gb.db hold WANT words
    for _ in $(seq 1 600); do
        [ $(($(total_of ga.db) + $(total_of gb.db))) -ge "$1" ] && return 0
        sleep 0.1
    done
    fail "the group reached $(($(total_of ga.db) + $(total_of gb.db))) words, not $1"
}
# One round: members A and B count FIRST together; A stops; B counts
# SECOND alone, from A's partitions' committed offsets. URI FIRST SECOND
group_round() {
    local uri=$1 first=$2 second=$3 a b
    rm -f ga.db* gb.db*
    "$WCSTREAM" --source "$uri" --state ga.db --trigger 200ms >ga.out 2>ga.err &
    a=$!
    _bg_pids+=("$a")
    "$WCSTREAM" --source "$uri" --state gb.db --trigger 200ms >gb.out 2>gb.err &
    b=$!
    _bg_pids+=("$b")
    wait_sum "$(count_words "$first")"
    sleep 1
    check_counts ga.db+gb.db "$first"
    [ "$(total_of ga.db)" -gt 0 ] && [ "$(total_of gb.db)" -gt 0 ] ||
        log "one member got every partition (ga $(total_of ga.db), gb $(total_of gb.db))"
    kill -TERM "$a"
    wait "$a" || fail "member A: exit $?"
    produce "$(basename "${uri%%\?*}")" 4 "$second"
    wait_sum "$(count_words "$first" "$second")"
    sleep 1
    check_counts ga.db+gb.db "$first" "$second"
    kill -TERM "$b"
    wait "$b" || fail "member B: exit $?"
}
make_text 200000 9 >g1.txt
make_text 100000 10 >g2.txt
produce group 4 g1.txt
group_round "kafka://$BROKER/group?group=shared&startingOffsets=earliest&$opts" g1.txt g2.txt

# The same with cooperative rebalancing (incremental assign/unassign).
make_text 100000 11 >g3.txt
produce coop 4 g3.txt
group_round "kafka://$BROKER/coop?group=coop&startingOffsets=earliest&kafka.partition.assignment.strategy=cooperative-sticky&$opts" \
    g3.txt g1.txt

# Empty messages (keys only) move offsets without text: they commit too, so
# maxOffsetsPerTrigger never stalls on them and available-now ends.
printf 'k1:\nk2:\nk3:\nk4:x y\nk5:\nk6:z\n' | kcat -P -b "$BROKER" -t empties -p 0 -K: || fail "kcat"
printf 'x y\nz\n' >empties.txt
timeout 60 "$WCSTREAM" --source "kafka://$BROKER/empties?startingOffsets=earliest&maxOffsetsPerTrigger=2&$opts" \
    --trigger available-now --state empties.db >/dev/null 2>err.txt || fail "empty messages: exit $?"
check_counts empties.db empties.txt
[ "$(sql empties.db "select offset from offsets where partition = 'empties/0'")" = 6 ] ||
    fail "the offsets of empty messages were not committed"

# A partition that comes back after another member moved it on resumes
# from the group's newer offset, not from this member's older state.
make_text 60000 13 >b1.txt
make_text 60000 14 >b2.txt
make_text 60000 15 >b3.txt
rm -f ga.db* gb.db*
produce back 4 b1.txt
buri="kafka://$BROKER/back?group=back&startingOffsets=earliest&$opts"
"$WCSTREAM" --source "$buri" --state ga.db --trigger 200ms >ga.out 2>ga.err &
a=$!
_bg_pids+=("$a")
wait_sum "$(count_words b1.txt)"
"$WCSTREAM" --source "$buri" --state gb.db --trigger 200ms >gb.out 2>gb.err &
b=$!
_bg_pids+=("$b")
wait_for gb.err "assigned back/" 30
produce back 4 b2.txt
wait_sum "$(count_words b1.txt b2.txt)"
kill -TERM "$b"
wait "$b" || fail "member B: exit $?"
produce back 4 b3.txt
wait_sum "$(count_words b1.txt b2.txt b3.txt)"
sleep 1
check_counts ga.db+gb.db b1.txt b2.txt b3.txt
kill -TERM "$a"
wait "$a" || fail "member A: exit $?"

# The sink during a broker outage: it waits (bounded, logged) and delivers
# everything once the broker is back; nothing is dropped.
make_text 30000 12 >s.txt
outage_run() { # NAME: with the broker paused, s.txt from dir NAME to topic NAME
    mkdir -p "$1" && cp s.txt "$1/"
    kill -USR1 "$BROKER_PID"
    start_wcs --source "file://$TEST_OUT/$1" --state "$1.db" --trigger 100ms \
        --sink "kafka://$BROKER/$1?format=text"
    wait_for err.txt "waiting for the broker to take batch 0" 30
}
outage_run souts
kill -USR2 "$BROKER_PID"
wait_for err.txt "batch 0 delivered" 60
stop_wcs
[ "$WCS_RC" = 0 ] || fail "sink outage: exit $WCS_RC"
kcat -C -b "$BROKER" -t souts -e -q -f '%k\t%s\n' >souts.tsv
$PY "$HERE/counts.py" changelog souts.db souts.tsv || fail "the sink lost results in the outage"

# Stopped while the broker is down: exit 1, and the log says how many
# results were not delivered.
outage_run souts2
stop_wcs
kill -USR2 "$BROKER_PID"
[ "$WCS_RC" = 1 ] || fail "stopped with undelivered results: exit $WCS_RC, want 1"
grep -q "wcstream: sink kafka://.*not delivered" err.txt || fail "no final sentence: $(tail -2 err.txt)"
# At-least-once: the next start sends the whole state again (the batch may
# never have reached the topic), and then the changelog holds every count.
"$WCSTREAM" --source "file://$TEST_OUT/souts2" --state souts2.db --trigger available-now \
    --sink "kafka://$BROKER/souts2?format=text" >/dev/null 2>err.txt || fail "replay: exit $?"
grep -q "sending all .* counts again" err.txt || fail "no replay: $(tail -2 err.txt)"
kcat -C -b "$BROKER" -t souts2 -e -q -f '%k\t%s\n' >souts2.tsv
$PY "$HERE/counts.py" changelog souts2.db souts2.tsv || fail "the replay did not deliver the state"
# Delivered now: a start without new data sends nothing again.
"$WCSTREAM" --source "file://$TEST_OUT/souts2" --state souts2.db --trigger available-now \
    --sink "kafka://$BROKER/souts2?format=text" >/dev/null 2>err.txt || fail "exit $?"
! grep -q "counts again" err.txt || fail "replayed a delivered batch"

# A second SIGTERM once the query has ended ends the teardown at once:
# here the producer's last flush, which waits up to 5 s for the broker.
outage_run souts4
kill -TERM "$WCS_PID"
wait_for err.txt "stopping with .* not delivered" 10
sleep 0.5
stop_wcs
kill -USR2 "$BROKER_PID"
[ "$WCS_RC" = 143 ] || fail "a second SIGTERM in the teardown: exit $WCS_RC, want 143 (killed)"

# A batch larger than the producer's queue, the broker down: the query
# blocks on the full queue, logged as any wait (it was silent), and a
# stop counts what was still to be produced as not delivered.
mkdir -p souts6 && seq -f "w%g" 1000 >souts6/a.txt
kill -USR1 "$BROKER_PID"
start_wcs --source "file://$TEST_OUT/souts6" --state souts6.db --trigger 100ms \
    --sink "kafka://$BROKER/souts6?kafka.queue.buffering.max.messages=100"
wait_for err.txt "waiting for the broker to take batch 0" 30
stop_wcs
kill -USR2 "$BROKER_PID"
[ "$WCS_RC" = 1 ] || fail "stopped on a full queue: exit $WCS_RC, want 1"
grep -q "wcstream: sink kafka://.*stopping with 1000 results of batch 0 not delivered" err.txt ||
    fail "not how many results were not delivered: $(tail -2 err.txt)"

# Bring the broker back and append WORD1, WORD2... to FILE until a batch
# gets through to the sink, which then sends the whole state again.
broker_back() {
    kill -USR2 "$BROKER_PID"
    for i in $(seq 30); do
        echo "$2$i" >>"$1"
        sleep 1
        grep -q "counts again, for the batches it missed" err.txt && break
    done
    sleep 1
}

# A batch the sink failed to deliver is not covered by a later one that
# got through: with that later batch the whole state goes out again.
mkdir -p sin3
echo alpha >sin3/a.txt
sink3="kafka://$BROKER/souts3?format=text&kafka.message.timeout.ms=2000&kafka.reconnect.backoff.max.ms=500"
start_wcs --source "file://$TEST_OUT/sin3" --state so3.db --trigger 100ms --sink "$sink3"
wait_for err.txt "batch 0:" 30
kill -USR1 "$BROKER_PID"
echo beta >sin3/b.txt
wait_for err.txt "results of batch 1 not delivered" 30
broker_back sin3/c.txt gamma
stop_wcs
# A restart replays only what the marks say was missed (a batch after the
# replay may have failed in turn); it must not be what brings beta.
"$WCSTREAM" --source "file://$TEST_OUT/sin3" --state so3.db --trigger available-now \
    --sink "$sink3" >/dev/null 2>err.txt || fail "exit $?"
kcat -C -b "$BROKER" -t souts3 -e -q -f '%k\t%s\n' >souts3.tsv
$PY "$HERE/counts.py" changelog so3.db souts3.tsv || fail "a failed batch was lost for good"

# The same at a start: a replay that fails (the broker down longer than
# message.timeout.ms) does not end the query; the whole state goes out
# with the first batch delivered after it.
mkdir -p sin5
echo delta >sin5/a.txt
sink5="kafka://$BROKER/souts5?format=text&kafka.message.timeout.ms=2000&kafka.reconnect.backoff.max.ms=500"
"$WCSTREAM" --source "file://$TEST_OUT/sin5" --state so5.db --trigger available-now >/dev/null \
    2>err.txt || fail "exit $?"
kill -USR1 "$BROKER_PID"
start_wcs --source "file://$TEST_OUT/sin5" --state so5.db --trigger 100ms --sink "$sink5"
wait_for err.txt "results of batch 0 not delivered" 30
sleep 1
kill -0 "$WCS_PID" || fail "a failed replay at the start ended the query: $(tail -2 err.txt)"
broker_back sin5/b.txt epsilon
stop_wcs
[ "$WCS_RC" = 0 ] || fail "a failed replay at the start: exit $WCS_RC"
kcat -C -b "$BROKER" -t souts5 -e -q -f '%k\t%s\n' >souts5.tsv
$PY "$HERE/counts.py" changelog so5.db souts5.tsv || fail "the state did not go out after a failed replay"

# An unreachable broker: keep trying, stop cleanly.
start_wcs --source "kafka://127.0.0.1:$(free_port)/lines?$opts" --state none.db --trigger 100ms
sleep 3
kill -0 "$WCS_PID" || fail "gave up on an unreachable broker"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "stop without a broker: exit $WCS_RC"

# A topic this query has read from disappears (deleted): with
# failOnDataLoss=true (the default) that is data loss: clear error, exit 1.
seq 100 | kcat -P -b "$BROKER" -t gone
start_wcs --source "kafka://$BROKER/gone?startingOffsets=earliest&kafka.topic.metadata.refresh.interval.ms=500&$opts" \
    --state gone.db --trigger 200ms
wait_total gone.db 100
kill -HUP "$BROKER_PID"
WCS_RC=0
wait "$WCS_PID" || WCS_RC=$?
WCS_PID=
[ "$WCS_RC" = 1 ] || fail "a vanished topic: exit $WCS_RC"
grep -q "wcstream: kafka://.*topic gone no longer exists" err.txt || fail "$(tail -1 err.txt)"

# A sink whose topic does not exist (the one just vanished): a batch whose
# messages the producer refuses outright is not delivered like any other,
# with how many results and why (it said only "Local: Unknown topic").
# The input's end then exits 1: the output is short of the last batch.
rc=0
(echo a b; sleep 2; echo c) | timeout 60 "$WCSTREAM" --source stdin --state sgone.db --trigger 500ms \
    --sink "kafka://$BROKER/gone?kafka.topic.metadata.propagation.max.ms=1000" >/dev/null 2>err.txt ||
    rc=$?
[ "$rc" = 1 ] || fail "a sink topic that does not exist: exit $rc"
grep -q "^wcstream: sink kafka://.*/gone?.*: batch 1 was not delivered; the next start sends it all" \
    err.txt || fail "the exit: $(tail -1 err.txt)"
grep -q "batch 0: 2 results of batch 0 not delivered" err.txt || fail "batch 0: $(tail -3 err.txt)"
grep -q "batch 1: 1 results of batch 1 not delivered: Local: Unknown topic" err.txt ||
    fail "a refused batch: $(tail -3 err.txt)"

# Authentication that fails (the local broker speaks no SASL): a clear
# error and exit 1, and the password is never printed.
rc=0
timeout 60 "$WCSTREAM" --source "kafka://$BROKER/lines?$opts&kafka.security.protocol=SASL_PLAINTEXT&kafka.sasl.mechanism=PLAIN&kafka.sasl.username=wc&kafka.sasl.password=hunter2" \
    --state auth.db --trigger 100ms 2>auth.txt || rc=$?
[ "$rc" = 1 ] || fail "failed authentication: exit $rc"
grep -q 'wcstream: kafka://.*SASL' auth.txt || fail "no clear sentence: $(tail -1 auth.txt)"
! grep -q hunter2 auth.txt || fail "the password was printed"
echo ok
