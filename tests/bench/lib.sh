# tests/bench/lib.sh - what bench.sh and its workload files share.
#
# Sourced by tests/bench/bench.sh, never run on its own. It holds:
#   - messages (say, die) and the figures file: every run of every program
#     becomes one JSON line in $FIGS (record), which report.py turns into
#     the table and build/bench/results.json;
#   - background processes (spawn, reap) and their cleanup at exit: only
#     the processes started here are ever killed, by PID;
#   - ports (free_port, wait_port, wait_log);
#   - runs: timed foreground runs under GNU time (timed), wcstream in the
#     background (wcs_start, wcs_stop), RSS sampling (sample_rss);
#   - the count checks: a table of (word, count) pairs is reduced to a
#     fingerprint "TOTAL DISTINCT CHECKSUM" by build/count_sum
#     (tests/bench/count_sum.c), so wcstream's SQLite state and the
#     baselines' outputs compare without sorting millions of lines;
#     corpora's reference fingerprints come from build/wc_baseline and are
#     cached next to the corpus.
#
# Conventions: MB is 10^6 bytes; wall times come from bash's
# $EPOCHREALTIME (the same clock as the progress records' timestamps);
# peak RSS is in KiB as the kernel and GNU time report it.

# shellcheck shell=bash disable=SC2034 # sets variables for the scripts that source it

PY=/usr/bin/python3
DIR=build/bench
FIGS=$DIR/figures.jsonl
WCS=${WCSTREAM:-build/wcstream}
BASE=build/wc_baseline
SUM=build/count_sum
GEN=build/gen_corpus

BAD=0     # 1 once a check failed: the exit status
FAILS=()  # one line per failed check, repeated at the end
_PIDS=()  # background processes to kill at exit

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
    say "$2"
    exit "$1"
}

# ---- figures -------------------------------------------------------------

# A JSON string literal for $1 (backslashes, quotes and tabs escaped; no
# other control characters are expected).
json_str() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "${s//$'\t'/\\t}"
}

# record KEY=STRING... KEY:=JSON...: appends one JSON object to $FIGS.
# KEY=VALUE stores VALUE as a string, KEY:=VALUE as it is (a number, true,
# false, null, an object or an array).
record() {
    local arg key out="" sep=""
    for arg in "$@"; do
        if [[ $arg == *:=* && ${arg%%:=*} != *=* ]]; then
            key=${arg%%:=*}
            out+="$sep$(json_str "$key"): ${arg#*:=}"
        else
            key=${arg%%=*}
            out+="$sep$(json_str "$key"): $(json_str "${arg#*=}")"
        fi
        sep=", "
    done
    printf '{%s}\n' "$out" >>"$FIGS"
}

# The command line of an array, for the figures: words joined by spaces.
cmdline() {
    local IFS=' '
    printf '%s' "$*"
}

# ---- background processes ------------------------------------------------

# spawn CMD...: runs CMD in the background with the caller's stdin (a
# background job would otherwise read /dev/null); its PID goes to SPAWNED
# and to the list cleanup() kills.
spawn() {
    "$@" <&0 &
    SPAWNED=$!
    _PIDS+=("$SPAWNED")
}

# reap PID: waits for a spawned process and forgets it; returns its status.
reap() {
    local pid=$1 rc=0 p keep=()
    wait "$pid" 2>/dev/null || rc=$?
    for p in "${_PIDS[@]}"; do
        [[ $p == "$pid" ]] || keep+=("$p")
    done
    _PIDS=("${keep[@]}")
    return "$rc"
}

# kill_reap PID: SIGTERM, a second to go, then SIGKILL; reaped.
kill_reap() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    reap "$pid" || true
}

