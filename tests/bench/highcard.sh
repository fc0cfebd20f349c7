# tests/bench/highcard.sh - the high-cardinality state figures: a small
# batch's commit on a 10M-key state against the same batch on an empty
# state, and startup on the 10M-key state.
#
# Sourced by bench.sh (needs lib.sh) after `stdin_round highcard ...`,
# whose last wcstream run left the 10M-key state in
# build/bench/stdin-highcard.db. One function:
#
#   highcard_small RUNS
#
# Each run starts wcstream twice with the same input, on stdin with
# --trigger available-now: the first 300,000 lines of the natural corpus
# (corpus "smallrun"), with --max-bytes-per-trigger set to the size of its
# first 1,000 lines (corpus "small"), so that those are the first batch and
# the rest follow in batches of about 1,000 lines (300 in all):
#   - on an empty state (build/bench/small-empty.db, made fresh);
#   - on a copy of the 10M-key state (build/bench/small-highcard.db), so
#     every run sees the same state, synced to disk as a state at rest is.
# The first batch is the issue's figure: the batch right after a start on
# that state, against the same batch on an empty state (which skips the
# lookups: every word is new). Batches 2-10 and the last 100 show a
# running service, with new lines whose words are partly in recent, partly
# in counts and partly new, once recent has filled and every batch moves
# rows to counts (WAL checkpoints included). The time from the process's
# start to its first batch (the record's timestamp) and to the end of it
# (plus triggerExecution) give the startup cost. report.py takes the
# medians over the runs. Checks: the empty state must hold exactly the
# counts of smallrun; the 10M-key one must total the high-cardinality
# corpus's words plus those (distinct words cannot simply add up: some
# natural words are also 4-character base-62 words).

# shellcheck shell=bash

highcard_small() {
    local runs=$1 r input want small_total hc_total got ok state log kind
    local hc_state=$DIR/stdin-highcard.db
    input=${CORPUS_PATH[smallrun]}
    want=$(ref_fp "$input")
    small_total=${want%% *}
    hc_total=$(ref_fp "${CORPUS_PATH[highcard]}")
    hc_total=${hc_total%% *}
    if [[ ! -s $hc_state ]] || ! check "high-cardinality state before the small batches" \
        "$(sqlite3 -readonly "$hc_state" 'select sum(count) from word_counts')" "$hc_total"; then
        fail "small batch on the 10M-key state" "no high-cardinality state to start from"
        return 0
    fi
    # Everything in the main file, so that a copy of it is the whole state.
    sqlite3 "$hc_state" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    for ((r = 1; r <= runs; r++)); do
        for kind in empty highcard; do
            state=$DIR/small-$kind.db
            log=$DIR/small-$kind-$r.progress.jsonl
            rm -f "$state" "$state-wal" "$state-shm" "$log"
            if [[ $kind == highcard ]]; then
                cp "$hc_state" "$state"
                sync "$state" # a state at rest, not pages still to write back
            fi
            CMD=("$WCS" --source stdin --trigger available-now --state "$state"
                --progress-log "$log" --max-bytes-per-trigger "${CORPUS_BYTES[small]}"
                --sink 'console?numRows=1')
            timed "$input" /dev/null "$DIR/small-$kind-$r.err" "${CMD[@]}"
            ok=false
            if ((RUN_RC != 0)); then
                fail "small batch on $kind state, run $r" "exit status $RUN_RC"
            elif [[ $kind == empty ]]; then
                check "small batch on an empty state, run $r" "$(fp_state "$state")" "$want" &&
                    ok=true
            else
                got=$(sqlite3 -readonly "$state" 'select sum(count) from word_counts')
                check "small batch on the 10M-key state, run $r (total words)" "$got" \
                    "$((hc_total + small_total))" && ok=true
            fi
            say "small batches on $kind state, run $r/$runs: $RUN_S s"
            record workload=small-batch program=wcstream corpus=small state="$kind" run:="$r" \
                command="$(cmdline "${CMD[@]}") < $input" \
                seconds:="$RUN_S" t0:="$RUN_T0" peak_rss_kb:="$RUN_KB" progress_log="$log" \
                correct:="$ok"
        done
    done
    rm -f "$DIR/small-highcard.db" "$DIR/small-highcard.db-wal" "$DIR/small-highcard.db-shm"
}
