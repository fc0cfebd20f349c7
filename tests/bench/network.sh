# tests/bench/network.sh - workloads (b) and (c): wcstream reading TCP.
#
# Sourced by bench.sh (needs lib.sh). Two functions, both over the natural
# corpus, each run on a fresh state (build/bench/listen.db, socket.db):
#
#   listen_runs RUNS COPIES
#       (b) `--source listen://127.0.0.1:PORT --trigger 1s`: 4 concurrent
#       `nc -N` clients each send the whole natural corpus COPIES times
#       (so the state must end at 4 x COPIES times the corpus's counts).
#       The clock runs from just before the clients start (the first byte)
#       to the end of the batch that brought the state's totalWords to the
#       expected total, read from its progress record (timestamp +
#       triggerExecution; report.py does the arithmetic), i.e. to the
#       commit of the last byte, including the wait for the 1 s triggers
#       as a user would see it. The service's RSS is sampled every 100 ms
#       (build/bench/listen-N.rss: "EPOCH RSS_KB") to show whether memory
#       grows with the bytes that went through; its peak is VmHWM just
#       before it is stopped (SIGTERM, which must end it with status 0).
#   socket_runs RUNS
#       (c) `--source socket://127.0.0.1:PORT --trigger available-now`: an
#       `nc -N -l` server serves the corpus once; wcstream connects, reads
#       to the end of the stream and exits. Timed like a stdin run, from
#       wcstream's start (the server already listening) to its exit.

# shellcheck shell=bash

NC_CLIENTS=4

# send_copies PORT FILE COPIES: one client sending FILE COPIES times.
send_copies() {
    if (($3 == 1)); then
        exec nc -N 127.0.0.1 "$1" <"$2"
    fi
    local i
    for ((i = 0; i < $3; i++)); do
        cat "$2"
    done | nc -N 127.0.0.1 "$1"
}

listen_runs() {
    local runs=$1 copies=$2 r c port path want state log err rss t0 t1 ok label
    local -a clients
    path=${CORPUS_PATH[natural]}
    want=$(ref_fp "$path" $((NC_CLIENTS * copies)))
    state=$DIR/listen.db
    for ((r = 1; r <= runs; r++)); do
        label="listen:// with $NC_CLIENTS clients, run $r/$runs"
        port=$(free_port)
        log=$DIR/listen-$r.progress.jsonl
        err=$DIR/listen-$r.err
        rss=$DIR/listen-$r.rss
        rm -f "$state" "$state-wal" "$state-shm" "$log"
        CMD=("$WCS" --source "listen://127.0.0.1:$port" --trigger 1s --state "$state"
            --progress-log "$log" --sink 'console?numRows=1')
        wcs_start "$err" "${CMD[@]}"
        if ! wait_log "$err" 'listening' "$WCS_PID"; then
            fail "$label" "wcstream did not start listening; see $err"
            kill_reap "$WCS_PID"
            continue
        fi
        sample_rss "$WCS_PID" "$rss"
        t0=$EPOCHREALTIME
        clients=()
        for ((c = 0; c < NC_CLIENTS; c++)); do
            spawn send_copies "$port" "$path" "$copies" </dev/null
            clients+=("$SPAWNED")
        done
        ok=true
        for c in "${clients[@]}"; do
            reap "$c" || ok=false
        done
        [[ $ok == true ]] || fail "$label" "an nc client failed"
        if ! wait_words "$log" "${want%% *}" "$WCS_PID" 600; then
            fail "$label" "the state never reached ${want%% *} words; see $err"
            ok=false
        fi
        t1=$EPOCHREALTIME
        wcs_stop
        reap "$SAMPLER_PID" || true
        if ((WCS_RC != 0)); then
            fail "$label" "SIGTERM ended wcstream with status $WCS_RC; see $err"
            ok=false
        fi
        if [[ $ok == true ]]; then
            check "$label" "$(fp_state "$state")" "$want" || ok=false
        fi
        say "$label: all committed after about $(awk -v a="$t0" -v b="$t1" \
            'BEGIN { printf "%.1f", b - a }') s$([[ $ok == true ]] || echo ' (WRONG)')"
        record workload=listen program=wcstream corpus=natural run:="$r" \
            command="$NC_CLIENTS x nc -N 127.0.0.1 $port < $path ($copies times each); $(
                cmdline "${CMD[@]}")" \
            clients:="$NC_CLIENTS" copies:="$copies" t0:="$t0" \
            bytes:="$((NC_CLIENTS * copies * CORPUS_BYTES[natural]))" \
            words:="${want%% *}" peak_rss_kb:="$WCS_PEAK_KB" progress_log="$log" rss_log="$rss" \
            correct:="$ok"
    done
}

socket_runs() {
    local runs=$1 r port path want state log err server label
    path=${CORPUS_PATH[natural]}
    want=$(ref_fp "$path")
    state=$DIR/socket.db
    for ((r = 1; r <= runs; r++)); do
        label="socket:// from an nc -l server, run $r/$runs"
        port=$(free_port)
        log=$DIR/socket-$r.progress.jsonl
        err=$DIR/socket-$r.err
        rm -f "$state" "$state-wal" "$state-shm" "$log"
        spawn nc -N -l 127.0.0.1 "$port" <"$path" >/dev/null
        server=$SPAWNED
        if ! wait_port "$port"; then
            fail "$label" "nc -l did not start listening"
            kill_reap "$server"
            continue
        fi
        CMD=("$WCS" --source "socket://127.0.0.1:$port" --trigger available-now --state "$state"
            --progress-log "$log" --sink 'console?numRows=1')
        timed /dev/null /dev/null "$err" "${CMD[@]}"
        kill_reap "$server"
        judge "$label" "$err" "$state" "$want"
        record workload=socket program=wcstream corpus=natural run:="$r" \
            command="nc -N -l 127.0.0.1 $port < $path; $(cmdline "${CMD[@]}")" seconds:="$RUN_S" \
            t0:="$RUN_T0" peak_rss_kb:="$RUN_KB" progress_log="$log" correct:="$OK"
    done
}