cleanup() {
    local p
    for p in "${_PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT

# ---- ports ---------------------------------------------------------------

# A TCP port nobody listens on now.
free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT [SECS]: until something listens on 127.0.0.1:PORT. Read
# from /proc/net/tcp, so without connecting (a `nc -l` serves one client).
wait_port() {
    local hex i
    hex=$(printf '0100007F:%04X' "$1")
    for ((i = 0; i < ${2:-10} * 50; i++)); do
        awk -v a="$hex" '$2 == a && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp &&
            return 0
        sleep 0.02
    done
    return 1
}

# wait_log FILE PATTERN PID [SECS]: until PATTERN (grep -E) is in FILE;
# fails when PID exits first or after SECS (default 20).
wait_log() {
    local i
    for ((i = 0; i < ${4:-20} * 50; i++)); do
        grep -qaE -- "$2" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

# ---- runs ----------------------------------------------------------------

# Every run starts on a quiet disk: the writes of the runs before it (states
# of hundreds of MB, the baselines' outputs) are written back first, not
# while it runs. The latency probe's p99 was 5.7 ms on its own and 11.6 ms
# right after the other workloads.
settle() {
    sync
}

# timed IN OUT ERR CMD...: runs CMD in the foreground with stdin from IN,
# stdout to OUT and stderr to ERR, under GNU time. Sets RUN_T0 (epoch
# seconds at the start), RUN_S (wall seconds), RUN_KB (peak RSS in KiB) and
# RUN_RC (CMD's exit status). For a `bash -c` pipeline the peak RSS is that
# of its largest process.
timed() {
    local in=$1 out=$2 err=$3 t1
    shift 3
    settle
    RUN_RC=0
    RUN_T0=$EPOCHREALTIME
    /usr/bin/time -f '%M' -o "$DIR/time.out" "$@" <"$in" >"$out" 2>"$err" || RUN_RC=$?
    t1=$EPOCHREALTIME
    RUN_S=$(awk -v a="$RUN_T0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    RUN_KB=$(tail -n 1 "$DIR/time.out")
    [[ $RUN_KB =~ ^[0-9]+$ ]] || RUN_KB=0 # "Command exited with non-zero status" only
}

# wcs_start ERR CMD...: starts wcstream's command line CMD in the
# background, stdout to /dev/null, stderr to ERR. Sets WCS_PID.
wcs_start() {
    local err=$1
    shift
    settle
    spawn "$@" </dev/null >/dev/null 2>"$err"
    WCS_PID=$SPAWNED
}

# wcs_stop: notes wcstream's peak RSS so far (VmHWM, KiB) in WCS_PEAK_KB,
# then SIGTERM (it commits the batch in hand and exits 0) and waits. Sets
# WCS_RC.
wcs_stop() {
    WCS_PEAK_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$WCS_PID/status" 2>/dev/null || echo 0)
    kill -TERM "$WCS_PID" 2>/dev/null || true
    WCS_RC=0
    reap "$WCS_PID" || WCS_RC=$?
}

# sample_rss PID FILE: in the background, every 100 ms until PID exits,
# appends "EPOCH RSS_KB" to FILE. Sets SAMPLER_PID.
sample_rss() {
    local pid=$1 file=$2
    : >"$file"
    # shellcheck disable=SC2016 # expanded by the inner bash
    spawn bash -c '
        while { status=$(<"/proc/$0/status"); } 2>/dev/null; do
            [[ $status =~ VmRSS:[[:space:]]*([0-9]+) ]] || break
            printf "%s %s\n" "$EPOCHREALTIME" "${BASH_REMATCH[1]}"
            sleep 0.1
        done' "$pid" </dev/null >>"$file"
    SAMPLER_PID=$SPAWNED
}

# wait_words LOG WANT PID [SECS]: until the last progress record in LOG
# shows at least WANT words in the state; fails when PID exits first or
# after SECS (default 300).
wait_words() {
    local log=$1 want=$2 pid=$3 i last
    for ((i = 0; i < ${4:-300} * 50; i++)); do
        last=$(tail -n 1 "$log" 2>/dev/null || true)
        if [[ $last =~ \"totalWords\":([0-9]+) ]] && ((BASH_REMATCH[1] >= want)); then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

# ---- count checks --------------------------------------------------------

# The fingerprint of wcstream's state file $1: its word_counts view.
fp_state() {
    sqlite3 -readonly -separator ' ' "$1" 'select count, word from word_counts' | "$SUM"
}

# The fingerprint of "count word" lines in file $1 (a baseline's stdout),
# every count multiplied by $2 (default 1).
fp_output() {
    "$SUM" -m "${2:-1}" <"$1"
}

# ref_fp CORPUS [K]: the fingerprint of CORPUS's counts (K copies of it),
# by wc_baseline. Cached in CORPUS.sum-xK, made again when the corpus or
# the programs are newer.
ref_fp() {
    local corpus=$1 k=${2:-1} cache="$1.sum-x${2:-1}"
    if [[ ! -s $cache || $corpus -nt $cache || $BASE -nt $cache || $SUM -nt $cache ]]; then
        "$BASE" <"$corpus" | "$SUM" -m "$k" >"$cache.tmp"
        mv "$cache.tmp" "$cache"
    fi
    cat "$cache"
}

# check LABEL GOT WANT: compares two fingerprints. On a difference it says
# so, remembers it for the end and the exit status, and returns 1.
check() {
    [[ $2 == "$3" ]] && return 0
    say "WRONG COUNTS: $1: got '$2' (total distinct checksum), expected '$3'"
    FAILS+=("$1: got '$2', expected '$3'")
    BAD=1
    return 1
}

# judge LABEL ERR STATE WANT: the verdict on a timed wcstream run (timed
# left RUN_RC and RUN_S): a bad exit status fails it, else its state's
# counts must have the fingerprint WANT. Sets OK to true or false and says
# how long it took.
judge() {
    OK=false
    if ((RUN_RC != 0)); then
        fail "$1" "exit status $RUN_RC; see $2"
    else
        check "$1" "$(fp_state "$3")" "$4" && OK=true
    fi
    say "$1: $RUN_S s$([[ $OK == true ]] || echo ' (WRONG)')"
}

# fail LABEL MESSAGE: a run that did not finish as it should.
fail() {
    say "FAILED: $1: $2"
    FAILS+=("$1: $2")
    BAD=1
}
