"""Line-to-dashboard latency probe for `make bench` (tests/bench/latency.sh).

  latency.py --listen PORT --ws PORT --text FILE --sent FILE --out FILE
             [--seconds S] [--rate BYTES_PER_S] [--warmup S]

One asyncio program both sends and receives, so one clock
(time.perf_counter) times both ends:

- it connects to wcstream's websocket feed (ws://127.0.0.1:PORT/ws,
  subprotocol wcstream.v1) and waits for the snapshot;
- it connects to wcstream's listen:// source as a client and, for S seconds,
  sends lines of FILE (from its start, wrapping round) at a steady RATE
  bytes a second: every millisecond or so it sends, in one write, the bytes
  it owes by then plus one tag line, a word seen nowhere else
  (`@lat00000042`), and notes the time;
- every update message lists the rows the batch updated (counts are
  totals: a tag's first appearance has count 1); the time a tag first shows
  up there minus the time its line was written is that line's latency.

Tags sent during the first --warmup seconds (default 1) are left out of the
figures (connections, first batches, caches). After the last send it waits
up to 3 s for the tags still in flight. A tag never seen is counted as
missing: its update was capped by maxUpdated (counted from updatedCapped)
or dropped by the server because this client had not yet taken the one
before (README, "Slow clients"; counted from gaps in batchId). Everything
sent is also written to --sent, so the caller can check wcstream's state
against it.

--out gets one JSON object: tags sent, counted and seen, latency
percentiles in ms (p50, p90, p99, p999, max, mean), the update messages
received, capped and dropped, the achieved send rate.

Runs with Debian's /usr/bin/python3 and python3-websockets (10.4).
"""
import argparse
import asyncio
import json
import time

import websockets

SUBPROTOCOL = "wcstream.v1"
TAG = "@lat"
TICK_S = 0.001


def ms(v):
    """Milliseconds rounded to the microsecond; None stays None."""
    return None if v is None else round(v, 3)


def percentile(sorted_ms, q):
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not sorted_ms:
        return None
    k = max(0, min(len(sorted_ms) - 1, int(-(-q * len(sorted_ms) // 100)) - 1))
    return sorted_ms[k]


class Probe:
    def __init__(self, args):
        self.args = args
        with open(args.text, "rb") as f:
            self.lines = f.read().splitlines(keepends=True)
        self.sent_at = {}  # tag -> perf_counter() when written
        self.seen_at = {}  # tag -> perf_counter() when its update arrived
        self.updates = 0
        self.capped = 0
        self.dropped = 0  # updates the server replaced by newer ones (batch id gaps)
        self.last_batch = None
        self.bytes_sent = 0
        self.done_sending = asyncio.Event()

    async def receive(self, ws):
        """Note when each tag first appears in an update."""
        async for msg in ws:
            now = time.perf_counter()
            m = json.loads(msg)
            if m.get("type") != "update":
                continue
            self.updates += 1
            self.capped += bool(m.get("updatedCapped"))
            if self.last_batch is not None:
                self.dropped += max(0, m["batchId"] - self.last_batch - 1)
            self.last_batch = m["batchId"]
            for row in m["updated"]:
                w = row["word"]
                if w.startswith(TAG) and w not in self.seen_at:
                    self.seen_at[w] = now
            if self.done_sending.is_set() and len(self.seen_at) >= len(self.sent_at):
                return

    async def send(self, writer, sent_file):
        """Write RATE bytes a second, one tag per write, for SECONDS."""
        rate, line_no, tag_no = self.args.rate, 0, 0
        start = time.perf_counter()
        end = start + self.args.seconds
        while True:
            now = time.perf_counter()
            if now >= end:
                break
            owed = int((now - start) * rate) - self.bytes_sent
            chunk = []
            size = 0
            while size < owed:
                line = self.lines[line_no % len(self.lines)]
                line_no += 1
                chunk.append(line)
                size += len(line)
            tag = "%s%08d" % (TAG, tag_no)
            tag_no += 1
            chunk.append(tag.encode() + b"\n")
            data = b"".join(chunk)
            writer.write(data)
            self.sent_at[tag] = time.perf_counter()
            sent_file.write(data)
            self.bytes_sent += len(data)
            await writer.drain()
            await asyncio.sleep(TICK_S)
        self.send_seconds = time.perf_counter() - start
        self.start = start
        self.done_sending.set()

    async def run(self):
        a = self.args
        async with websockets.connect(
            "ws://127.0.0.1:%d/ws" % a.ws, subprotocols=[SUBPROTOCOL], max_size=256 << 20
        ) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if first.get("type") != "snapshot":
                raise SystemExit(
                    "latency.py: first message is %r, not a snapshot" % first.get("type"))
            receiver = asyncio.ensure_future(self.receive(ws))
            _, writer = await asyncio.open_connection("127.0.0.1", a.listen)
            with open(a.sent, "wb") as sent_file:
                await self.send(writer, sent_file)
            writer.close()
            await writer.wait_closed()
            deadline = time.perf_counter() + 3
            while not receiver.done() and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)  # tags in flight; the missing are reported as such
            if receiver.done():
                receiver.result()  # raises what the receiver died of, if anything
            else:
                receiver.cancel()

    def result(self):
        cutoff = self.start + self.args.warmup
        counted = [t for t, at in self.sent_at.items() if at >= cutoff]
        lat = sorted(
            (self.seen_at[t] - self.sent_at[t]) * 1e3 for t in counted if t in self.seen_at
        )
        return {
            "seconds": round(self.send_seconds, 3),
            "rate_target_bytes_per_s": self.args.rate,
            "rate_bytes_per_s": round(self.bytes_sent / self.send_seconds),
            "bytes_sent": self.bytes_sent,
            "warmup_s": self.args.warmup,
            "tags_sent": len(self.sent_at),
            "tags_counted": len(counted),
            "tags_seen": len(lat),
            "tags_missing": len(counted) - len(lat),
            "updates": self.updates,
            "updates_capped": self.capped,
            "updates_dropped": self.dropped,
            "latency_ms": {
                "p50": ms(percentile(lat, 50)),
                "p90": ms(percentile(lat, 90)),
                "p99": ms(percentile(lat, 99)),
                "p999": ms(percentile(lat, 99.9)),
                "max": ms(lat[-1] if lat else None),
                "mean": ms(sum(lat) / len(lat) if lat else None),
            },
        }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", type=int, required=True, help="wcstream's listen:// port")
    p.add_argument("--ws", type=int, required=True, help="wcstream's ws:// sink port")
    p.add_argument("--text", required=True, help="lines to send")
    p.add_argument("--sent", required=True, help="where to write what was sent")
    p.add_argument("--out", required=True, help="where to write the figures (JSON)")
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--rate", type=int, default=1000000, help="bytes per second")
    p.add_argument("--warmup", type=float, default=1)
    args = p.parse_args()
    probe = Probe(args)
    asyncio.run(probe.run())
    with open(args.out, "w") as f:
        json.dump(probe.result(), f)
        f.write("\n")


if __name__ == "__main__":
    main()
