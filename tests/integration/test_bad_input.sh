# Text that is not nice: binary data with NUL bytes, invalid UTF-8, CRLF
# line ends, and a 100 MB line without a newline through listen://. Never
# an error, nothing lost, and memory stays bounded (the long line is cut at
# --max-line-bytes and the cuts are counted in the progress record).
. "$(dirname "$0")/lib.sh"

# Binary and invalid UTF-8, counted byte-exactly.
head -c 200000 /dev/urandom >bin.txt
printf 'caf\xc3\xa9 \xff\xfe bad\xc0\xafutf8 \x00nul\x00 ok\r\nok\r\n' >utf.txt
"$WCSTREAM" --source stdin --trigger available-now --state b.db <bin.txt >/dev/null 2>err.txt ||
    fail "binary input: exit $?"
check_counts b.db bin.txt
"$WCSTREAM" --source stdin --trigger available-now --state u.db --sink jsonl://u.jsonl --sink console \
    <utf.txt >out.txt 2>err.txt || fail "invalid UTF-8: exit $?"
check_counts u.db utf.txt
[ "$(sql u.db "select count from word_counts where word = 'ok'")" = 2 ] || fail "CRLF"
$PY -c 'import json; json.loads(open("u.jsonl").readline())' || fail "jsonl line is not valid JSON"
grep -q 'nul' out.txt || fail "console lost the NUL word"

# A 100 MB line with no newline, from a client, then normal lines.
port=$(free_port)
start_wcs --source "listen://127.0.0.1:$port" --trigger 200ms --state long.db \
    --max-line-bytes 1MiB --progress-log progress.jsonl --sink 'console?numRows=1'
wait_for err.txt listening 10
$PY - "$port" <<'PY' || fail "client"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
chunk = b"x" * (1 << 20)
for _ in range(100):
    s.sendall(chunk)
s.sendall(b"\nafter the long line\n")
s.close()
PY
# Wait for the line after the long one (the long one's pieces are cut at
# the listen:// clientBuffer, 256 KiB, smaller than --max-line-bytes).
for _ in $(seq 600); do
    [ "$(sql long.db "select count(*) from word_counts where word = 'after'" 2>/dev/null)" = 1 ] && break
    sleep 0.1
done
[ "$(sql long.db "select count from word_counts where word = 'after'")" = 1 ] || fail "lines after the long one"
[ "$(sql long.db "select count(*) from word_counts where length(word) > 1048576")" = 0 ] ||
    fail "a word longer than --max-line-bytes"
[ "$(sql long.db "select sum(length(word) * count) from word_counts where word like 'x%'")" = 104857600 ] ||
    fail "bytes of the long line lost"
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$WCS_PID/status)
log "peak RSS after a 100 MB line: $rss_kb kB"
[ "$rss_kb" -lt 262144 ] || fail "peak RSS $rss_kb kB: the long line was buffered"
$PY - <<'PY' || fail "linesCut not reported"
import json
cut = max(json.loads(l)["sources"][0]["metrics"]["linesCut"] for l in open("progress.jsonl"))
assert cut >= 99, cut
PY
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC"

# linesCut is a total since the start, also in the batch a stop commits
# without pulling the file source (only listen://'s lines are taken then).
mkdir -p cut
$PY -c 'print("x" * 3000)' >cut/a.txt
port=$(free_port)
start_wcs --source "file://$TEST_OUT/cut" --source "listen://127.0.0.1:$port" --trigger 1h \
    --max-line-bytes 1000 --state :memory: --progress-log cut.jsonl --sink 'console?numRows=1'
wait_for err.txt "INFO  batch 0:" 10
echo "hello" | nc -N 127.0.0.1 "$port"
sleep 0.5
stop_wcs
[ "$WCS_RC" = 0 ] || fail "exit $WCS_RC"
$PY - <<'PY' || fail "linesCut went back in the stop's batch: $(cat cut.jsonl)"
import json
cuts = [json.loads(l)["sources"][0]["metrics"]["linesCut"] for l in open("cut.jsonl")]
assert cuts == [2, 2], cuts
PY
echo ok
