// wcstream dashboard: one websocket (/ws, subprotocol wcstream.v1) feeds
// everything. The first message is a snapshot; every batch then sends an
// update carrying the new top-N and totals, so the page always converges to
// the latest state even when it missed a message. On a lost connection it
// reconnects with backoff and starts again from a fresh snapshot.
'use strict';

const HISTORY = 120; // progress records kept for the charts
const ROW_HEIGHT = 30; // px per bar, matches .bars li in style.css

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat();
const num = (v) => (typeof v === 'number' && isFinite(v) ? v : 0);

let history = []; // progress records, oldest first
let bars = new Map(); // bar key (see showTop) -> <li>

function setStatus(text, cls) {
  const s = $('status');
  s.textContent = text;
  s.className = 'status ' + cls;
}

function showTotals(m) {
  $('batch').textContent = m.batchId >= 0 ? fmt.format(m.batchId) : '–';
  $('total-words').textContent = fmt.format(num(m.totalWords));
  $('distinct-words').textContent = fmt.format(num(m.distinctWords));
  $('batches').textContent = fmt.format(m.batchId + 1);
}

// The top-N as bars: one <li> per word, kept across batches so that width
// and position animate (CSS transitions) instead of being redrawn. A bar's
// key is the word as shown, made unique: two words can be shown alike (an
// invalid byte is shown as U+FFFD, a long word cut to its first 200
// characters), and each still gets a bar of its own.
function showTop(top) {
  const list = $('bars');
  const max = top.length ? Math.max(1, top[0].count) : 1;
  const seen = new Set();
  top.forEach((row, i) => {
    const shown = row.word + (row.cut ? '…' : '');
    let key = shown;
    for (let k = 2; seen.has(key); k++) key = `${shown}\u0000${k}`;
    seen.add(key);
    let li = bars.get(key);
    if (!li) {
      li = document.createElement('li');
      li.className = 'bar entering';
      li.dataset.word = row.word;
      const fill = document.createElement('span');
      fill.className = 'fill';
      const word = document.createElement('span');
      word.className = 'word';
      word.textContent = shown;
      word.title = row.word;
      const count = document.createElement('span');
      count.className = 'count';
      li.append(fill, word, count);
      list.append(li);
      bars.set(key, li);
      li.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      requestAnimationFrame(() => li.classList.remove('entering'));
    }
    li.dataset.rank = String(i + 1);
    li.dataset.count = String(row.count);
    li.querySelector('.count').textContent = fmt.format(row.count);
    li.querySelector('.fill').style.width = `${(100 * row.count) / max}%`;
    li.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
  });
  for (const [key, li] of bars) {
    if (!seen.has(key)) {
      li.remove();
      bars.delete(key);
    }
  }
  list.style.height = `${top.length * ROW_HEIGHT}px`;
  $('bars-empty').hidden = top.length > 0;
}

const SVG = 'http://www.w3.org/2000/svg';

// A batch's duration. A record read back from the state (a snapshot's
// history after a restart) was stored before its commit and has no
// triggerExecution: it is charted by the phases it has, not as 0.
function batchMs(p) {
  const d = p.durationMs || {};
  if (typeof d.triggerExecution === 'number') return num(d.triggerExecution);
  return Object.values(d).reduce((sum, v) => sum + num(v), 0);
}

// Draw series (arrays of numbers) as polylines scaled to the chart.
function drawChart(svg, series, classes) {
  const w = 600, h = 160, pad = 4;
  const n = Math.max(2, ...series.map((s) => s.length));
  const max = Math.max(1, ...series.flat());
  svg.replaceChildren();
  for (const frac of [0.25, 0.5, 0.75]) {
    const line = document.createElementNS(SVG, 'line');
    line.setAttribute('x1', 0);
    line.setAttribute('x2', w);
    line.setAttribute('y1', h - pad - frac * (h - 2 * pad));
    line.setAttribute('y2', h - pad - frac * (h - 2 * pad));
    line.setAttribute('class', 'grid');
    svg.append(line);
  }
  series.forEach((s, k) => {
    const pts = s.map((v, i) => {
      const x = (i / (n - 1)) * w;
      const y = h - pad - (v / max) * (h - 2 * pad);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    });
    const pl = document.createElementNS(SVG, 'polyline');
    pl.setAttribute('points', pts.join(' '));
    pl.setAttribute('class', classes[k]);
    svg.append(pl);
  });
  $(`${svg.id}-max`).textContent = `max ${fmt.format(Math.round(max))}`;
}

function showSources(p) {
  const body = $('sources');
  body.replaceChildren();
  for (const s of (p && p.sources) || []) {
    const tr = document.createElement('tr');
    const lag = s.metrics && s.metrics.maxOffsetsBehindLatest;
    const cells = [
      s.description,
      JSON.stringify(s.startOffset),
      JSON.stringify(s.endOffset),
      fmt.format(num(s.numInputRows)),
      lag === undefined ? '–' : fmt.format(lag),
    ];
    cells.forEach((v, i) => {
      const td = document.createElement('td');
      td.textContent = v;
      if (i > 0) td.className = 'num';
      tr.append(td);
    });
    body.append(tr);
  }
}

function showProgress() {
  const last = history[history.length - 1];
  const ops = last && last.stateOperators && last.stateOperators[0];
  $('state-rows').textContent = ops ? fmt.format(num(ops.numRowsTotal)) : '–';
  $('input-rate').textContent = last ? fmt.format(Math.round(num(last.inputRowsPerSecond))) : '–';
  $('processed-rate').textContent = last
    ? fmt.format(Math.round(num(last.processedRowsPerSecond)))
    : '–';
  drawChart(
    $('rate-chart'),
    [history.map((p) => num(p.inputRowsPerSecond)), history.map((p) => num(p.processedRowsPerSecond))],
    ['input', 'processed'],
  );
  drawChart($('duration-chart'), [history.map(batchMs)], ['duration']);
  showSources(last);
}

function onMessage(ev) {
  let m;
  try {
    m = JSON.parse(ev.data);
  } catch (e) {
    return;
  }
  if (m.type === 'snapshot') {
    history = (m.history || []).slice(-HISTORY);
  } else if (m.type === 'update') {
    if (m.progress) history.push(m.progress);
    if (history.length > HISTORY) history.splice(0, history.length - HISTORY);
  } else {
    return;
  }
  showTotals(m);
  showTop(m.top || []);
  showProgress();
  document.body.dataset.batch = String(m.batchId);
}

let retryMs = 500;

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${scheme}//${location.host}/ws`, 'wcstream.v1');
  setStatus('connecting', 'connecting');
  ws.onopen = () => {
    retryMs = 500;
    setStatus('live', 'live');
  };
  ws.onmessage = onMessage;
  ws.onclose = () => {
    setStatus(`reconnecting in ${Math.round(retryMs / 1000)} s`, 'down');
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  };
}

async function lookup(ev) {
  ev.preventDefault();
  // Only ASCII whitespace separates words; a no-break space can be in one.
  const word = $('lookup-word').value.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
  const out = $('lookup-result');
  if (!word) return;
  try {
    const r = await fetch(`api/words?word=${encodeURIComponent(word)}`);
    const body = await r.json();
    out.textContent = r.ok ? `${body.word}: ${fmt.format(body.count)}` : body.error;
  } catch (e) {
    out.textContent = 'lookup failed: the server is not reachable';
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('lookup').addEventListener('submit', lookup);
  connect();
});
