# Query options end to end: options in any case, spark split (empty words as empty cells),
# --lowercase, update vs complete output, the jsonl sink, a JSON config file
# that flags override, restarts that continue counts and batch ids, and
# SIGTERM in the middle of a large batch (finished and committed first).
. "$(dirname "$0")/lib.sh"

# Spark's explode(split(value, ' ')): "a  b" -> a, "", b.
printf 'a  b\nb \n\n' >sp.txt
"$WCSTREAM" --source stdin --trigger available-now --state sp.db --split spark <sp.txt \
    >out.txt 2>err.txt || fail "spark split: exit $?"
check_counts sp.db --split spark sp.txt
[ "$(sql sp.db "select count from word_counts where word = ''")" = 3 ] || fail "empty words"
grep -qx '|    |    3|' out.txt || fail "empty word cell: $(cat out.txt)"
# A line cut at --max-line-bytes is cut at a space, which the cut takes:
# Spark's split of the pieces finds the words of the whole line, and no
# empty word where a piece would have ended in its space.
$PY -c "
import random
r = random.Random(7)
for _ in range(40):
    print(''.join(r.choice(['ab', 'cdef', 'ghijklm', 'nopqrstuv']) + r.choice([' ', ' ', ' ', '  '])
                  for _ in range(r.randrange(10, 60))).rstrip(' '))
" >spcut.txt
"$WCSTREAM" --source stdin --trigger available-now --state spcut.db --split spark \
    --max-line-bytes 64 --progress-log spcut.prog <spcut.txt >/dev/null 2>err.txt ||
    fail "spark split, cut lines: exit $?"
grep -q '"linesCut":[1-9]' spcut.prog || fail "no line was cut: $(cat spcut.prog)"
check_counts spcut.db --split spark spcut.txt

# --lowercase with Unicode case folding.
printf 'The THE the \xc3\x89COLE \xc3\xa9cole Stra\xc3\x9fe\n' |
    "$WCSTREAM" --source stdin --trigger available-now --state lc.db --lowercase >/dev/null 2>&1 ||
    fail "lowercase: exit $?"
[ "$(sql lc.db "select count from word_counts where word = 'the'")" = 3 ] || fail "ascii folding"
[ "$(sql lc.db "select count from word_counts where word = 'école'")" = 2 ] || fail "unicode folding"
[ "$(sql lc.db "select count from word_counts where word = 'strasse'")" = 1 ] || fail "full folding"

# Options and the output mode in any case, as Spark takes them.
printf 'b a b\n' | "$WCSTREAM" --source stdin --trigger available-now --state case.db \
    --output-mode Complete --sink 'console?NUMROWS=1&Truncate=FALSE' >case.txt 2>err.txt ||
    fail "options in capitals: exit $?: $(cat err.txt)"
grep -qx '|b   |2    |' case.txt || fail "truncate=false row: $(cat case.txt)"
grep -q 'only showing top 1 row' case.txt || fail "numRows=1: $(cat case.txt)"

# update mode prints only the rows changed by the batch, complete all.
port=$(free_port)
start_wcs --source "listen://127.0.0.1:$port" --trigger 100ms --state up.db --output-mode update \
    --sink jsonl://up.jsonl --sink console
wait_for err.txt listening
echo "alpha beta beta" | nc -N 127.0.0.1 "$port"
wait_total up.db 3
echo "gamma beta" | nc -N 127.0.0.1 "$port"
wait_total up.db 5
stop_wcs
awk '/^Batch: 1$/ {b = 1} b' out.txt >batch1.txt
grep -qx '| beta|    3|' batch1.txt || fail "update row: $(cat batch1.txt)"
grep -q 'alpha' batch1.txt && fail "update mode printed an unchanged row"
$PY - <<'PY' || fail "jsonl content"
import json
lines = [json.loads(l) for l in open("up.jsonl")]
assert [l["batchId"] for l in lines] == [0, 1], lines
assert lines[1]["outputMode"] == "update"
assert sorted((r["word"], r["count"]) for r in lines[1]["updated"]) == [("beta", 3), ("gamma", 1)]
assert lines[1]["top"][0] == {"word": "beta", "count": 3}
assert lines[1]["distinctWords"] == 3 and lines[1]["totalWords"] == 5
assert lines[1]["progress"]["batchId"] == 1
PY

# A rotated jsonl file and progress log (renamed, as logrotate does, or
# deleted): the next batch's line goes to a new file at the path, not to
# the renamed one or, deleted, to space never given back.
port=$(free_port)
start_wcs --source "listen://127.0.0.1:$port" --trigger 100ms --state rot.db \
    --sink jsonl://rot.jsonl --progress-log rot.prog
