# socket:// as Spark's socket source: the service connects to a text
# server, retries with backoff while none is there (and says so), reads
# again after the server goes away and comes back (backing off from one
# that accepts and closes at once), and with --trigger available-now the
# end of the stream ends the query.
. "$(dirname "$0")/lib.sh"

port=$(free_port)
make_text 200000 1 >c1.txt
make_text 100000 2 >c2.txt

start_wcs --source "socket://127.0.0.1:$port" --trigger 200ms --state s.db
wait_for err.txt "cannot connect: Connection refused; retrying" 10
sleep 1
kill -0 "$WCS_PID" || fail "gave up without a server"
[ "$(grep -c 'cannot connect' err.txt)" = 1 ] || fail "logs every retry instead of once per state change"

bg nc -N -l 127.0.0.1 "$port" <c1.txt
wait_for err.txt "connected" 15
wait_total s.db "$(count_words c1.txt)" 20
wait_for err.txt "connection closed by the server; reconnecting" 10

bg nc -N -l 127.0.0.1 "$port" <c2.txt
wait_total s.db "$(count_words c1.txt c2.txt)" 20
check_counts s.db c1.txt c2.txt
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC"

# A server that accepts and closes at once (a proxy without its backend)
# is backed off too: in 3 s, 100 + 200 + 400 + 800 + 1600 ms of waits
# leave room for about 5 connections (31 when every close waited 100 ms).
port=$(free_port)
$PY - "$port" >accepts.txt <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
s.settimeout(0.2)
n, end = 0, time.time() + 4
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    n += 1
    c.close()
print(n)
PY
_bg_pids+=($!)
sleep 0.3
start_wcs --source "socket://127.0.0.1:$port" --trigger 200ms --state fl.db
sleep 3
stop_wcs
wait "${_bg_pids[-1]}" || true
[ "$(cat accepts.txt)" -le 8 ] || fail "$(cat accepts.txt) connections in 3 s: no backoff"

# available-now: the server's end of stream ends the query.
port=$(free_port)
bg nc -N -l 127.0.0.1 "$port" <c2.txt
sleep 0.3
timeout 30 "$WCSTREAM" --source "socket://127.0.0.1:$port" --trigger available-now \
    --state an.db >out2.txt 2>err2.txt || fail "available-now exit $?"
check_counts an.db c2.txt

# A server that vanishes without closing (its host crashed: no FIN, no
# reset) is found out by keepalive probes, and the source reconnects to the
# server that comes back on the port instead of waiting on the dead
# connection for ever. In a network namespace of its own (root only),
# where lo goes down while the server is killed, and its socket, whose FIN
# cannot leave, gives up at once (tcp_orphan_retries=1).
if [ "$(id -u)" = 0 ] &&
    unshare -n sh -c 'ip link set lo up && sysctl -qw net.ipv4.tcp_orphan_retries=1' 2>/dev/null; then
    TEST_OUT=$TEST_OUT/vanish WCSTREAM=$WCSTREAM HERE=$HERE unshare -n bash -s <<'NS' || exit 1
. "$HERE/lib.sh"
ip link set lo up
sysctl -qw net.ipv4.tcp_orphan_retries=1
cat >srv.py <<'PY'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 9999))
s.listen()
c, _ = s.accept()
c.sendall(sys.argv[1].encode() + b"\n")
time.sleep(600)
PY
bg $PY srv.py first
start_wcs --source socket://127.0.0.1:9999 --trigger 200ms --state v.db
wait_total v.db 1 10
ip link set lo down
kill -9 "${_bg_pids[0]}"
wait "${_bg_pids[0]}" 2>/dev/null || true
sleep 2
ip link set lo up
bg $PY srv.py second
wait_total v.db 2 40
stop_wcs
[ "$(sql v.db "select group_concat(word) from (select word from word_counts order by word)")" = first,second ] ||
    fail "counts: $(sql v.db "select * from word_counts")"
NS
else
    log "no network namespace of our own (not root?): the server that vanishes is not tried"
fi
echo ok
