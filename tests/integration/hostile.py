"""Hostile and heavy clients for listen:// and ws://, for test_hostile.sh.

Every client that sends words writes what it sent as a JSON object of
word counts (--out FILE), computed here from the bytes it sent, so the
state can be checked exactly; `check` sums those files and compares them
with the state's word_counts.

  hostile.py hold PORT N CTL OUT
      N connections at once (opened in waves of 100), each sending two
      lines and an unfinished tail. Prints "held" once all are in. Then,
      when the file CTL.pending appears, every client adds PENDING bytes
      of words without a newline ("pending"); when CTL.overflow appears,
      OVERFLOW more ("overflowed"), which passes clientBuffer; when
      CTL.stop appears, all close cleanly ("closed"): their unfinished
      lines count.
  hostile.py probe PORT STOPFILE OUT
      One client sending "probe tick" every 100 ms until STOPFILE exists.
  hostile.py slowloris PORT STOPFILE OUT
      One byte per second of "slowloris " until STOPFILE exists, then a
      newline.
  hostile.py flood PORT BYTES OUT
      One client sending BYTES of words with no newline at all, as fast
      as the server takes them, then closing; prints its MB/s.
  hostile.py longword PORT BYTES CUT OUT
      BYTES of 'x' with no whitespace and no newline (a multiple of CUT,
      the clientBuffer): CUT-byte pieces, each one word.
  hostile.py churn PORT N CONC OUT
      N short connections, CONC at a time: a third send nothing, a third
      one line, a third a half line; all close cleanly.
  hostile.py midline PORT N OUT
      N clients that send half a line and close cleanly (counted), and N
      that send half a line of "abort..." words and reset the connection
      (RST): those may or may not be counted (check --loose abort).
  hostile.py extra PORT N [URL ACCEPTED REFUSED]
      N more connections at once, sending nothing; one the server closes
      within 3 s was refused, or, given its metrics, within 1 s of its
      having judged all N (ACCEPTED + REFUSED at URL/metrics grew by N).
      Prints "accepted A refused R".
  hostile.py check STATE [--loose PREFIX] OUT...
      word_counts equals the sum of the OUT files; words starting with
      PREFIX may fall short of what was sent, never pass it.
  hostile.py gaps STATE FROM TO
      The longest time between consecutive batch commits (and from FROM
      to the first, the last to TO) within the window, ISO times; prints
      "batches N maxgap S".
  hostile.py stall HOST PORT N SECS
      N websockets that never read after the handshake, held SECS.
  hostile.py wsbad HOST PORT
      Malformed and unwanted frames over raw sockets, one connection
      each: bad opcode, unmasked, invalid UTF-8 in a text frame, reserved
      bits, a continuation first, a fragmented or oversized ping, a
      64-bit length with its top bit set, a 4 MiB text frame (bigger
      than the server's receive buffer), 1 MiB binary, and a truncated
      header. Each but the truncated header must be closed by the server
      within 12 s; the truncated one is still open (it holds one client
      slot, as an idle client does). Prints one line per case.
  hostile.py httpbad HOST PORT TOKEN SECS
      For SECS, from 8 threads: requests without or with a wrong token,
      websocket upgrades with a foreign Origin or without the token, path
      traversal (plain, percent-encoded, doubled), a 64 KiB header, and
      garbage request lines. None may be answered 200 or leak a file;
      prints the statuses seen.

Runs with Debian's /usr/bin/python3; the raw websocket handshake is wsclient.py's.
"""
import asyncio
import collections
import datetime
import json
import os
import socket
import sqlite3
import struct
import sys
import threading
import time
import urllib.request

from wsclient import handshake

PENDING = 60 * 1024
OVERFLOW = 100 * 1024


def words_text(prefix, size):
    """About size bytes of words prefix0..prefix99, each followed by a space."""
    unit = " ".join("%s%d" % (prefix, i) for i in range(100)).encode() + b" "
    reps = max(1, size // len(unit))
    return unit * reps


def dump(counter, path):
    with open(path, "w") as f:
        json.dump({k.decode("latin-1"): v for k, v in counter.items()}, f)


# ---- listen:// clients ------------------------------------------------------


async def open_conn(port, tries=50):
    for i in range(tries):
        try:
            return await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1 * (i + 1))
    raise SystemExit("cannot connect to %d" % port)