wait_for err.txt listening
echo "one" | nc -N 127.0.0.1 "$port"
wait_total rot.db 1
mv rot.jsonl rot.jsonl.1
rm rot.prog
echo "two" | nc -N 127.0.0.1 "$port"
wait_total rot.db 2
sleep 0.3
[ -z "$(find "/proc/$WCS_PID/fd" -lname '*(deleted)')" ] || fail "a deleted progress log still open"
[ "$(pyjson 'j["batchId"]' j=rot.jsonl)" = 1 ] || fail "no new jsonl file for batch 1"
# logrotate's copytruncate: the next line starts the emptied file.
cp rot.jsonl rot.jsonl.2
: >rot.jsonl
echo "three" | nc -N 127.0.0.1 "$port"
wait_total rot.db 3
sleep 0.3
stop_wcs
[ "$(wc -l <rot.jsonl.1)" = 1 ] || fail "the renamed jsonl file was written on: $(cat rot.jsonl.1)"
[ "$(pyjson 'j["batchId"]' j=rot.jsonl)" = 2 ] || fail "copytruncate: $(od -c rot.jsonl | head -3)"
[ "$(head -n 1 rot.prog | pyjson 'p["batchId"]' p=/dev/stdin)" = 1 ] || fail "no new progress log for batch 1"
grep -q "rot.jsonl was renamed or deleted: writing to a new rot.jsonl" err.txt ||
    fail "the log does not say so: $(cat err.txt)"

# A config file; flags override it.
cat >conf.json <<JSON
{"source": ["stdin"], "sink": "console?numRows=1", "trigger": "available-now",
 "state": "conf.db", "lowercase": true, "max-bytes-per-trigger": "1MiB", "split": "whitespace"}
JSON
echo "Xx xx yy" | "$WCSTREAM" --config conf.json >out.txt 2>err.txt || fail "config: exit $?"
[ "$(sql conf.db "select count from word_counts where word = 'xx'")" = 2 ] || fail "config lowercase"
grep -q 'only showing top 1 row' out.txt || fail "config sink"
echo "Zz" | "$WCSTREAM" --config conf.json --state flag.db --sink console >out.txt 2>err.txt ||
    fail "config + flags: exit $?"
[ "$(sql flag.db "select word from word_counts")" = zz ] || fail "--state did not override"
grep -q 'only showing' out.txt && fail "--sink did not replace the config's sink"

# The systemd unit's command line starts the service with the example
# config as it is, sinks included: the unit's paths (the state directory,
# the credentials directory systemd hands the config in) are moved under
# TEST_OUT, and the config's ports to free ones.
deploy=$HERE/../../deploy
lport=$(free_port)
wport=$(free_port)
mkdir -p var/lib/wcstream creds
sed -e "s|/var/lib/wcstream/|$TEST_OUT/var/lib/wcstream/|" -e "s|:9999\"|:$lport\"|" \
    -e "s|:8080?|:$wport?|" "$deploy/wcstream.json" >creds/wcstream.json
grep -q ":$lport\"" creds/wcstream.json && grep -q ":$wport?" creds/wcstream.json &&
    grep -q "$TEST_OUT/var/lib/wcstream/batches.jsonl" creds/wcstream.json ||
    fail "deploy/wcstream.json no longer has the listen port, dashboard port or jsonl path the test moves"
chmod 400 creds/wcstream.json
exec_start=$(sed -n 's/^ExecStart=//p' "$deploy/wcstream.service")
exec_start=${exec_start//\/usr\/local\/bin\/wcstream/$WCSTREAM}
exec_start=${exec_start//\$\{CREDENTIALS_DIRECTORY\}/$TEST_OUT/creds}
exec_start=${exec_start//\/var\/lib\/wcstream\//$TEST_OUT/var/lib/wcstream/}
read -ra unit_cmd <<<"$exec_start"
[ "${unit_cmd[0]}" = "$WCSTREAM" ] || fail "deploy/wcstream.service: ExecStart=$exec_start"
start_wcs "${unit_cmd[@]:1}"
wait_for err.txt "started"
echo "deploy check" | nc -N 127.0.0.1 "$lport"
wait_total var/lib/wcstream/wcstream.db 2
[ "$(curl -sf "http://127.0.0.1:$wport/healthz")" = ok ] || fail "deploy: no dashboard on $wport"
stop_wcs
[ "$WCS_RC" = 0 ] || fail "deploy: exit $WCS_RC"
grep -q '"batchId":0' var/lib/wcstream/batches.jsonl || fail "deploy: no jsonl line"
grep -q '^|deploy|    1|$' out.txt || fail "deploy: console: $(cat out.txt)"
# Bad usage (exit 2) fails the same way again: the unit does not restart on it.
grep -qx 'RestartPreventExitStatus=2' "$deploy/wcstream.service" ||
    fail "deploy/wcstream.service restarts after bad usage"

# A restart continues the counts and the batch numbering.
echo "Xx" | "$WCSTREAM" --config conf.json >out.txt 2>err.txt || fail "restart: exit $?"
[ "$(sql conf.db "select count from word_counts where word = 'xx'")" = 3 ] || fail "restart counts"
grep -q '^Batch: 1$' out.txt || fail "restart batch id: $(head -3 out.txt)"

# SIGTERM in the middle of a large batch: committed first, exit 0, and a
# restart finishes the file exactly.
make_text 30000000 7 >big.txt
start_wcs --source "file://$TEST_OUT/big.txt" --state term.db --max-bytes-per-trigger 64MiB
wait_for err.txt "started" 10
sleep 0.1
stop_wcs
[ "$WCS_RC" = 0 ] || fail "SIGTERM mid-batch: exit $WCS_RC"
log "$(grep -c 'INFO  batch' err.txt) batch(es) committed before the stop"
"$WCSTREAM" --source "file://$TEST_OUT/big.txt" --state term.db --trigger available-now \
    >/dev/null 2>err.txt || fail "resume: exit $?"
check_counts term.db big.txt
echo ok
