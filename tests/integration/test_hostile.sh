# Load and hostile clients against one wcstream, listen:// first, then
# ws://, while a sampler reads its RSS and open file descriptors every
# 0.5 s (hostile.py holds the clients; see its header).
#
# listen:// (maxClients=1200, clientBuffer=64KiB, --trigger 500ms): 1,000
# clients connected at once, a slowloris at one byte a second and a probe
# line every 100 ms throughout; every held client then adds 60 KiB without
# a newline (held: under maxClients x clientBuffer) and 100 KiB more (cut
# at clientBuffer, so memory does not grow with it); then at once a 1 GiB
# line without a newline (128 MiB under ASan), a 3 MiB word, 10,000
# connect/disconnects, clients that leave mid-line cleanly or with a reset;
# then 250 clients, 52 over the limit. Asserted: no gap between batches over
# 3 s (12 s under ASan) from the pending lines to the end of the flood;
# the unfinished lines' growth within 1200 x 64 KiB plus slack; RSS under
# 200 MiB (400 MiB under ASan) throughout; counts exact for every client
# that closed cleanly (the reset ones at most what they sent); refusals
# and cuts counted in /metrics; as many fds open at the end as before.
#
# ws:// (one open sink, one with a token): 500 websocket clients that must
# converge on the state, 20 that never read, malformed and oversized
# frames over raw sockets (each closed by the server), and 10 s of
# requests without the token, foreign Origin, path traversal, a 64 KiB
# header and garbage, none answered 200; meanwhile text arrives in 20
# pieces and the batches keep their cadence, RSS stays bounded, and the
# websocket count and fds come back to where they were.
#
# Out of file descriptors (ulimit -n 48, maxClients=100): 60 clients, the
# ones past the limit refused and counted, the listen thread not spinning.
. "$(dirname "$0")/lib.sh"