async def wait_file(path):
    while not os.path.exists(path):
        await asyncio.sleep(0.1)


async def hold(port, n, ctl, out):
    sent = collections.Counter()
    conns = []
    for start in range(0, n, 100):
        batch = await asyncio.gather(*(open_conn(port) for _ in range(min(100, n - start))))
        conns += batch
        await asyncio.sleep(0.05)
    for i, (_, w) in enumerate(conns):
        text = b"hold%d line one\nhold line two %d\ntail%d unfinished " % (i % 100, i % 7, i % 100)
        sent.update(text.split())
        w.write(text)
    await asyncio.gather(*(w.drain() for _, w in conns))
    print("held", flush=True)

    for step, size, prefix in (("pending", PENDING, "pend"), ("overflow", OVERFLOW, "over")):
        await wait_file("%s.%s" % (ctl, step))
        text = words_text(prefix, size)
        for _, w in conns:
            w.write(text)
        sent.update({k: v * len(conns) for k, v in collections.Counter(text.split()).items()})
        await asyncio.gather(*(w.drain() for _, w in conns))
        print("pending" if step == "pending" else "overflowed", flush=True)

    await wait_file(ctl + ".stop")
    for _, w in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w in conns), return_exceptions=True)
    dump(sent, out)
    print("closed", flush=True)


def probe(port, stopfile, out):
    s = socket.create_connection(("127.0.0.1", port))
    n = 0
    while not os.path.exists(stopfile):
        s.sendall(b"probe tick\n")
        n += 1
        time.sleep(0.1)
    s.close()
    dump(collections.Counter({b"probe": n, b"tick": n}), out)


def slowloris(port, stopfile, out):
    s = socket.create_connection(("127.0.0.1", port))
    unit, sent = b"slowloris ", bytearray()
    while not os.path.exists(stopfile):
        b = unit[len(sent) % len(unit):][:1]
        s.sendall(b)
        sent += b
        time.sleep(1)
    s.sendall(b"\n")
    s.close()
    dump(collections.Counter(bytes(sent).split()), out)


