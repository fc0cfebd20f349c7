# tests/bench/latency.sh - line-to-dashboard latency.
#
# Sourced by bench.sh (needs lib.sh). One function:
#
#   latency_run SECONDS RATE
#
# Starts wcstream with `--source listen://127.0.0.1:P1 --trigger 0` and the
# websocket sink `ws://127.0.0.1:P2?maxUpdated=10000` (a state file, so
# every batch is a real commit), then tests/bench/latency.py, one asyncio
# program and so one clock, sends natural text with a uniquely tagged line
# about every millisecond at RATE bytes a second for SECONDS through the
# listen:// source and notes when each tag's count arrives on the
# websocket. Afterwards wcstream is stopped (SIGTERM, status 0 expected)
# and its state must hold exactly the counts of what latency.py sent
# (build/bench/latency-sent.txt, counted by wc_baseline).

# shellcheck shell=bash

latency_run() {
    local secs=$1 rate=$2 p1 p2 state log err out sent want ok=true label
    label="latency through listen:// and ws://"
    p1=$(free_port)
    p2=$(free_port)
    state=$DIR/latency.db
    log=$DIR/latency.progress.jsonl
    err=$DIR/latency.err
    out=$DIR/latency.json
    sent=$DIR/latency-sent.txt
    rm -f "$state" "$state-wal" "$state-shm" "$log" "$out" "$sent"
    CMD=("$WCS" --source "listen://127.0.0.1:$p1" --trigger 0
        --sink "ws://127.0.0.1:$p2?maxUpdated=10000" --state "$state" --progress-log "$log")
    wcs_start "$err" "${CMD[@]}"
    if ! wait_log "$err" 'listening' "$WCS_PID" || ! wait_log "$err" 'dashboard on' "$WCS_PID"; then
        fail "$label" "wcstream did not start; see $err"
        kill_reap "$WCS_PID"
        return 0
    fi
    PROBE=("$PY" tests/bench/latency.py --listen "$p1" --ws "$p2" --text "${CORPUS_PATH[natural]}"
        --sent "$sent" --out "$out" --seconds "$secs" --rate "$rate")
    say "$label: sending $rate bytes/s for $secs s..."
    if ! "${PROBE[@]}" </dev/null >&2; then
        fail "$label" "latency.py failed"
        ok=false
    fi
    wcs_stop
    if ((WCS_RC != 0)); then
        fail "$label" "SIGTERM ended wcstream with status $WCS_RC; see $err"
        ok=false
    fi
    if [[ $ok == true ]]; then
        want=$("$BASE" <"$sent" | "$SUM")
        check "$label" "$(fp_state "$state")" "$want" || ok=false
    fi
    [[ -s $out ]] || echo null >"$out"
    record workload=latency program=wcstream corpus=natural \
        command="$(cmdline "${PROBE[@]}") against: $(cmdline "${CMD[@]}")" \
        peak_rss_kb:="$WCS_PEAK_KB" progress_log="$log" probe:="$(cat "$out")" correct:="$ok"
}
