// The workerd side of the conformance suite.
//
// For every scenario directory given, start ONE Miniflare instance whose modules are a small
// front worker (below) and the scenario's object.js, perform the scenario's steps in real
// time, and collect what can be observed. All scenarios' observations are written as one JSON
// document to the output path:  node driver.mjs <out.json> <scenario dir>...
//
// The front worker passes each request to a Client object, which keeps one stub to the
// object named 'subject' (a Worker cannot keep a stub across requests; an object can), so
// consecutive requests use the same stub until a 'new_stub' step. A rejected stub.fetch
// becomes JSON with the error's message and flags, status 599.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(join(HERE, '.cache', 'package.json'));
const { Miniflare } = require('miniflare');

export const COMPAT = '2026-05-03';
export const WORKER_NAME = 'conformance';
const CONCURRENCY = Number(process.env.CONFORMANCE_JOBS || 4);

const FRONT = `
import { Subject } from './object.js';
export { Subject };
const flag = (v) => v === true;
function ser(e) {
  return { message: String(e?.message ?? e), remote: flag(e?.remote), retryable: flag(e?.retryable),
           overloaded: flag(e?.overloaded), durableObjectReset: flag(e?.durableObjectReset) };
}
// Inside a Durable Object, I/O objects belong to the object, not to one request: so the
// client's stub survives from request to request, as a long-lived caller's would.
export class Client {
  constructor(ctx, env) { this.env = env; this.stub = null; }
  fresh() { this.stub = this.env.SUBJECT.get(this.env.SUBJECT.idFromName('subject')); }
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === '/__new_stub') { this.fresh(); return new Response('ok'); }
    if (this.stub === null) this.fresh();
    try {
      return await this.stub.fetch(new Request('https://do' + url.pathname + url.search, request));
    } catch (e) {
      return Response.json({ __error: ser(e) }, { status: 599 });
    }
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/__id') {
      return new Response(env.SUBJECT.idFromName(url.searchParams.get('name')).toString());
    }
    return env.CLIENT.get(env.CLIENT.idFromName('client')).fetch(request);
  },
};
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A loopback HTTP service for the objects' outbound fetches: answers after ?ms= milliseconds.
function startExternal() {
  const server = createServer((req, res) => {
    const ms = Number(new URL(req.url, 'http://x').searchParams.get('ms') || 0);
    setTimeout(() => res.end('external ok'), ms);
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

function decode(text) {
  try { return JSON.parse(text); } catch { return text; }
}

async function doFetch(mf, step) {
  const init = { method: step.method || (step.body !== undefined ? 'POST' : 'GET') };
  if (step.body !== undefined) init.body = step.body;
  const res = await mf.dispatchFetch('http://front' + step.path, init);
  const text = await res.text();
  const body = decode(text);
  if (res.status === 599 && body && body.__error) return { error: body.__error };
  return { status: res.status, body };
}

class Socket {
  constructor(ws) {
    this.ws = ws; this.inbox = []; this.waiters = [];
    ws.addEventListener('message', (ev) => this.push(String(ev.data)));
    ws.addEventListener('close', (ev) => this.push({ closed: ev.code }));
  }
  push(msg) { const w = this.waiters.shift(); if (w) w(msg); else this.inbox.push(msg); }
  next(timeoutMs) {
    if (this.inbox.length) return Promise.resolve(this.inbox.shift());
    return new Promise((r) => {
      const t = setTimeout(() => { this.waiters = this.waiters.filter((w) => w !== done); r({ timeout: true }); }, timeoutMs);
      const done = (m) => { clearTimeout(t); r(m); };
      this.waiters.push(done);
    });
  }
}

async function runStep(mf, step, sockets) {
  switch (step.op) {
    case 'fetch': return await doFetch(mf, step);
    case 'wait': await sleep(step.ms); return null;
    case 'new_stub': await mf.dispatchFetch('http://front/__new_stub'); return null;
    case 'id': {
      const res = await mf.dispatchFetch('http://front/__id?name=' + encodeURIComponent(step.name));
      return { id: await res.text() };
    }
    case 'ws_connect': {
      const res = await mf.dispatchFetch('http://front' + step.path, { headers: { Upgrade: 'websocket' } });
      if (!res.webSocket) return { status: res.status, body: decode(await res.text()) };
      res.webSocket.accept();
      sockets[step.ws || 'ws'] = new Socket(res.webSocket);
      return { status: res.status };
    }
    case 'ws_send': {
      const s = sockets[step.ws || 'ws'];
      s.ws.send(step.message);
      if (step.reply === false) return null;
      const m = await s.next(step.timeout_ms || 3000);
      return { reply: typeof m === 'string' ? decode(m) : m };
    }
    case 'ws_close': sockets[step.ws || 'ws'].ws.close(1000, 'bye'); return null;
    default: throw new Error('unknown op ' + step.op);
  }
}

// Steps run in order; consecutive steps with the same at_ms form one concurrent batch whose
// members start at the scenario's start + at_ms (+ their own delay_ms) and are all awaited.
function batches(steps) {
  const out = [];
  steps.forEach((step, i) => {
    const last = out[out.length - 1];
    if (step.at_ms !== undefined && last && last.at !== undefined && last.at === step.at_ms) last.items.push([i, step]);
    else out.push({ at: step.at_ms, items: [[i, step]] });
  });
  return out;
}

async function runScenario(dir, external) {
  const name = basename(dir);
  const steps = JSON.parse(readFileSync(join(dir, 'steps.json'), 'utf8'));
  const expectPath = join(dir, 'expect.json');
  const expect = existsSync(expectPath) ? JSON.parse(readFileSync(expectPath, 'utf8')) : {};
  const sqlite = expect.sqlite !== false;
  const mf = new Miniflare({
    name: WORKER_NAME,
    modules: [
      { type: 'ESModule', path: join(dir, '__front.mjs'), contents: FRONT },
      { type: 'ESModule', path: join(dir, 'object.js'), contents: readFileSync(join(dir, 'object.js'), 'utf8') },
    ],
    modulesRoot: dir,
    compatibilityDate: COMPAT,
    bindings: { EXTERNAL: `http://127.0.0.1:${external.address().port}` },
    durableObjects: {
      SUBJECT: sqlite ? { className: 'Subject', useSQLite: true } : 'Subject',
      CLIENT: 'Client',
    },
  });
  const observations = new Array(steps.length).fill(null);
  const sockets = {};
  const started = Date.now();
  try {
    await mf.ready;
    const t0 = Date.now();
    for (const batch of batches(steps)) {
      if (batch.at !== undefined) { const late = t0 + batch.at - Date.now(); if (late > 0) await sleep(late); }
      await Promise.all(batch.items.map(async ([i, step]) => {
        if (step.delay_ms) await sleep(step.delay_ms);
        observations[i] = await runStep(mf, step, sockets);
      }));
    }
    for (const s of Object.values(sockets)) { try { s.ws.close(1000, 'done'); } catch { /* closed */ } }
    return { observations, elapsed_ms: Date.now() - started };
  } catch (e) {
    return { observations, error: String(e?.stack ?? e), elapsed_ms: Date.now() - started };
  } finally {
    await mf.dispose();
  }
}

async function main() {
  const [outPath, ...dirs] = process.argv.slice(2);
  const external = await startExternal();
  const results = {};
  const queue = dirs.map((d) => resolve(d));
  const worker = async () => {
    while (queue.length) {
      const dir = queue.shift();
      results[basename(dir)] = await runScenario(dir, external);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
  external.close();
  writeFileSync(outPath, JSON.stringify({ miniflare: JSON.parse(readFileSync(join(HERE, '.cache', 'node_modules', 'miniflare', 'package.json'), 'utf8')).version,
    compatibilityDate: COMPAT, node: process.version, scenarios: results }, null, 1));
}

await main();
