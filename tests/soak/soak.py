"""Helpers for tests/soak/soak.sh: a text server for socket://, websocket
and /metrics clients that stay for the whole run, and the final check.

Every producer of the soak sends whole copies of one chunk file and
counts the copies it completed, so the ground truth of any run, however
long, is copies x the chunk's words.

  soak.py server PORT CHUNK STOPFILE COUNTFILE
      A text server for socket://: to each connection, a copy of CHUNK
      every 0.5 s until STOPFILE exists; the copies completed go to
      COUNTFILE (rewritten after each).
  soak.py ws URL STOPFILE OUT
      A websocket client of the dashboard feed (subprotocol wcstream.v1),
      reconnecting if dropped, until STOPFILE exists; writes the messages
      it got, its reconnects and the last totalWords to OUT as JSON.
  soak.py metrics URL STOPFILE OUT
      GET URL/metrics every 2 s until STOPFILE exists; OUT: the number of
      answers and of failures.
  soak.py check STATE CHUNK=COPIES...
      The state's word_counts equal the sum of COPIES x words of CHUNK,
      the sum of the counts equals the last batch's total_words, and the
      batches' input rows add up to the lines sent. Prints a summary.

Runs with Debian's /usr/bin/python3 and python3-websockets.
"""
import asyncio
import collections
import json
import os
import socket
import sqlite3
import sys
import time
import urllib.request

import websockets


def server(port, chunk, stopfile, countfile):
    with open(chunk, "rb") as f:
        data = f.read()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    srv.settimeout(0.5)
    copies = 0
    while not os.path.exists(stopfile):
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        try:
            while not os.path.exists(stopfile):
                conn.sendall(data)
                copies += 1
                with open(countfile + ".tmp", "w") as f:
                    f.write("%d\n" % copies)
                os.replace(countfile + ".tmp", countfile)
                time.sleep(0.5)
        except OSError:
            pass  # the query went away; it reconnects
        conn.close()
    srv.close()


async def ws_client(url, stopfile, out):
    got = {"messages": 0, "reconnects": -1, "totalWords": None, "batchId": None}
    while not os.path.exists(stopfile):
        got["reconnects"] += 1
        try:
            async with websockets.connect(url, subprotocols=["wcstream.v1"],
                                          max_size=64 << 20) as ws:
                while not os.path.exists(stopfile):
                    try:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 1))
                    except asyncio.TimeoutError:
                        continue
                    got["messages"] += 1
                    got["totalWords"], got["batchId"] = m["totalWords"], m["batchId"]
        except (OSError, websockets.exceptions.WebSocketException):
            await asyncio.sleep(1)
    with open(out, "w") as f:
        json.dump(got, f)


def metrics(url, stopfile, out):
    ok = failed = 0
    while not os.path.exists(stopfile):
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
                r.read()
            ok += 1
        except OSError:
            failed += 1
        time.sleep(2)
    with open(out, "w") as f:
        json.dump({"answers": ok, "failures": failed}, f)


def check(state, specs):
    want, lines = collections.Counter(), 0
    for spec in specs:
        path, copies = spec.rsplit("=", 1)
        with open(path, "rb") as f:
            data = f.read()
        for w, n in collections.Counter(data.split()).items():
            want[w] += n * int(copies)
        lines += data.count(b"\n") * int(copies)
    con = sqlite3.connect("file:%s?mode=ro" % state, uri=True)
    con.text_factory = bytes
    got = dict(con.execute("SELECT word, count FROM word_counts"))
    total = sum(got.values())
    last = con.execute("SELECT total_words FROM batches ORDER BY batch_id DESC LIMIT 1").fetchone()
    rows, batches, first = con.execute(
        "SELECT sum(num_input_rows), count(*), min(batch_id) FROM batches").fetchone()
    bad = []
    if total != last[0]:
        bad.append("the counts sum to %d, the last batch says %d" % (total, last[0]))
    if first != 0:  # the table keeps the last 10,000 batches: the lines of the rest are gone
        print("batches before %d dropped: the lines are not checked" % first)
    elif rows != lines:
        bad.append("the batches took %d lines, %d were sent" % (rows, lines))
    diff = [(w[:30], want.get(w, 0), got.get(w, 0)) for w in set(want) | set(got)
            if want.get(w, 0) != got.get(w, 0)]
    if diff:
        bad.append("%d words differ from what was sent (word, sent, counted): %s"
                   % (len(diff), diff[:5]))
    print("%d batches, %d lines, %d words, %d distinct" % (batches, rows, total, len(got)))
    for b in bad:
        print("inconsistent: " + b)
    return 1 if bad else 0


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "server":
        server(int(a[0]), a[1], a[2], a[3])
    elif cmd == "ws":
        asyncio.run(ws_client(a[0], a[1], a[2]))
    elif cmd == "metrics":
        metrics(a[0], a[1], a[2])
    elif cmd == "check":
        return check(a[0], a[1:])
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
