# stdin with --trigger available-now: Spark's console table byte for byte,
# exact counts in the SQLite state, progress records, exit 0.
. "$(dirname "$0")/lib.sh"

printf 'the quick brown fox\r\njumps over the lazy dog\nthe end' >in.txt
"$WCSTREAM" --source stdin --trigger available-now --state s.db \
    --progress-log progress.jsonl <in.txt >out.txt 2>err.txt || fail "exit $?"

cat >want.txt <<'TABLE'
-------------------------------------------
Batch: 0
-------------------------------------------
+-----+-----+
| word|count|
+-----+-----+
|  the|    3|
|brown|    1|
|  dog|    1|
|  end|    1|
|  fox|    1|
|jumps|    1|
| lazy|    1|
| over|    1|
|quick|    1|
+-----+-----+

TABLE
diff -u want.txt out.txt || fail "console output differs from Spark's layout"
check_counts s.db in.txt

# The view, the batch history and the progress record.
[ "$(sql s.db "select count from word_counts where word = 'the'")" = 3 ] || fail "view"
[ "$(sql s.db "select batch_id, num_input_rows, num_rows_total, total_words from batches")" = "0|3|9|11" ] ||
    fail "batches row: $(sql s.db 'select * from batches')"
$PY - <<'PY' || fail "progress record"
import json
p = json.loads(open("progress.jsonl").readline())
assert p["batchId"] == 0 and p["numInputRows"] == 3, p
assert p["stateOperators"][0]["numRowsTotal"] == 9 and p["stateOperators"][0]["numRowsUpdated"] == 9
for k in ("getBatch", "tokenize", "aggregate", "stateCommit", "sinks", "triggerExecution"):
    assert k in p["durationMs"], k
assert p["sources"][0]["description"] == "stdin" and p["sources"][0]["numInputRows"] == 3
assert p["sources"][0]["startOffset"] == 0 and p["sources"][0]["endOffset"] == 3
assert len(p["id"]) == 36 and p["runId"] != p["id"] and p["timestamp"].endswith("Z")
assert p["sink"]["description"] == "console"
PY
grep -q "INFO  batch 0: 3 rows" err.txt || fail "no batch summary in the log"

# numRows and truncate, more rows than shown.
printf 'aaaaaaaaaaaaaaaaaaaaaaaaa b b c\n' | "$WCSTREAM" --source - --trigger available-now \
    --state :memory: --sink 'console?numRows=2' >out2.txt 2>/dev/null || fail "exit $?"
grep -qx '|aaaaaaaaaaaaaaaaa...|    1|' out2.txt || fail "no truncation: $(cat out2.txt)"
grep -qx 'only showing top 2 rows' out2.txt || fail "no 'only showing' line"

# Empty input: no batch, clean exit.
"$WCSTREAM" --source stdin --trigger available-now --state e.db </dev/null >out3.txt 2>&1 || fail "empty input: exit $?"
[ "$(sql e.db 'select count(*) from batches')" = 0 ] || fail "a batch without data"

# Input that ends between two ticks of a long trigger: its last lines are
# counted and the run ends then, not at the next tick an hour later.
{ echo "a b"; sleep 1; echo "c"; } |
    timeout 30 "$WCSTREAM" --source stdin --trigger 1h --state tick.db >/dev/null 2>&1 ||
    fail "an ended input waited for the tick: exit $?"
[ "$(sql tick.db 'select sum(count) from word_counts')" = 3 ] || fail "the last lines were lost"
echo ok
