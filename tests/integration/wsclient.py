"""A websocket client for the dashboard feed (ws://HOST:PORT/ws), for tests.

  wsclient.py follow URL TOTAL [--json OUT]
      Receive the snapshot, then updates, until totalWords >= TOTAL. Check
      that batch ids rise, and write what the client learnt as JSON: the
      words of every updated row with their last count ("counts"), the last
      top-N, totals and batch id, and the messages' types.
  wsclient.py snapshot URL
      Print the first message (which must be a snapshot) as JSON.
  wsclient.py try URL [ORIGIN]
      Connect (sending ORIGIN as the Origin header) and print "snapshot" when
      the first message is one, or "refused STATUS" when the upgrade is.
  wsclient.py many URL N TOTAL
      N clients at once, each following until totalWords >= TOTAL; all must
      end on the same batch, top-N and totals. Prints that final state.
  wsclient.py stall HOST PORT SECS
      Open a websocket with a tiny receive buffer, read the 101 answer, then
      never read again; hold the connection for SECS.

Runs with Debian's /usr/bin/python3 and python3-websockets.
"""
import asyncio
import base64
import json
import os
import socket
import sys
import time

import websockets

SUBPROTOCOL = "wcstream.v1"


async def follow(url, total, deadline=60):
    state = {"counts": {}, "types": [], "batchId": None}
    async with websockets.connect(url, subprotocols=[SUBPROTOCOL], max_size=64 << 20) as ws:
        if ws.subprotocol != SUBPROTOCOL:
            raise SystemExit("server chose subprotocol %r" % ws.subprotocol)
        end = time.monotonic() + deadline
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, end - time.monotonic())))
            state["types"].append(m["type"])
            if len(state["types"]) == 1 and m["type"] != "snapshot":
                raise SystemExit("first message is %r, not a snapshot" % m["type"])
            if state["batchId"] is not None and m["batchId"] <= state["batchId"]:
                raise SystemExit("batch id went from %s to %s" % (state["batchId"], m["batchId"]))
            for row in m.get("top", []) + m.get("updated", []):
                state["counts"][row["word"]] = row["count"]
            for k in ("batchId", "top", "totalWords", "distinctWords"):
                state[k] = m[k]
            state["capped"] = state.get("capped", False) or m.get("updatedCapped", False)
            if m["totalWords"] >= total:
                return state


async def first(url, origin=None):
    async with websockets.connect(url, max_size=64 << 20, origin=origin) as ws:
        return json.loads(await asyncio.wait_for(ws.recv(), 20))


async def attempt(url, origin):
    try:
        return (await first(url, origin))["type"]
    except websockets.exceptions.InvalidStatusCode as e:
        return "refused %d" % e.status_code


async def many(url, n, total):
    # Connect in waves so that the listen backlog is never the test.
    clients = []
    for i in range(0, n, 50):
        clients += [asyncio.create_task(follow(url, total, 120)) for _ in range(min(50, n - i))]
        await asyncio.sleep(0.2)
    finals = await asyncio.gather(*clients)
    keys = {(f["batchId"], f["totalWords"], f["distinctWords"], json.dumps(f["top"])) for f in finals}
    if len(keys) != 1:
        raise SystemExit("%d clients ended in %d different states" % (n, len(keys)))
    f = finals[0]
    return {k: f[k] for k in ("batchId", "totalWords", "distinctWords", "top")}


def handshake(host, port, extra=b"", rcvbuf=None):
    """A websocket upgrade by hand (extra: more header lines), so that a
    caller can then send what no library would; the socket after the 101."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect((host, port))
    key = base64.b64encode(os.urandom(16))
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
              % (host.encode(), port, key, extra))
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        if not c:
            raise SystemExit("closed during the handshake")
        head += c
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit("handshake refused: %r" % head.split(b"\r\n")[0])
    return s


def stall(host, port, secs):
    s = handshake(host, port, rcvbuf=4096)
    print("stalled", flush=True)
    time.sleep(secs)
    s.close()


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "follow":
        st = asyncio.run(follow(args[0], int(args[1])))
        out = json.dumps(st)
        if len(args) > 3 and args[2] == "--json":
            with open(args[3], "w") as f:
                f.write(out)
        else:
            print(out)
    elif cmd == "snapshot":
        print(json.dumps(asyncio.run(first(args[0]))))
    elif cmd == "try":
        print(asyncio.run(attempt(args[0], args[1] if len(args) > 1 else None)))
    elif cmd == "many":
        print(json.dumps(asyncio.run(many(args[0], int(args[1]), int(args[2])))))
    elif cmd == "stall":
        stall(args[0], int(args[1]), float(args[2]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
