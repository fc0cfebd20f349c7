# The websocket feed of ws://: a snapshot on connect, then one update per
# batch whose counts match the text sent through nc; 200 concurrent clients
# converge on the same state; a reconnect and a restart get a snapshot equal
# to the state; a client that never reads neither stops the batches nor
# grows the server's memory.
. "$(dirname "$0")/lib.sh"

WS="$PY $HERE/wsclient.py"
port=$(free_port)
http=$(free_port)
URL=ws://127.0.0.1:$http/ws
make_text 300000 1 >a.txt
make_text 300000 2 >b.txt

# The state's top 20 and totals as the JSON a snapshot carries.
state_json() { # STATE OUT
    {
        printf '{"top":'
        sqlite3 -readonly -json "$1" "select word, count from top_words limit 20" | tr -d '\n' |
            sed 's/^$/[]/'
        sqlite3 -readonly "$1" "select ',\"batchId\":' || batch_id || ',\"totalWords\":' ||
            total_words || ',\"distinctWords\":' || num_rows_total || '}'
            from batches order by batch_id desc limit 1"
    } >"$2"
}

start_wcs --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http" --trigger 200ms \
    --state s.db
wait_for err.txt "dashboard on" 10

log "a new state: the snapshot is empty"
$WS snapshot "$URL" >empty.json
[ "$(pyjson 'e["type"], e["batchId"], e["totalWords"], e["top"], e["history"]' e=empty.json)" = \
    "('snapshot', -1, 0, [], [])" ] || fail "empty snapshot: $(cat empty.json)"

log "a client offering only other subprotocols gets an answer, not a dropped connection"
$PY - "$http" <<'PY' || fail "subprotocol negotiation"
import base64, os, socket, sys
def first_line(offer):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Protocol: %s\r\n\r\n" % (base64.b64encode(os.urandom(16)), offer))
    head = b""
    while not (head.startswith(b"HTTP/1.1 101 ") and b"\r\n\r\n" in head):
        c = s.recv(4096)  # a refusal: up to the end of its body
        if not c:
            break
        head += c
    s.close()
    return head
h = first_line(b"chat, wcstream.v2")
assert h.startswith(b"HTTP/1.1 400 ") and b"subprotocol wcstream.v1" in h, h
h = first_line(b"chat, wcstream.v1")
assert h.startswith(b"HTTP/1.1 101 ") and b"Sec-WebSocket-Protocol: wcstream.v1" in h, h
PY

log "a client follows the batches while nc sends text"
want=$(count_words a.txt)
$WS follow "$URL" "$want" --json follow.json &
follower=$!
wait_metric "http://127.0.0.1:$http" wcstream_ws_clients 1 10
nc -N 127.0.0.1 "$port" <a.txt
wait "$follower" || fail "the follower failed"
$PY "$HERE/counts.py" checkws follow.json a.txt || fail "websocket counts differ from the text"
[ "$(pyjson 'f["types"][0], set(f["types"][1:]), f["capped"]' f=follow.json)" = \
    "('snapshot', {'update'}, False)" ] || fail "message types: $(pyjson 'f["types"]' f=follow.json)"

log "200 concurrent clients converge"
want=$((want + $(count_words b.txt)))
$WS many "$URL" 200 "$want" >many.json &
crowd=$!
wait_metric "http://127.0.0.1:$http" wcstream_ws_clients 200 30
nc -N 127.0.0.1 "$port" <b.txt
wait "$crowd" || fail "the 200 clients did not converge"
wait_total s.db "$want" 10
state_json s.db state.json
[ "$(pyjson 'm == s' m=many.json s=state.json)" = True ] ||
    fail "the clients' final state differs from the state: $(head -c 300 many.json)"

log "a reconnecting client gets a snapshot equal to the state"
$WS snapshot "$URL" >snap.json
[ "$(pyjson '{k: n[k] for k in s} == s' n=snap.json s=state.json)" = True ] ||
    fail "snapshot differs from the state"
[ "$(pyjson 'n["history"][-1]["batchId"] == s["batchId"]' n=snap.json s=state.json)" = True ] ||
    fail "snapshot history does not end at the last batch"

log "after a restart the snapshot is the recovered state, with its history"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC"
start_wcs --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http?topN=20" --state s.db \
    --trigger 200ms
wait_for err.txt "dashboard on" 10
$WS snapshot "$URL" >restart.json
[ "$(pyjson '{k: r[k] for k in s} == s' r=restart.json s=state.json)" = True ] ||
    fail "snapshot after restart differs from the state"
batches=$(sql s.db "select count(*) from batches")
[ "$(pyjson 'len(r["history"])' r=restart.json)" = "$((batches < 120 ? batches : 120))" ] ||
    fail "history after restart is not the last batches"
stop_wcs

log "a client that never reads: batches go on, memory stays bounded"
# 10,000 distinct 60-byte words per round; every batch updates all of them,
# so each update message is about 800 KB (maxUpdated=10000).
$PY -c 'import sys; sys.stdout.write("\n".join("w%05d%s" % (i, "x" * 54) for i in range(10000)) + "\n")' >round.txt
rounds=80
# (ASan keeps freed memory in quarantine, 256 MiB by default: keep it small
# so that RSS shows what the program holds.)
ASAN_OPTIONS=${ASAN_OPTIONS:-}:quarantine_size_mb=16 start_wcs --source "listen://127.0.0.1:$port" --trigger 100ms --state s2.db \
    --sink "ws://127.0.0.1:$http?maxUpdated=10000&topN=100"
wait_for err.txt "dashboard on" 10
nc -N 127.0.0.1 "$port" <round.txt
wait_total s2.db 10000
$WS stall 127.0.0.1 "$http" 120 >stall.out &
staller=$!
wait_for stall.out stalled 10
$WS follow "$URL" $(((rounds + 1) * 10000)) --json fast.json &
follower=$!
wait_metric "http://127.0.0.1:$http" wcstream_ws_clients 2 10
rss0=$(rss_kb "$WCS_PID")
for r in $(seq "$rounds"); do # a round a batch, however slow the build
    cat round.txt
    wait_total s2.db $(((r + 1) * 10000)) 30
done | nc -N 127.0.0.1 "$port"
wait_total s2.db $(((rounds + 1) * 10000)) 60
wait "$follower" || fail "the reading client did not get the last batch"
rss1=$(rss_kb "$WCS_PID")
published=$(sql s2.db "select count(*) from batches where num_rows_updated = 10000")
dropped=$(metric "http://127.0.0.1:$http" wcstream_ws_messages_dropped_total)
log "batches $published (~800 KB of update each), dropped for the stalled client $dropped," \
    "RSS $((rss0 / 1024)) -> $((rss1 / 1024)) MiB"
kill -0 "$staller" || fail "the stalled client was disconnected"
[ "$dropped" -gt 0 ] || fail "the stalled client was sent every update"
# Bound: one pending message per client (here < 1 MiB) and lws's own
# buffers; queueing every update would cost $published x 800 KB.
[ $((rss1 - rss0)) -lt $((32 * 1024)) ] || fail "RSS grew by $(((rss1 - rss0) / 1024)) MiB"
[ "$published" -ge 40 ] || fail "only $published full batches: not enough to tell"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC with a stalled client"
echo ok
