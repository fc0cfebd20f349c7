# tests/bench/stdin.sh - workload (a): `wcstream --source stdin --trigger
# available-now` with a state file, and the baselines, on one corpus.
#
# Sourced by bench.sh (needs lib.sh). One function:
#
#   stdin_round CORPUS RUNS PROGRAM...
#
# runs every PROGRAM (wcstream, wcstream1 = wcstream --threads 1, mawk,
# gawk, sortuniq, wc_baseline) RUNS
# times over corpus CORPUS (a name from bench.sh's CORPUS_PATH), round-robin
# so that a noisy neighbour on the machine hits all of them alike. Each run
# is timed under GNU time and checked: wcstream's state (a fresh
# build/bench/stdin-CORPUS.db each run, committed for real: WAL,
# synchronous=normal; the last one is kept for highcard.sh)
# and each baseline's output must have the corpus's fingerprint. Each run
# is one record in the figures (workload "stdin" for wcstream, "stdin1"
# for wcstream1, "baseline" for the others); a run whose counts are wrong is recorded as such and
# its time is not reported.

# shellcheck shell=bash

# shellcheck disable=SC2016 # $i and $0 are awk's, not the shell's
AWK_PROG='{for(i=1;i<=NF;i++) c[$i]++} END{for(w in c) print c[w], w}'
PIPE="LC_ALL=C tr -s ' \\t' '\\n' | LC_ALL=C sort | LC_ALL=C uniq -c"

declare -A PROGRAM_LABEL=(
    [wcstream]="wcstream"
    [wcstream1]="wcstream --threads 1"
    [mawk]="mawk"
    [gawk]="gawk"
    [sortuniq]="sort | uniq -c"
    [wc_baseline]="wc_baseline (C)"
)

# stdin_cmd PROGRAM STATE LOG: sets CMD to PROGRAM's command line (for
# wcstream: committing to STATE, progress records to LOG).
stdin_cmd() {
    case $1 in
    wcstream | wcstream1)
        CMD=("$WCS" --source stdin --trigger available-now --state "$2" --progress-log "$3"
            --sink 'console?numRows=1')
        [[ $1 == wcstream ]] || CMD+=(--threads 1)
        ;;
    mawk | gawk) CMD=("$1" "$AWK_PROG") ;;
    sortuniq) CMD=(bash -c "$PIPE") ;;
    wc_baseline) CMD=("$BASE") ;;
    esac
}

stdin_round() {
    local corpus=$1 runs=$2 r prog path want got ok label state log out
    shift 2
    path=${CORPUS_PATH[$corpus]}
    want=$(ref_fp "$path")
    state=$DIR/stdin-$corpus.db
    for ((r = 1; r <= runs; r++)); do
        for prog in "$@"; do
            label="${PROGRAM_LABEL[$prog]} on $corpus, run $r/$runs"
            log=$DIR/stdin-$corpus-$prog-$r.progress.jsonl
            out=$DIR/stdin-$corpus-$prog.out
            if [[ $prog == wcstream* ]]; then
                rm -f "$state" "$state-wal" "$state-shm" "$log"
            fi
            stdin_cmd "$prog" "$state" "$log"
            timed "$path" "$out" "$DIR/stdin-$corpus-$prog-$r.err" "${CMD[@]}"
            ok=false
            if ((RUN_RC != 0)); then
                fail "$label" "exit status $RUN_RC; see $DIR/stdin-$corpus-$prog-$r.err"
            else
                if [[ $prog == wcstream* ]]; then
                    got=$(fp_state "$state")
                else
                    got=$(fp_output "$out")
                fi
                check "$label" "$got" "$want" && ok=true
            fi
            say "$label: $RUN_S s$([[ $ok == true ]] || echo ' (counts WRONG)')"
            if [[ $prog == wcstream* ]]; then
                record workload="stdin${prog#wcstream}" program=wcstream corpus="$corpus" run:="$r" \
                    command="$(cmdline "${CMD[@]}") < $path" seconds:="$RUN_S" t0:="$RUN_T0" \
                    peak_rss_kb:="$RUN_KB" progress_log="$log" correct:="$ok"
            else
                record workload=baseline program="${PROGRAM_LABEL[$prog]}" corpus="$corpus" \
                    run:="$r" command="$(cmdline "${CMD[@]}") < $path" seconds:="$RUN_S" \
                    peak_rss_kb:="$RUN_KB" correct:="$ok"
            fi
        done
    done
    rm -f "$DIR/stdin-$corpus-"*.out
}