H="$PY $HERE/hostile.py"
asan=false
case "$WCSTREAM" in */asan/*) asan=true ;; esac
flood_bytes=$((1 << 30))
gap_max=3 rss_max_mb=200 held_slack_mb=40
if $asan; then
    # ASan tokenizes about ten times slower: a 128 MiB line still passes
    # clientBuffer 2,048 times, which is what is under test.
    flood_bytes=$((128 << 20))
    # A backlog batch of 64 MiB (--max-bytes-per-trigger, set below) takes
    # ~3.5 s there. Its allocator pads every block with redzones (a 64 KiB
    # buffer takes an 80 KiB block) and keeps freed blocks for their size
    # class.
    gap_max=12 rss_max_mb=400 held_slack_mb=200
fi
# (ASan keeps freed memory in quarantine, 256 MiB by default: keep it small
# so that RSS shows what the program holds.)
export ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=16

port=$(free_port)
http=$(free_port)
http2=$(free_port)
token=hostile-token
# 1,000 held clients leave room for 200 more: the churn's 50 at a time,
# and the 32 a round the listen thread accepts before it has read the end
# of the ones that already left (fewer, and a churn client that had sent
# a line was sometimes refused, its line lost).
src="listen://127.0.0.1:$port?maxClients=1200&clientBuffer=64KiB"
label="{source=\"$src\"}"
M=http://127.0.0.1:$http
now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
fds() { ls "/proc/$WCS_PID/fd" | wc -l; }

# 64 MiB batches: the gaps and the RSS bounds above are measured with them.
start_wcs --source "$src" --sink "ws://127.0.0.1:$http" --sink "ws://127.0.0.1:$http2?token=$token" \
    --sink 'console?numRows=1' --trigger 500ms --state s.db --progress-log progress.jsonl \
    --max-bytes-per-trigger 64MiB
wait_for err.txt "dashboard on http://127.0.0.1:$http2" 10
# A first batch and a word lookup on each sink open what stays open (the
# state's WAL and shared memory for the readers) before fds are counted.
echo "warmup" | nc -N 127.0.0.1 "$port"
echo '{"warmup": 1}' >warm.json
wait_total s.db 1 10
curl -sf "$M/api/words/warmup" >/dev/null || fail "word lookup"
curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$http2/api/words/warmup" >/dev/null ||
    fail "word lookup with the token"
# The fewest fds over a second: a connection that is still closing is not
# part of the baseline.
fd0=$(fds)
for _ in 1 2 3 4 5; do
    sleep 0.2
    n=$(fds)
    [ "$n" -lt "$fd0" ] && fd0=$n
done
rss0=$(rss_kb "$WCS_PID")
log "idle: $fd0 fds, RSS $((rss0 / 1024)) MiB"
sampler() {
    while kill -0 "$WCS_PID" 2>/dev/null; do
        echo "$(date +%s.%N) $(rss_kb "$WCS_PID" 2>/dev/null || echo 0) $(fds 2>/dev/null || echo 0)"
        sleep 0.5
    done
}
sampler >samples.txt &
_bg_pids+=($!)
peak_rss_mb() { awk '$2 > m { m = $2 } END { print int(m / 1024) }' samples.txt; }

log "listen://: a probe, a slowloris and 1,000 clients held open"
start=$(date +%s)
bg $H probe "$port" stop.probe probe.json
bg $H slowloris "$port" stop.slow slow.json
$H hold "$port" 1000 ctl hold.json >hold.out &
holder=$!
_bg_pids+=("$holder")
wait_for hold.out '^held' 60
wait_metric "$M" "wcstream_source_clients$label" 1002 30
log "held: $(fds) fds, RSS $(($(rss_kb "$WCS_PID") / 1024)) MiB, $(($(date +%s) - start)) s"

log "every held client keeps a 60 KiB unfinished line, then sends 100 KiB more"
rss1=$(rss_kb "$WCS_PID")
t0=$(now)
touch ctl.pending
wait_for hold.out '^pending' 60
sleep 2
rss_pending=$(rss_kb "$WCS_PID")
touch ctl.overflow
wait_for hold.out '^overflowed' 120
wait_metric "$M" "wcstream_source_lines_cut_total$label" 1000 60
rss_over=$(rss_kb "$WCS_PID")
log "RSS $((rss1 / 1024)) MiB held, $((rss_pending / 1024)) MiB with 60 KiB pending each," \
    "$((rss_over / 1024)) MiB after 100 KiB more each"
# The clients' share is at most maxClients x clientBuffer (1200 x 64 KiB,
# 75 MiB); without the bound the 160 KiB lines would hold 160 MiB.
[ $((rss_over - rss1)) -lt $(((75 + held_slack_mb) * 1024)) ] ||
    fail "RSS grew by $(((rss_over - rss1) / 1024)) MiB with 1,000 unfinished lines"

log "at once: a $((flood_bytes >> 20)) MiB line, a 3 MiB word, 10,000 connections, mid-line leavers"
$H flood "$port" "$flood_bytes" flood.json >flood.out &
flooder=$!
$H longword "$port" $((48 * 65536)) 65536 long.json &
longer=$!
$H churn "$port" 10000 50 churn.json >churn.out &
churner=$!
$H midline "$port" 50 mid.json
wait "$churner" || fail "churn client"
wait "$longer" || fail "long word client"
wait "$flooder" || fail "flood client"
cat churn.out flood.out
# The engine catches up with what the flood left in the inbox.
want_flood=$(pyjson 'f["flood0"]' f=flood.json)
for _ in $(seq 240); do
    [ "$(sql s.db "select count from word_counts where word = 'flood0'" 2>/dev/null)" = "$want_flood" ] &&
        break
    sleep 0.5
done
t1=$(now)
gap=$($H gaps s.db "$t0" "$t1")
log "from the pending lines to the end of the flood: $gap (--trigger 500ms);" \
    "peak RSS so far $(peak_rss_mb) MiB"
awk -v g="$gap_max" '{ exit !($4 <= g) }' <<<"$gap" || fail "batches stalled: $gap"

log "250 more clients: those over maxClients are refused and counted"
# Counted from here: a slow build can still have closed churn clients on
# its books when new ones come, and refuse some of those.
refused_m="wcstream_source_clients_refused_total$label"
refused0=$(metric "$M" "$refused_m")
$H extra "$port" 250 "$M" "wcstream_source_clients_accepted_total$label" "$refused_m" >extra.out
cat extra.out
read -r _ accepted _ refused <extra.out
[ "$refused" -ge 1 ] && [ $((accepted + refused)) = 250 ] || fail "refusals: $(cat extra.out)"
wait_metric "$M" "$refused_m" $((${refused0:-0} + refused)) 10
got=$(metric "$M" "$refused_m")
[ $((got - ${refused0:-0})) = "$refused" ] ||
    fail "clientsRefused went from ${refused0:-0} to $got, not up by the $refused the clients saw"

log "everyone leaves; counts exact"
touch stop.probe stop.slow ctl.stop
wait_for hold.out '^closed' 60
for f in probe.json slow.json; do wait_for "$f" . 20; done
sleep 1
nc -N 127.0.0.1 "$port" <<<"final" || fail "nc"
echo '{"final": 1}' >final.json
outs=(warm.json final.json hold.json probe.json slow.json flood.json long.json churn.json mid.json)
for _ in $(seq 60); do
    $H check s.db --loose abort "${outs[@]}" >check.out && break
    sleep 0.5
done
cat check.out
$H check s.db --loose abort "${outs[@]}" >/dev/null ||
    fail "counts differ for the well-behaved clients"
want_acc=$((1 + 1000 + 1 + 1 + 1 + 1 + 10000 + 100 + accepted + 1))
wait_metric "$M" "wcstream_source_clients_accepted_total$label" "$want_acc" 10
got_acc=$(metric "$M" "wcstream_source_clients_accepted_total$label")
[ "$got_acc" = "$want_acc" ] || fail "clientsAccepted $got_acc, not $want_acc"
open=$(metric "$M" "wcstream_source_clients$label")
[ "$open" -le 1 ] || fail "$open clients still open"
cut=$(metric "$M" "wcstream_source_lines_cut_total$label")
# Each held client's line passed 64 KiB at least once, the word was cut 47
# times, the flood about once per 64 KiB (at a space, so a little more).
[ "$cut" -ge $((1000 + 47 + flood_bytes / 65536 - flood_bytes / 65536 / 100)) ] ||
    fail "linesCut $cut"
$PY - "$cut" <<'PY' || fail "linesCut in the progress record differs from /metrics"
import json, sys
last = [json.loads(l) for l in open("progress.jsonl")][-1]["sources"][0]["metrics"]
assert last["linesCut"] == int(sys.argv[1]), (last, sys.argv[1])
PY
for _ in $(seq 40); do [ "$(fds)" -le "$fd0" ] && break; sleep 0.25; done
log "after the listen:// clients: $(fds) fds (idle $fd0), linesCut $cut, peak RSS $(peak_rss_mb) MiB," \
    "$(($(date +%s) - start)) s"
[ "$(fds)" -le "$fd0" ] || fail "$(fds) fds open, $fd0 before the clients came: a leak"

log "ws://: 500 websocket clients, 20 that never read, bad frames, bad requests"
WS="$PY $HERE/wsclient.py"
make_text 400000 5 >text.txt
split -n l/20 -d text.txt piece.
total=$(sql s.db "select total_words from batches order by batch_id desc limit 1")
want=$((total + $(count_words text.txt)))
$WS many "ws://127.0.0.1:$http/ws" 500 "$want" >many.json &
crowd=$!
$H stall 127.0.0.1 "$http" 20 40 >stall.out &
staller=$!
_bg_pids+=("$staller")
wait_for stall.out stalled 20
wait_metric "$M" wcstream_ws_clients 520 60
# The window opens once the text flows (a batch only comes with input)
# and closes when the last piece is sent.
for p in piece.*; do
    cat "$p"
    sleep 0.5
done | nc -N 127.0.0.1 "$port" &
feeder=$!
wait_total s.db $((total + 1)) 20
t0=$(now)
$H httpbad 127.0.0.1 "$http2" "$token" 10 >httpbad.out &
hammer=$!
$H wsbad 127.0.0.1 "$http" >wsbad.out &
badframes=$!
wait "$feeder" || fail "nc"
t1=$(now)
wait "$crowd" || fail "the 500 clients did not converge"
wait "$hammer" || { cat httpbad.out; fail "a hostile request was answered"; }
wait "$badframes" || { cat wsbad.out; fail "a bad frame was not refused"; }
cat wsbad.out httpbad.out
gap=$($H gaps s.db "$t0" "$t1")
log "while 520 websockets and the hammering ran: $gap; peak RSS $(peak_rss_mb) MiB"
awk -v g="$gap_max" '{ exit !($4 <= g) }' <<<"$gap" || fail "batches stalled: $gap"
[ "$(pyjson 'm["totalWords"]' m=many.json)" = "$want" ] || fail "the clients' total"
[ "$(metric "http://127.0.0.1:$http2" wcstream_http_unauthorized_total 2>/dev/null || true)" = "" ] ||
    fail "/metrics of the token sink answered without the token"
unauth=$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$http2/metrics" |
    awk '$1 == "wcstream_http_unauthorized_total" { print $2 }')
[ "${unauth:-0}" -gt 0 ] || fail "requests without the token were not counted"
kill "$staller" 2>/dev/null || true
# Up to 40 s: on a loaded machine one connection was still closing at 20.
for _ in $(seq 160); do
    [ "$(metric "$M" wcstream_ws_clients)" = 0 ] && [ "$(fds)" -le "$fd0" ] && break
    sleep 0.25
done
[ "$(metric "$M" wcstream_ws_clients)" = 0 ] || fail "$(metric "$M" wcstream_ws_clients) websockets left"
[ "$(fds)" -le "$fd0" ] || fail "$(fds) fds open after the websockets left, $fd0 before"

peak=$(peak_rss_mb)
log "peak RSS $peak MiB (bound $rss_max_mb), fds back to $fd0, $(($(date +%s) - start)) s in all"
[ "$peak" -lt "$rss_max_mb" ] || fail "peak RSS $peak MiB"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC"

log "out of file descriptors (ulimit -n 48): clients refused and counted, no spinning"
port=$(free_port)
: >err.txt
(
    ulimit -n 48
    exec "$WCSTREAM" --source "listen://127.0.0.1:$port?maxClients=100" --trigger 200ms \
        --state :memory: --progress-log fd.jsonl --sink 'console?numRows=1' >/dev/null 2>>err.txt
) &
WCS_PID=$!
wait_for err.txt "may open only 48 files" 10
wait_for err.txt listening 10
cpu() { awk '{ print $14 + $15 }' "/proc/$WCS_PID/stat"; }
c0=$(cpu)
$H extra "$port" 60 >extra2.out
c1=$(cpu)
read -r _ accepted _ refused <extra2.out
log "accepted $accepted, refused $refused, $((c1 - c0)) CPU ticks in 3 s"
[ "$refused" -ge 1 ] && [ $((accepted + refused)) = 60 ] || fail "refusals: $(cat extra2.out)"
[ $((c1 - c0)) -lt 100 ] || fail "the listen thread spun: $((c1 - c0)) ticks"
nc -N 127.0.0.1 "$port" <<<"final" || fail "nc"
wait_for fd.jsonl '"clientsRefused"' 10
[ "$(tail -n 1 fd.jsonl | pyjson 'p["sources"][0]["metrics"]["clientsRefused"]' p=/dev/stdin)" = \
    "$refused" ] || fail "clientsRefused: $(tail -n 1 fd.jsonl)"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC"
echo ok
