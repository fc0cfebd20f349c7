#!/usr/bin/env bash
# tests/soak/soak.sh - `make soak`: one wcstream with every source and
# sink at once for SOAK_SECONDS (default 600), its RSS and open file
# descriptors sampled every 10 s and printed as a table; at the end both
# must be flat and the counts consistent. Not part of `make test`.
#
# Sources: listen:// with 3 nc clients looping, socket:// against a
# Python text server (tests/soak/soak.py), file:// on a directory whose
# newest file grows each second and which gets a new file every 10 s, and
# kafka:// from the local broker (build/kafka_broker) fed by kcat every
# 2 s. Sinks: console (to a file), jsonl://, kafka:// and ws://, with two
# websocket clients connected throughout and /metrics polled every 2 s.
# Every producer sends whole copies of one chunk of text and counts them,
# so the ground truth is copies x the chunk's words however long it runs.
#
# Flat: the largest RSS of the last third of the samples is at most the
# largest of the middle third plus 5% and 4 MiB; the fds at most 6 more.
# Consistent: after the producers stop and the query drains, word_counts
# equals the ground truth exactly, the counts sum to the last batch's
# total_words, the batches' input rows add up to the lines sent, and the
# jsonl sink, the Kafka changelog and the websocket clients end on that
# same total. Then SOAK_KILLS (default 200) kill -9 at random moments of a
# file:// ingestion, restarting each time: exact counts at the end. Exit 0
# when all of that holds, 1 otherwise.
#
#   SOAK_SECONDS=60 SOAK_KILLS=20 tests/soak/soak.sh   a short run (output: tests/out/soak)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export TEST_OUT=${TEST_OUT:-$ROOT/tests/out/soak}
rm -rf "$TEST_OUT"
. "$ROOT/tests/integration/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
S="$PY $ROOT/tests/soak/soak.py"
port=$(free_port)
tport=$(free_port)
http=$(free_port)
opts="kafka.session.timeout.ms=6000&kafka.heartbeat.interval.ms=500"

for i in 1 2 3; do make_text 20000 $((10 + i)) >listen$i.txt; done
make_text 30000 21 >socket.txt
make_text 20000 22 >file.txt
make_text 10000 23 >kafka.txt
mkdir dir
start_broker --topic soakin:2 --topic soakout:2

# Producers: each loops until its stop file appears and keeps the number
# of copies it completed in count.NAME.
listen_client() { # NAME
    local n=0
    while [ ! -e stop.producers ]; do
        nc -N 127.0.0.1 "$port" <"$1.txt" || { echo "nc $1 failed" >>producer-errors; break; }
        echo $((n += 1)) >"count.$1"
        sleep 0.5
    done
}
file_producer() {
    local n=0 f=0
    while [ ! -e stop.producers ]; do
        if ((n % 10 == 0)); then
            f=$((f + 1))
            cp file.txt dir/.incoming && mv dir/.incoming "dir/$(printf f%05d "$f")"
        else
            cat file.txt >>"dir/$(printf f%05d "$f")"
        fi
        echo $((n += 1)) >count.file
        sleep 1
    done
}
kafka_producer() {
    local n=0
    while [ ! -e stop.producers ]; do
        kcat -P -b "$BROKER" -t soakin -p $((n % 2)) -l kafka.txt 2>>kcat.err ||
            { echo "kcat failed" >>producer-errors; break; }
        echo $((n += 1)) >count.kafka
        sleep 2
    done
}

bg $S server "$tport" socket.txt stop.producers count.socket
producers=("${_bg_pids[-1]}")
start_wcs --source "listen://127.0.0.1:$port" --source "socket://127.0.0.1:$tport" \
    --source "file://$TEST_OUT/dir" --source "kafka://$BROKER/soakin?startingOffsets=earliest&$opts" \
    --sink 'console?numRows=5' --sink "jsonl://$TEST_OUT/soak.jsonl" \
    --sink "kafka://$BROKER/soakout?format=text" --sink "ws://127.0.0.1:$http" \
    --trigger 1s --state soak.db
wait_for err.txt "dashboard on" 20
for p in "listen_client listen1" "listen_client listen2" "listen_client listen3" file_producer \
    kafka_producer; do
    bg $p
    producers+=("${_bg_pids[-1]}")
done
for i in 1 2; do bg $S ws "ws://127.0.0.1:$http/ws" stop.clients "ws$i.json"; done
bg $S metrics "http://127.0.0.1:$http" stop.clients metrics.json

