# The HTTP side of ws://: /api/top, /api/words, /api/progress, /metrics and
# /healthz return what the state holds; the token, Host and Origin checks;
# static files that cannot escape their directory; start-up refusals.
. "$(dirname "$0")/lib.sh"

WS="$PY $HERE/wsclient.py"
port=$(free_port)
http=$(free_port)
H=http://127.0.0.1:$http
make_text 200000 3 >a.txt
printf 'naïve café naïve 100%% a/b\nhttp://example.com/a a//b x/./y .. a+b\n' >u.txt

# status URL [curl args]: the HTTP status only (000 when none came).
status() {
    local url=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' "$@" "$url" || true
}

# expect WANT URL [curl args]
expect() {
    local want=$1 got
    got=$(status "${@:2}")
    [ "$got" = "$want" ] || fail "$2 ${*:3}: HTTP $got, not $want"
}

start_wcs --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http" --trigger 200ms \
    --state s.db
wait_for err.txt "dashboard on" 10
nc -N 127.0.0.1 "$port" <a.txt
wait_total s.db "$(count_words a.txt)"
nc -N 127.0.0.1 "$port" <u.txt # a second batch
want=$(count_words a.txt u.txt)
wait_total s.db "$want"
wait_metric "$H" wcstream_state_words "$want" 10

log "the API answers what the state holds"
curl -sf "$H/api/top?n=5" >top.json
sqlite3 -readonly -json s.db "select word, count from top_words limit 5" >sqltop.json
[ "$(pyjson 't["top"] == s' t=top.json s=sqltop.json)" = True ] || fail "/api/top: $(cat top.json)"
[ "$(curl -sf "$H/api/top" | pyjson 'len(t["top"])' t=/dev/stdin)" = 20 ] ||
    fail "/api/top without n is not the top 20"
for w in the w7 w499; do
    got=$(curl -sf "$H/api/words/$w" | pyjson 'r["count"]' r=/dev/stdin)
    [ "$got" = "$(sql s.db "select count from word_counts where word = '$w'")" ] ||
        fail "/api/words/$w: $got"
done
[ "$(curl -sf "$H/api/words/na%C3%AFve" | pyjson 'r["word"], r["count"]' r=/dev/stdin)" = \
    "('naïve', 2)" ] || fail "/api/words of a UTF-8 word"
[ "$(curl -sf "$H/api/words/100%25" | pyjson 'r["count"]' r=/dev/stdin)" = 1 ] ||
    fail "/api/words of a word with %"
[ "$(curl -sf "$H/api/words/never-seen" | pyjson 'r["count"]' r=/dev/stdin)" = 0 ] ||
    fail "/api/words of an absent word is not 0"
# A path is cleaned up on the way in (// and /./ collapse, .. climbs, + is
# a space): ?word= carries any word whole.
for w in http://example.com/a a//b x/./y .. a+b naïve; do
    got=$(curl -sf -G "$H/api/words" --data-urlencode "word=$w" | pyjson 'r["word"], r["count"]' r=/dev/stdin)
    [ "$got" = "('$w', $(sql s.db "select count from word_counts where word = '$w'"))" ] ||
        fail "/api/words?word=$w: $got"
done
expect 400 "$H/api/words"
curl -sf "$H/api/progress?n=2" >progress.json
last=$(sql s.db "select max(batch_id) from batches")
[ "$(pyjson '[p["batchId"] for p in r]' r=progress.json)" = "[$((last - 1)), $last]" ] ||
    fail "/api/progress?n=2: not the last two batches"
expect 400 "$H/api/top?n=abc"
expect 400 "$H/api/top?n=0"
# An argument too long for n's own room neither hides the n after it nor
# is taken for a missing n.
long_arg=$(printf 'a%.0s' $(seq 700))
[ "$(curl -sf "$H/api/top?x=$long_arg&n=2" | pyjson 'len(t["top"])' t=/dev/stdin)" = 2 ] ||
    fail "/api/top: n after a long argument was not seen"
[ "$(curl -sf "$H/api/top?n=1$(printf '0%.0s' $(seq 70))" | pyjson 'len(t["top"])' t=/dev/stdin)" = \
    "$(sql s.db "select min(1000, count(*)) from top_words")" ] || fail "/api/top: a huge n is not the most"
expect 404 "$H/api/nothing"
expect 404 "$H/nothing.html"
expect 405 "$H/api/top" -X POST -d x=1
# HEAD is not served either: a 405 that says what is, and no body after it.
$PY - "$http" <<'PY' || fail "HEAD: a body, or no Allow header"
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"HEAD /api/top HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
data = b""
while chunk := c.recv(65536):
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 405") and b"\nallow: get" in head.lower(), head
assert body == b"", body
PY
[ "$(curl -sf "$H/healthz")" = ok ] || fail "/healthz"

