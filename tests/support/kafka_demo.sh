#!/usr/bin/env bash
# kafka_demo.sh - `make kafka-demo`: a local Kafka-protocol broker, a producer
# of sample text, and wcstream counting the topic, all on this machine.
#
# The broker is librdkafka's mock cluster (build/kafka_broker): it picks its
# own port, printed below. Ctrl-C stops everything. Production points
# kafka:// at a real cluster instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

build/kafka_broker --topic lines:4 --bootstrap-file "$work/addr" >/dev/null 2>"$work/broker.log" &
pids+=($!)
for _ in $(seq 1 600); do [ -s "$work/addr" ] && break; sleep 0.05; done # can take seconds
broker=$(cat "$work/addr")
echo "broker: $broker (topic 'lines', 4 partitions)"
echo "add your own text:  kcat -P -b $broker -t lines < book.txt"

# A producer: a few lines of sample text every second.
(
    n=0
    while sleep 1; do
        n=$((n + 1))
        printf 'it was the best of times it was the worst of times\nbatch %d of sample text from the demo producer\n' "$n" |
            kcat -P -b "$broker" -t lines 2>/dev/null || true
    done
) &
pids+=($!)

build/wcstream --source "kafka://$broker/lines?startingOffsets=earliest&kafka.session.timeout.ms=6000" \
    --sink 'console?numRows=10' --trigger 1s --state "$work/demo.db"
