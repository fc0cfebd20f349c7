# The dashboard in a real browser (Debian's headless Chromium): it shows
# the state's top words and counts while text arrives through nc, fits a
# phone screen, looks a word up (in capitals, with --lowercase), and after the server restarts it
# reconnects and shows the new counts, two words that look alike among
# them. Screenshots: dashboard.png and dashboard-phone.png in the test's
# output directory.
. "$(dirname "$0")/lib.sh"

[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium)"
port=$(free_port)
http=$(free_port)
make_text 400000 5 >a.txt
make_text 200000 6 >b.txt

top_json() { # STATE OUT: the state's top 10 as [{"word", "count"}]
    sqlite3 -readonly -json "$1" "select word, count from top_words limit 10" >"$2.tmp"
    mv "$2.tmp" "$2"
}

args=(--source "listen://127.0.0.1:$port" --sink "ws://127.0.0.1:$http?topN=10" --trigger 300ms
    --state s.db --lowercase)
start_wcs "${args[@]}"
wait_for err.txt "dashboard on" 10
# The page is open before the text comes: the counts must move in.
$PY "$HERE/browser.py" "http://127.0.0.1:$http/" "$TEST_OUT" expect1.json expect2.json \
    >browser.txt 2>&1 &
browser=$!
_bg_pids+=("$browser")
sleep 1
split -n l/4 a.txt part.
for p in part.*; do
    nc -N 127.0.0.1 "$port" <"$p"
    sleep 0.3
done
wait_total s.db "$(count_words a.txt)"
top_json s.db expect1.json
for _ in $(seq 1 600); do
    [ -e phase1 ] && break
    kill -0 "$browser" 2>/dev/null || break
    sleep 0.1
done
[ -e phase1 ] || fail "browser: $(cat browser.txt)"

log "restart the server under the open page"
stop_wcs
sleep 1
start_wcs "${args[@]}"
wait_for err.txt "dashboard on" 10
# Two Latin-1 words lead now; both are shown as "caf\ufffd" and each must
# still have its own bar.
{
    cat b.txt
    for _ in $(seq 1 400); do printf 'caf\351\n'; done
    for _ in $(seq 1 350); do printf 'caf\350\n'; done
} >c.txt
nc -N 127.0.0.1 "$port" <c.txt
wait_total s.db "$(count_words a.txt c.txt)"
top_json s.db expect2.json
wait "$browser" || fail "browser: $(cat browser.txt)"
cat browser.txt
[ -s dashboard.png ] && [ -s dashboard-phone.png ] || fail "no screenshots"
echo ok
