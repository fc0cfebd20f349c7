"""Load the dashboard in Debian's headless Chromium and read what it shows.

  browser.py URL OUTDIR EXPECT1 EXPECT2

Chromium is driven over the DevTools protocol (a websocket, so Debian's
python3-websockets is all it takes). Steps:
  1. load URL (before any text is sent); wait until the bars show exactly the rows of EXPECT1 (a JSON
     list of {"word", "count"}: the state's top, in order), both in the
     data attributes and in the text people read; take a screenshot at
     laptop width and one at phone width (where nothing may overflow
     sideways, not even the answer for a 1000-character word); look the
     top word up with the page's form, typed in capitals (the test runs
     with --lowercase: the answer is the word counted).
  2. write OUTDIR/phase1 and wait for the page to notice that the server
     went away ("reconnecting"), then for EXPECT2 to appear (the test
     restarts the server and sends more text) and the bars to match it.
Any error the page logs (a script exception, a CSP violation) fails the run.
"""
import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,1000", "--remote-debugging-port=0"]

READ_DOM = """JSON.stringify({
  status: document.getElementById('status').textContent,
  bars: [...document.querySelectorAll('#bars .bar')]
    .sort((a, b) => a.dataset.rank - b.dataset.rank)
    .map(li => ({word: li.dataset.word, count: Number(li.dataset.count),
                 text: li.querySelector('.word').textContent,
                 shown: li.querySelector('.count').textContent})),
  total: document.getElementById('total-words').textContent,
  overflow: document.documentElement.scrollWidth > window.innerWidth,
  lookup: document.getElementById('lookup-result').textContent,
  durations: document.querySelector('#duration-chart polyline')?.getAttribute('points') || '',
})"""


class Page:
    def __init__(self, ws):
        self.ws, self.next_id, self.errors = ws, 0, []
        self.server_down = False  # connection errors are expected then

    async def call(self, method, **params):
        self.next_id += 1
        my = self.next_id
        await self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            m = json.loads(await self.ws.recv())
            if m.get("id") == my:
                if "error" in m:
                    raise SystemExit("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.note(m)

    def note(self, m):
        p = m.get("params", {})
        if m.get("method") == "Runtime.exceptionThrown":
            self.errors.append(p["exceptionDetails"].get("exception", {}).get("description", "?"))
        elif m.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
            if not (self.server_down and "ERR_CONNECTION_REFUSED" in p["entry"]["text"]):
                self.errors.append(p["entry"]["text"])
        elif m.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value")) for a in p.get("args", [])))

    async def dom(self):
        r = await self.call("Runtime.evaluate", expression=READ_DOM, returnByValue=True)
        return json.loads(r["result"]["value"])

    async def wait(self, what, pred, secs=30):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            d = await self.dom()
            if self.errors:
                raise SystemExit("the page logged errors: %s" % self.errors)
            if pred(d):
                return d
            await asyncio.sleep(0.2)
        raise SystemExit("timed out waiting for %s; the page shows %s" % (what, json.dumps(d)[:600]))

    async def screenshot(self, path):
        r = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))


async def lookup(page, word):
    """Type word in the page's lookup box and submit it."""
    await page.call("Runtime.evaluate", expression=(
        "document.getElementById('lookup-word').value = %s;"
        "document.querySelector('#lookup button').click()" % json.dumps(word)))


async def read_when_there(path, secs=60):
    end = time.monotonic() + secs
    while not os.path.exists(path):
        if time.monotonic() > end:
            raise SystemExit("the test never wrote %s" % path)
        await asyncio.sleep(0.2)
    # The state's words are bytes; the page shows each invalid one as U+FFFD.
    with open(path, encoding="utf-8", errors="replace") as f:
        return json.load(f)


def digits(s):
    return int("".join(c for c in s if c.isdigit()) or -1)


def shows(expect):
    want = [(r["word"], r["count"]) for r in expect]

    def pred(d):
        return ([(b["word"], b["count"]) for b in d["bars"]] == want and
                [(b["text"], digits(b["shown"])) for b in d["bars"]] == want)
    return pred


async def run(url, out, expect1, expect2, port):
    with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port) as r:
        target = next(t for t in json.load(r) if t["type"] == "page")
    async with websockets.connect(target["webSocketDebuggerUrl"], max_size=256 << 20) as ws:
        page = Page(ws)
        for domain in ("Page", "Runtime", "Log"):
            await page.call(domain + ".enable")
        await page.call("Page.navigate", url=url)
        want = await read_when_there(expect1)
        d = await page.wait("the top words of the state", shows(want))
        if d["status"] != "live":
            raise SystemExit("status is %r, not live" % d["status"])
        print("the dashboard shows the top %d: %s" % (len(want), d["bars"][0]))
        await asyncio.sleep(0.8)  # let the bars finish their transition
        await page.screenshot(os.path.join(out, "dashboard.png"))

        await page.call("Emulation.setDeviceMetricsOverride", width=390, height=844,
                        deviceScaleFactor=2, mobile=True)
        await asyncio.sleep(0.5)
        d = await page.dom()
        if d["overflow"]:
            raise SystemExit("the page is wider than a phone screen")
        await page.screenshot(os.path.join(out, "dashboard-phone.png"))
        # The answer for a long word wraps rather than widening the page.
        await lookup(page, "W" * 1000)
        d = await page.wait("the answer for a long word",
                            lambda d: d["lookup"] == "w" * 1000 + ": 0", 10)
        if d["overflow"]:
            raise SystemExit("the answer for a long word is wider than a phone screen")
        await page.call("Emulation.clearDeviceMetricsOverride")

        top = want[0]
        await lookup(page, top["word"].upper())
        await page.wait("the lookup answer",
                        lambda d: d["lookup"].startswith(top["word"] + ":") and
                        digits(d["lookup"][len(top["word"]):]) == top["count"], 10)
        print("lookup of %r shows %r: %d" % (top["word"].upper(), top["word"], top["count"]))

        page.server_down = True
        open(os.path.join(out, "phase1"), "w").close()
        await page.wait("the page to notice the server went away",
                        lambda d: d["status"].startswith("reconnecting"), 30)
        want = await read_when_there(expect2)
        d = await page.wait("the top words after the restart", shows(want), 45)
        print("after the restart the dashboard shows the top %d: %s" % (len(want), d["bars"][0]))
        # The oldest batches now come from the state's records, stored
        # before their commit (no triggerExecution): charted at 0 before.
        # The chart is 160 high with 4 of padding: 156.0 is a duration of 0.
        ys = [float(p.split(",")[1]) for p in d["durations"].split()]
        if not ys or ys[0] >= 156.0:
            raise SystemExit("after the restart the duration chart starts at 0: %s" % d["durations"])
        print("after the restart the duration chart starts at y=%.1f of %d batches" % (ys[0], len(ys)))


def main():
    url, out, expect1, expect2 = sys.argv[1:5]
    profile = tempfile.mkdtemp(prefix="wcs-chromium-")
    log = open(os.path.join(out, "chromium.log"), "w")
    proc = subprocess.Popen([CHROMIUM, *FLAGS, "--user-data-dir=" + profile, "about:blank"],
                            stdout=log, stderr=log)
    try:
        portfile = os.path.join(profile, "DevToolsActivePort")
        end = time.monotonic() + 30
        while not os.path.exists(portfile) or not open(portfile).read().strip():
            if proc.poll() is not None or time.monotonic() > end:
                raise SystemExit("chromium did not start; see chromium.log")
            time.sleep(0.1)
        port = int(open(portfile).read().split()[0])
        asyncio.run(run(url, out, expect1, expect2, port))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