log "/metrics agrees with the state"
curl -sf "$H/metrics" >metrics.txt
m() { awk -v m="$1" '$1 == m { print $2 }' metrics.txt; }
batches=$(sql s.db "select count(*) from batches")
[ "$(m wcstream_batches_total)" = "$batches" ] || fail "batches_total $(m wcstream_batches_total)"
[ "$(m 'wcstream_batch_duration_seconds_bucket{le="+Inf"}')" = "$batches" ] || fail "histogram"
[ "$(m wcstream_input_rows_total)" = "$(cat a.txt u.txt | wc -l)" ] || fail "input_rows_total"
[ "$(m wcstream_input_bytes_total)" = "$(cat a.txt u.txt | wc -c)" ] || fail "input_bytes_total"
[ "$(m wcstream_state_rows)" = "$(sql s.db 'select count(*) from word_counts')" ] || fail "state_rows"
[ "$(m wcstream_state_words)" = "$want" ] || fail "state_words"
[ "$(m "wcstream_source_input_rows_total{source=\"listen://127.0.0.1:$port\"}")" = \
    "$(cat a.txt u.txt | wc -l)" ] || fail "per-source rows"
[ "$(m wcstream_ws_clients)" = 0 ] || fail "ws_clients"
grep -q '^# TYPE wcstream_batch_duration_seconds histogram$' metrics.txt || fail "histogram type"

log "a page of another site (DNS rebinding, foreign Origin) is refused"
expect 403 "$H/api/top" -H "Host: evil.example:$http"
expect 200 "$H/api/top" -H "Host: localhost:$http"
long=$(printf 'a%.0s' $(seq 300)).example
expect 403 "$H/api/top" -H "Host: $long:$http" # too long to check is refused, not skipped
[ "$($WS try "ws://127.0.0.1:$http/ws" "http://$long")" = "refused 403" ] ||
    fail "an Origin too long to check got a websocket"
[ "$($WS try "ws://127.0.0.1:$http/ws" "http://evil.example")" = "refused 403" ] ||
    fail "a foreign Origin got a websocket"
[ "$($WS try "ws://127.0.0.1:$http/ws" "http://127.0.0.1:$http")" = snapshot ] ||
    fail "the dashboard's own Origin was refused"
[ "$($WS try "ws://127.0.0.1:$http/elsewhere")" = "refused 404" ] || fail "websocket off /ws"
[ "$(curl -sf "$H/metrics" | awk '$1 == "wcstream_ws_clients_refused_total" { print $2 }')" = 3 ] ||
    fail "refused websockets not counted"

log "paths cannot leave the dashboard"
for p in /../../../../etc/passwd /%2e%2e/%2e%2e/%2e%2e/etc/passwd /..%2f..%2f..%2fetc/passwd \
    /static/../../../etc/passwd; do
    code=$(status "$H$p" --path-as-is)
    [ "$code" = 404 ] || [ "$code" = 400 ] || [ "$code" = 403 ] || fail "GET $p: HTTP $code"
done
stop_wcs

log "with --lowercase a word is looked up folded, as the query counts it"
start_wcs --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http" --trigger 200ms \
    --state lower.db --lowercase
wait_for err.txt "dashboard on" 10
printf 'The the THE NAÏVE naïve Straße\n' | nc -N 127.0.0.1 "$port"
wait_total lower.db 6
# Each answer names the word that was counted (Straße folds to strasse).
for w in The:the the:the NAÏVE:naïve Straße:strasse STRASSE:strasse; do
    got=$(curl -sf -G "$H/api/words" --data-urlencode "word=${w%:*}" |
        pyjson 'r["word"], r["count"]' r=/dev/stdin)
    want="('${w#*:}', $(sql lower.db "select count from word_counts where word = '${w#*:}'"))"
    [ "$got" = "$want" ] || fail "--lowercase: /api/words?word=${w%:*}: $got, not $want"
done
[ "$(curl -sf "$H/api/words/THE" | pyjson 'r["word"], r["count"]' r=/dev/stdin)" = "('the', 3)" ] ||
    fail "--lowercase: /api/words/THE"
stop_wcs

mkdir -p dash/sub
echo '<p>from disk</p>' >dash/index.html
echo 'body{}' >dash/sub/x.css
echo 'secret' >outside.txt
ln -sf "$PWD/outside.txt" dash/link.txt
start_wcs --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http" --state :memory: \
    --dashboard-dir dash
wait_for err.txt "dashboard on" 10
[ "$(curl -sf "$H/")" = '<p>from disk</p>' ] || fail "--dashboard-dir not served"
[ "$(curl -sf "$H/sub/x.css")" = 'body{}' ] || fail "a file in a subdirectory"
curl -s -D - -o /dev/null "$H/sub/x.css" | grep -qi '^content-type: text/css' || fail "css content type"
for p in /link.txt /../outside.txt /%2e%2e/outside.txt /sub/../../outside.txt /sub; do
    code=$(status "$H$p" --path-as-is)
    [ "$code" = 404 ] || [ "$code" = 400 ] || [ "$code" = 403 ] || fail "GET $p: HTTP $code"
done
expect 501 "$H/api/words/the"
mkfifo dash/pipe # no writer: opening it must not hang the server
expect 404 "$H/pipe" -m 5
[ "$(curl -sf -m 5 "$H/healthz")" = ok ] || fail "the server hangs after a FIFO"
# A client that never reads its answer is closed after libwebsockets'
# timeout (10 s): what the socket had not taken by then is dropped, not
# held for it.
head -c $((8 << 20)) /dev/zero >dash/big.bin
$PY - "$http" <<'PY' || fail "a client that never reads kept its whole answer"
import socket, sys, time
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
c.connect(("127.0.0.1", int(sys.argv[1])))
c.sendall(b"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
time.sleep(16)
c.settimeout(10)
got = 0
while chunk := c.recv(1 << 20):
    got += len(chunk)
assert got < 8 << 20, got
PY
[ "$(curl -sf -m 5 "$H/healthz")" = ok ] || fail "the server after a client that never reads"
stop_wcs

# IPv6 loopback, where the machine has it: the logged URL is one a
# browser takes, the address in brackets.
if $PY -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    start_wcs --source "listen://127.0.0.1:$port" --sink "ws://[::1]:$http" --state :memory:
    wait_for err.txt "dashboard on http://\[::1\]:$http/" 10
    [ "$(curl -sf -m 5 "http://[::1]:$http/healthz")" = ok ] || fail "the dashboard on ::1"
    stop_wcs
fi

log "with a token: 401 without it; query, cookie and Bearer header let in"
T='s3+cr3t' # a '+' in a query is a space to lws
start_wcs --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http?token=$T" \
    --state :memory:
wait_for err.txt "dashboard on" 10
expect 401 "$H/"
expect 401 "$H/api/top"
expect 401 "$H/metrics"
expect 401 "$H/api/top?token=wrong"
expect 401 "$H/api/top" -H 'Cookie: wcstream_token=wrong'
# Without the token even the method is not told (it was 405, Allow: GET).
expect 401 "$H/api/top" -X POST -d x=1
expect 405 "$H/api/top?token=$T" -X POST -d x=1
curl -s -D headers.txt -o /dev/null "$H/?token=$T"
head -n 1 headers.txt | grep -q ' 200' || fail "the token in the URL was refused"
grep -qiF "set-cookie: wcstream_token=$T; Path=/; HttpOnly; SameSite=Strict" headers.txt ||
    fail "no cookie for the dashboard"
expect 200 "$H/app.js" -H "Cookie: theme=dark; wcstream_token=$T"
# Other local apps' cookies come along: a long header still holds ours.
expect 200 "$H/api/top" -H "Cookie: other=$(printf 'x%.0s' $(seq 600)); wcstream_token=$T"
# A 4 KiB Cookie header with the headers a browser sends besides (which
# passed the 4 KiB lws kept of a request, so it was closed unanswered).
browser=(-H "User-Agent: Mozilla/5.0 (X11; Linux x86_64) $(printf 'b%.0s' $(seq 200))"
    -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    -H "Accept-Language: en-US,en;q=0.5" -H "Sec-Fetch-Dest: document")
expect 200 "$H/api/top" "${browser[@]}" \
    -H "Cookie: other=$(printf 'x%.0s' $(seq 4000)); wcstream_token=$T"
expect 200 "$H/api/top" -H "Authorization: Bearer $T"
expect 200 "$H/healthz?token=$T"
expect 200 "$H/healthz?x=$(printf 'a%.0s' $(seq 700))&token=$T"
[ "$($WS try "ws://127.0.0.1:$http/ws")" = "refused 401" ] || fail "a websocket without the token"
[ "$($WS try "ws://127.0.0.1:$http/ws?token=$T")" = snapshot ] ||
    fail "a websocket with the token"
[ "$(curl -sf -H "Authorization: Bearer $T" "$H/metrics" |
    awk '$1 == "wcstream_http_unauthorized_total" { print $2 }')" = 7 ] || fail "401s not counted"
echo "one line" | nc -N 127.0.0.1 "$port"
wait_for err.txt "batch 0:" 10
curl -sf -H "Authorization: Bearer $T" "$H/api/progress" >progress.json
grep -q 'token=\*\*\*' progress.json || fail "the sink is not described in the progress"
! grep -qF "$T" progress.json err.txt || fail "the token leaked into the progress or the log"
stop_wcs

log "client limit"
start_wcs --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http?maxClients=2" \
    --state :memory:
wait_for err.txt "dashboard on" 10
$WS stall 127.0.0.1 "$http" 30 >s1.out &
$WS stall 127.0.0.1 "$http" 30 >s2.out &
wait_for s1.out stalled 10
wait_for s2.out stalled 10
[ "$($WS try "ws://127.0.0.1:$http/ws")" = "refused 503" ] || fail "a third client got in"
stop_wcs

log "out of file descriptors (ulimit -n 48): connections wait, no spinning"
: >err.txt
(
    ulimit -n 48
    exec "$WCSTREAM" --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http" \
        --state :memory: >/dev/null 2>>err.txt
) &
WCS_PID=$!
wait_for err.txt "dashboard on" 10
grep -q "ws://127.0.0.1:$http: maxClients=1024, but the process may open only 48 files" err.txt ||
    fail "no warning of the file limit: $(cat err.txt)"
cpu() { awk '{ print $14 + $15 }' "/proc/$WCS_PID/stat"; }
c0=$(cpu)
$PY - "$http" <<'PY' || fail "could not hold 60 connections"
import socket, sys, time
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) for _ in range(60)]
time.sleep(3)
PY
c1=$(cpu)
log "$((c1 - c0)) CPU ticks in 3 s with 60 connections held"
[ $((c1 - c0)) -lt 100 ] || fail "the dashboard's server spun: $((c1 - c0)) ticks"
[ "$(curl -sf -m 5 "$H/healthz")" = ok ] || fail "the server after running out of files"
stop_wcs

log "refused at start: open to the network without a token, a port in use, bad options"
rc=0
timeout 10 "$WCSTREAM" --source "listen://127.0.0.1:$port" --sink "ws://0.0.0.0:$http" --state :memory: \
    2>refuse.txt || rc=$?
[ "$rc" = 2 ] && grep -q 'non-loopback address needs a token' refuse.txt ||
    fail "a non-loopback bind without a token: exit $rc, $(cat refuse.txt)"
hold_port "$http"
rc=0
LSAN_OPTIONS=suppressions=$HERE/lws-bind-fail.supp \
    timeout 10 "$WCSTREAM" --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http" \
    --state :memory: 2>inuse.txt || rc=$?
kill "${_bg_pids[-1]}"
[ "$rc" = 1 ] && grep -q "cannot listen on 127.0.0.1:$http: Address already in use" inuse.txt ||
    fail "port in use: exit $rc, $(cat inuse.txt)"
# Any other bind that fails is a failure too, not a server that says it
# runs with nothing listening: an address not on this host (TEST-NET-1),
# and a port under 1024 for a user without the capability.
rc=0
timeout 10 "$WCSTREAM" --source "listen://127.0.0.1:$port" --sink "ws://192.0.2.1:$http?token=t" \
    --state :memory: 2>notlocal.txt || rc=$?
[ "$rc" = 1 ] && grep -q "cannot listen on 192.0.2.1:$http: Cannot assign requested address" notlocal.txt ||
    fail "an address not on this host: exit $rc, $(cat notlocal.txt)"
nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
if [ "$(id -u)" = 0 ] && [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)" -gt 80 ] &&
    "${nobody[@]}" "$WCSTREAM" --version >/dev/null 2>&1; then
    rc=0
    timeout 10 "${nobody[@]}" "$WCSTREAM" --source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:80" \
        --state :memory: 2>priv.txt || rc=$?
    [ "$rc" = 1 ] && grep -q "cannot listen on 127.0.0.1:80: Permission denied" priv.txt ||
        fail "a port under 1024 without the capability: exit $rc, $(cat priv.txt)"
else
    log "not root, or nobody cannot run $WCSTREAM: the port under 1024 is not tried"
fi
for bad in "ws://127.0.0.1:$http?topN=0" "ws://127.0.0.1:$http?bogus=1" "ws://127.0.0.1" \
    "ws://127.0.0.1:$http?token=has%20space"; do
    rc=0
    timeout 10 "$WCSTREAM" --source "listen://127.0.0.1:$port" --sink "$bad" --state :memory: \
        2>bad.txt ||
        rc=$?
    [ "$rc" = 2 ] || fail "$bad: exit $rc"
done
echo ok
