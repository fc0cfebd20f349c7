# socket:// as Spark's socket source: the service connects to a text
# server, retries with backoff while none is there (and says so), reads
# again after the server goes away and comes back, and with
# --trigger available-now the end of the stream ends the query.
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

# available-now: the server's end of stream ends the query.
port=$(free_port)
bg nc -N -l 127.0.0.1 "$port" <c2.txt
sleep 0.3
timeout 30 "$WCSTREAM" --source "socket://127.0.0.1:$port" --trigger available-now \
    --state an.db >out2.txt 2>err2.txt || fail "available-now exit $?"
check_counts an.db c2.txt
echo ok