echo "soak: $SOAK_SECONDS s, wcstream pid $WCS_PID, output in $TEST_OUT"
printf '%8s %10s %6s %8s %12s\n' seconds "RSS MiB" fds batches words | tee samples.txt
start=$(date +%s)
while :; do
    el=$(($(date +%s) - start))
    rss=$(rss_kb "$WCS_PID") || fail "wcstream is gone"
    nfd=$(ls "/proc/$WCS_PID/fd" | wc -l)
    row=$(sql soak.db "select count(*), coalesce(max(total_words), 0) from batches" 2>/dev/null ||
        echo "?|?")
    printf '%8d %10s %6d %8s %12s\n' "$el" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" \
        "$nfd" "${row%|*}" "${row#*|}" | tee -a samples.txt
    [ "$el" -ge "$SOAK_SECONDS" ] && break
    sleep $((10 - ($(date +%s) - start) % 10))
done
[ -e producer-errors ] && fail "a producer failed: $(cat producer-errors)"

verdict=0
flat=$(awk 'NR > 1 { rss[++n] = $2; fd[n] = $3 }
    END {
        a = int(n / 3); b = int(2 * n / 3)
        for (i = a + 1; i <= b; i++) { if (rss[i] > mr) mr = rss[i]; if (fd[i] > mf) mf = fd[i] }
        for (i = b + 1; i <= n; i++) { if (rss[i] > lr) lr = rss[i]; if (fd[i] > lf) lf = fd[i] }
        ok = lr <= mr * 1.05 + 4 && lf <= mf + 6
        printf "%s: RSS max %.1f MiB in the last third, %.1f in the middle; fds %d and %d\n",
            ok ? "flat" : "NOT FLAT", lr, mr, lf, mf
    }' samples.txt)
echo "$flat"
case "$flat" in flat:*) ;; *) verdict=1 ;; esac

log "stopping the producers; the query drains"
touch stop.producers
for p in "${producers[@]}"; do wait "$p" || true; done
specs=()
for c in listen1 listen2 listen3 socket file kafka; do
    specs+=("$c.txt=$(cat "count.$c" 2>/dev/null || echo 0)")
done
for _ in $(seq 60); do
    $S check soak.db "${specs[@]}" >check.out 2>&1 && break
    sleep 1
done
cat check.out
grep -q inconsistent check.out && verdict=1
total=$(sql soak.db "select total_words from batches order by batch_id desc limit 1")

sleep 2
touch stop.clients
for f in ws1.json ws2.json metrics.json; do wait_for "$f" . 20; done
for i in 1 2; do
    got=$(pyjson 'w["totalWords"], w["messages"], w["reconnects"]' w=ws$i.json)
    echo "websocket client $i: (last totalWords, messages, reconnects) $got"
    [ "${got%%,*}" = "($total" ] || { echo "inconsistent: websocket client $i"; verdict=1; }
done
echo "/metrics: $(cat metrics.json)"
[ "$(pyjson 'm["failures"]' m=metrics.json)" = 0 ] || verdict=1
[ "$(tail -n 1 soak.jsonl | pyjson 'j["totalWords"]' j=/dev/stdin)" = "$total" ] ||
    { echo "inconsistent: the jsonl sink's last totalWords"; verdict=1; }
kcat -C -b "$BROKER" -t soakout -e -q -f '%k\t%s\n' >changelog.tsv
$PY "$HERE/counts.py" changelog soak.db changelog.tsv ||
    { echo "inconsistent: the Kafka changelog"; verdict=1; }

stop_wcs
[ "$WCS_RC" = 0 ] || { echo "wcstream exit $WCS_RC"; verdict=1; }

# Crashes: SOAK_KILLS kill -9 at random moments of a file:// ingestion
# (about 40 batches of 8 KiB between two kills, see test_file.sh: 1.5
# files of 400 KB a kill leave room for twice that), then the rest read
# to its end: the counts must be exact and the file sound.
SOAK_KILLS=${SOAK_KILLS:-200}
mkdir crash
for ((i = 1; i <= SOAK_KILLS * 3 / 2 + 2; i++)); do
    make_text 400000 $((100 + i)) >"crash/f$(printf %04d "$i").txt"
done
crash_loop crash.db "$SOAK_KILLS" 8 --source "file://$TEST_OUT/crash" --trigger 0 \
    --max-bytes-per-trigger 8KiB >crash.log
"$WCSTREAM" --source "file://$TEST_OUT/crash" --trigger available-now --state crash.db \
    --max-bytes-per-trigger 8KiB >/dev/null 2>crash.err || { echo "crash phase: exit $?"; verdict=1; }
if $PY "$HERE/counts.py" check crash.db crash/*.txt >/dev/null &&
    [ "$(sql crash.db 'pragma integrity_check')" = ok ]; then
    echo "crash phase: $SOAK_KILLS kills up to batch $LAST_BATCH, counts exact"
else
    echo "inconsistent: the crash phase"
    verdict=1
fi
[ "$verdict" = 0 ] && echo "soak: passed" || echo "soak: FAILED"
exit "$verdict"