def flood(port, size, out):
    unit = words_text("flood", 1)  # one unit: flood0 .. flood99
    block = unit * max(1, (1 << 20) // len(unit))
    reps = max(1, size // len(block))
    s = socket.create_connection(("127.0.0.1", port))
    t = time.monotonic()
    for _ in range(reps):
        s.sendall(block)
    s.close()
    secs = time.monotonic() - t
    per = len(block) // len(unit)  # each word per block
    dump(collections.Counter({b"flood%d" % i: per * reps for i in range(100)}), out)
    print("flood: %d MB in %.1f s, %.0f MB/s" % (reps * len(block) >> 20, secs,
                                                  (reps * len(block) >> 20) / secs), flush=True)


def longword(port, size, cut, out):
    assert size % cut == 0
    s = socket.create_connection(("127.0.0.1", port))
    block = b"x" * cut
    for _ in range(size // cut):
        s.sendall(block)
    s.close()
    dump(collections.Counter({block: size // cut}), out)


async def churn(port, n, conc, out):
    sent = collections.Counter()
    sem = asyncio.Semaphore(conc)

    async def one(k):
        async with sem:
            _, w = await open_conn(port)
            kind = k % 3
            if kind:
                text = b"churn%d\n" % (k % 50) if kind == 1 else b"churnhalf%d" % (k % 50)
                sent.update(text.split())
                w.write(text)
                await w.drain()
            w.close()
            try:
                await w.wait_closed()
            except OSError:
                pass

    t = time.monotonic()
    await asyncio.gather(*(one(k) for k in range(n)))
    dump(sent, out)
    print("churn: %d connections in %.1f s" % (n, time.monotonic() - t), flush=True)


def midline(port, n, out):
    sent = collections.Counter()
    for k in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        text = b"midline words without newl%d" % (k % 10)
        s.sendall(text)
        sent.update(text.split())
        s.close()
        a = socket.create_connection(("127.0.0.1", port))
        text = b"abortline abortword%d" % (k % 10)
        a.sendall(text)
        sent.update(text.split())
        time.sleep(0.01)
        a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        a.close()  # RST
    dump(sent, out)


def metric(url, name):
    """One sample's value from a Prometheus endpoint (0 when absent)."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            key, _, value = line.rpartition(" ")
            if key == name:
                return int(float(value))
    return 0


async def extra(port, n, url=None, accepted=None, refused_total=None):
    def judged():
        return metric(url, accepted) + metric(url, refused_total)

    before = judged() if url else 0
    conns = await asyncio.gather(*(open_conn(port) for _ in range(n)))
    # A busy server may take seconds to get to them (its inbox full, say):
    # wait until it has accepted or refused every one, then give the end of
    # file of those it closed a moment to arrive.
    for _ in range(600 if url else 0):
        if judged() - before >= n:
            break
        await asyncio.sleep(0.1)

    async def refused(r):
        try:
            return await asyncio.wait_for(r.read(1), 1 if url else 3) == b""
        except asyncio.TimeoutError:
            return False
        except OSError:
            return True

    res = await asyncio.gather(*(refused(r) for r, _ in conns))
    for _, w in conns:
        w.close()
    print("accepted %d refused %d" % (res.count(False), res.count(True)), flush=True)


def check(state, loose, outs):
    want = collections.Counter()
    for o in outs:
        with open(o) as f:
            want.update({k.encode("latin-1"): v for k, v in json.load(f).items()})
    con = sqlite3.connect("file:%s?mode=ro" % state, uri=True)
    con.text_factory = bytes
    got = dict(con.execute("SELECT word, count FROM word_counts"))
    bad = []
    for w in set(want) | set(got):
        g, x = got.get(w, 0), want.get(w, 0)
        if loose and w.startswith(loose):
            if g > x:
                bad.append((w[:40], x, g))
        elif g != x:
            bad.append((w[:40], x, g))
    if bad:
        print("counts differ in %d words (word, sent, counted): %s" % (len(bad), bad[:8]))
        return 1
    print("counts match: %d words, %d distinct" % (sum(got.values()), len(got)))
    return 0


def iso(t):
    return datetime.datetime.strptime(t.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def gaps(state, since, until):
    con = sqlite3.connect("file:%s?mode=ro" % state, uri=True)
    t0, t1 = iso(since), iso(until)
    ts = sorted(iso(r[0]) for r in con.execute("SELECT committed_at FROM batches"))
    ts = [t for t in ts if t0 <= t <= t1]
    marks = [t0] + ts + [t1]
    print("batches %d maxgap %.2f" % (len(ts), max(b - a for a, b in zip(marks, marks[1:]))))


# ---- ws:// clients ----------------------------------------------------------



def stall(host, port, n, secs):
    socks = [handshake(host, port, rcvbuf=4096) for _ in range(n)]
    print("stalled %d" % len(socks), flush=True)
    time.sleep(secs)
    for s in socks:
        s.close()


def frame(op, payload, mask=True, fin=True):
    n = len(payload)
    b0 = (0x80 if fin else 0) | op
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    k = (key * (n // 4 + 1))[:n]
    return hdr + key + (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


BAD_FRAMES = {
    "bad opcode": frame(0x3, b"hi"),
    "unmasked": frame(0x1, b"hello", mask=False),
    "invalid utf-8": frame(0x1, b"ok \xff\xfe\xc0\xaf"),
    "reserved bits": bytes([0xC1]) + frame(0x1, b"abc")[1:],
    "continuation first": frame(0x0, b"abc"),
    "fragmented ping": frame(0x9, b"p", fin=False),
    "oversized ping": frame(0x9, b"x" * 200),
    "length top bit": struct.pack("!BBQ", 0x81, 0xFF, 1 << 63) + b"abcd",
    "4 MiB text": frame(0x1, b"a" * (4 << 20)),
    "1 MiB binary": frame(0x2, os.urandom(1 << 20)),
    "truncated header": b"\x81",
}


def wsbad(host, port):
    results = {}

    def one(name, data):
        s = handshake(host, port)
        s.settimeout(12)
        try:
            s.recv(1 << 20)  # the snapshot
            s.sendall(data)
            t = time.monotonic()
            while s.recv(1 << 16):
                pass
            results[name] = "closed in %.1f s" % (time.monotonic() - t)
        except socket.timeout:
            results[name] = "open"
        except OSError as e:
            results[name] = "closed (%s)" % e.strerror
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=kv) for kv in BAD_FRAMES.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = True
    for name in BAD_FRAMES:
        r = results.get(name, "no result")
        good = r == "open" if name == "truncated header" else r.startswith("closed")
        ok &= good
        print("%-20s %s%s" % (name, r, "" if good else "  <- unexpected"))
    return 0 if ok else 1


TRAVERSALS = [
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
    "/....//....//etc/passwd", "/%252e%252e/etc/passwd", "/app.js/../../../etc/passwd",
    "/api/words/../../../etc/passwd", "//etc/passwd", "/\\..\\..\\etc\\passwd",
]


def raw_request(host, port, data, limit=1 << 16):
    """The answer's bytes; b"" when closed without one, None on a timeout."""
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(data)
        got = b""
        while len(got) < limit:
            c = s.recv(65536)
            if not c:
                break
            got += c
            if b"\r\n\r\n" in got:
                head, _, body = got.partition(b"\r\n\r\n")
                cl = [int(l.split(b":")[1]) for l in head.split(b"\r\n")
                      if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= cl[0]:
                    break
        return got
    except socket.timeout:
        return None
    except OSError:
        return b""
    finally:
        s.close()


def httpbad(host, port, token, secs):
    seen = collections.Counter()
    leaks = []
    hostport = ("%s:%d" % (host, port)).encode()
    upgrade = (b"GET /ws%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n")
    reqs = [
        ("no token", b"GET /api/top HTTP/1.1\r\nHost: %s\r\n\r\n" % hostport),
        ("wrong token", b"GET /api/top?token=nope HTTP/1.1\r\nHost: %s\r\n\r\n" % hostport),
        ("wrong bearer", b"GET /metrics HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer x\r\n\r\n"
         % hostport),
        ("upgrade without token", upgrade % (b"", hostport, b"")),
        ("foreign origin", upgrade % (b"?token=" + token.encode(), hostport,
                                      b"Origin: http://evil.example\r\n")),
        ("64 KiB header", b"GET /api/top?token=%s HTTP/1.1\r\nHost: %s\r\nX-Big: %s\r\n\r\n"
         % (token.encode(), hostport, b"a" * (64 << 10))),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200) + b"\r\n\r\n"),
        ("no request line", b"\r\n\r\n\r\n"),
    ] + [("traversal " + p, b"GET %s?token=%s HTTP/1.1\r\nHost: %s\r\n\r\n"
          % (p.encode(), token.encode(), hostport)) for p in TRAVERSALS]
    end = time.monotonic() + secs

    def worker(k):
        i = k
        while time.monotonic() < end:
            name, data = reqs[i % len(reqs)]
            i += 1
            got = raw_request(host, port, data)
            if got is None:
                status, got = "timeout", b""
            else:
                status = got.split(b"\r\n", 1)[0][9:12].decode("latin-1") or "closed"
            seen[(name.split(" /")[0], status)] += 1
            if status == "200" or b"root:" in got:
                leaks.append((name, got[:80]))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (name, status), n in sorted(seen.items()):
        print("%-24s %-6s x%d" % (name, status, n))
    if leaks:
        print("answered or leaked: %s" % leaks[:3])
        return 1
    return 0


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == "hold":
        asyncio.run(hold(int(a[0]), int(a[1]), a[2], a[3]))
    elif cmd == "probe":
        probe(int(a[0]), a[1], a[2])
    elif cmd == "slowloris":
        slowloris(int(a[0]), a[1], a[2])
    elif cmd == "flood":
        flood(int(a[0]), int(a[1]), a[2])
    elif cmd == "longword":
        longword(int(a[0]), int(a[1]), int(a[2]), a[3])
    elif cmd == "churn":
        asyncio.run(churn(int(a[0]), int(a[1]), int(a[2]), a[3]))
    elif cmd == "midline":
        midline(int(a[0]), int(a[1]), a[2])
    elif cmd == "extra":
        asyncio.run(extra(int(a[0]), int(a[1]), *a[2:5]))
    elif cmd == "check":
        loose = None
        if a[1:2] == ["--loose"]:
            loose = a[2].encode()
            a = a[:1] + a[3:]
        return check(a[0], loose, a[1:])
    elif cmd == "gaps":
        gaps(a[0], a[1], a[2])
    elif cmd == "stall":
        stall(a[0], int(a[1]), int(a[2]), float(a[3]))
    elif cmd == "wsbad":
        return wsbad(a[0], int(a[1]))
    elif cmd == "httpbad":
        return httpbad(a[0], int(a[1]), a[2], float(a[3]))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
