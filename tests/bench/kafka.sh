# tests/bench/kafka.sh - workload (d): `--source kafka://...` with
# `--trigger available-now` through the local broker.
#
# Sourced by bench.sh (needs lib.sh). One function:
#
#   kafka_runs RUNS
#
# Starts build/kafka_broker (tests/support/kafka_broker.c: librdkafka's
# mock cluster on loopback) with a topic of 4 partitions and, before any
# clock runs, produces corpus "kafka" into it with kcat, one message per
# line, the lines split into 4 contiguous parts, one per partition (as
# tests/integration/lib.sh's produce does). The corpus is the head of the
# natural one: the mock broker keeps only about 5 MiB per partition (log
# bytes, message overhead included) and silently drops older messages past
# that, so bench.sh cuts it to fit (BENCH_KAFKA_MB, default 15 MB).
#
# Each run is a new consumer group (group=bench-RUN-PID: a group that has
# committed offsets would start at the end) with startingOffsets=earliest
# and a fresh state, timed under GNU time from wcstream's start to its exit:
# joining the group, reading every partition to the end offset it had when
# assigned, committing, exiting. The state must hold exactly the corpus's
# counts: a message the broker dropped shows there too. Most of a run is
# the consumer group's join; report.py also gives the rate from the
# partitions' assignment (wcstream's log line) to the exit.

# shellcheck shell=bash

KAFKA_TOPIC=lines
KAFKA_PARTITIONS=4

kafka_runs() {
    local runs=$1 r p path want state log err broker addr label uri
    path=${CORPUS_PATH[kafka]}
    want=$(ref_fp "$path")
    state=$DIR/kafka.db
    rm -f "$DIR/broker.addr"
    spawn build/kafka_broker --topic "$KAFKA_TOPIC:$KAFKA_PARTITIONS" \
        --bootstrap-file "$DIR/broker.addr" </dev/null >/dev/null 2>"$DIR/broker.err"
    broker=$SPAWNED
    for ((r = 0; r < 600; r++)); do # the mock may take seconds (tests/integration/lib.sh)
        [[ -s $DIR/broker.addr ]] && break
        sleep 0.05
    done
    if ! addr=$(cat "$DIR/broker.addr" 2>/dev/null) || [[ -z $addr ]]; then
        fail "kafka" "the local broker did not start: $(cat "$DIR/broker.err")"
        kill_reap "$broker"
        return 0
    fi
    split -n "l/$KAFKA_PARTITIONS" -d "$path" "$DIR/kafka.part."
    for ((p = 0; p < KAFKA_PARTITIONS; p++)); do
        if ! kcat -P -b "$addr" -t "$KAFKA_TOPIC" -p "$p" -l "$DIR/kafka.part.0$p"; then
            fail "kafka" "kcat could not produce partition $p"
            kill_reap "$broker"
            return 0
        fi
    done
    rm -f "$DIR"/kafka.part.*
    say "kafka: ${CORPUS_BYTES[kafka]} bytes produced to $KAFKA_TOPIC" \
        "($KAFKA_PARTITIONS partitions) at $addr"
    for ((r = 1; r <= runs; r++)); do
        label="kafka:// available-now, run $r/$runs"
        log=$DIR/kafka-$r.progress.jsonl
        err=$DIR/kafka-$r.err
        rm -f "$state" "$state-wal" "$state-shm" "$log"
        uri="kafka://$addr/$KAFKA_TOPIC?group=bench-$r-$$&startingOffsets=earliest"
        uri+="&kafka.session.timeout.ms=6000&kafka.heartbeat.interval.ms=500"
        CMD=("$WCS" --source "$uri" --trigger available-now --state "$state" --progress-log "$log"
            --sink 'console?numRows=1')
        timed /dev/null /dev/null "$err" timeout 300 "${CMD[@]}"
        judge "$label" "$err" "$state" "$want"
        record workload=kafka program=wcstream corpus=kafka run:="$r" \
            command="kcat -P -l (4 parts of $path, one a partition); $(cmdline "${CMD[@]}")" \
            seconds:="$RUN_S" t0:="$RUN_T0" peak_rss_kb:="$RUN_KB" progress_log="$log" \
            log="$err" correct:="$OK"
    done
    kill_reap "$broker"
}
