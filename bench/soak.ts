/**
 * Load and soak: concurrent callers from several tenants against the real Node server, with the
 * Portkey double adding latency, and the double restarted in the middle of the run. Loopback
 * only, bounded in time. Not part of `npm test`; run it with
 *   npm run soak                         (60 s, 32 callers, 3 tenants)
 *   npm run soak -- --duration 20 --concurrency 16
 * or in CI with RUN_SOAK=1 bash .ci/run. Writes soak.json (to bench/results/tmp/; with --update to
 * the committed bench/results/) and exits non-zero when a call failed outside the window in which
 * Portkey was down, or memory grew beyond noise.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { loadConfig } from '../src/server-config.js';
import { createLogger } from '../src/log.js';
import { startNodeServer } from '../src/node.js';
import { resultsDir } from './perf/results-dir.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    concurrency: { type: 'string', default: '32' },
    latency: { type: 'string', default: '20' },
    update: { type: 'boolean', default: false },
  },
});
const durationMs = Number(values.duration) * 1000;
const concurrency = Number(values.concurrency);
const latencyMs = Number(values.latency);

const SECRET = 'soak-secret-0123456789abcdef0123456789abcdef';
const tenants = ['acme', 'globex', 'initech'];
const keys = Object.fromEntries(tenants.map((t) => [t, `pk-soak-${t}`]));

/**
 * A Portkey stand-in that keeps nothing in memory (the test double records every request, which
 * would hide the server's own memory behaviour): it checks the key, waits, answers 200.
 */
async function startPortkeyStub(port = 0) {
  let created = 0;
  const valid = new Set(Object.values(keys));
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        if (!valid.has(String(req.headers['x-portkey-api-key']))) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"success":false,"data":{"message":"Unauthorised Request","errorCode":"AB05"}}');
          return;
        }
        created++;
        const id = crypto.randomUUID();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, invite_link: `https://app.portkey.ai/invite/${id}` }));
      }, latencyMs);
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const boundPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${boundPort}/v1`,
    created: () => created,
    stop: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
    restart: async () => {
      await new Promise<void>((r) => server.listen(boundPort, '127.0.0.1', r));
    },
  };
}

const portkey = await startPortkeyStub();
const tenantTable = Object.fromEntries(tenants.map((t) => [t, { apiKey: keys[t], baseUrl: portkey.url }]));
let logLines = 0;
const server = await startNodeServer(
  loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    PUBLIC_URL: 'http://soak.test',
    AUTH_JWT_SECRET: SECRET,
    TENANTS: JSON.stringify(tenantTable),
    PORTKEY_TIMEOUT_MS: '2000',
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
    RATE_LIMIT_CALLER_PER_MINUTE: '0',
  }),
  { logger: createLogger(() => void logLines++) },
);
const mcpUrl = `${server.url}/mcp`;

const tokens = await Promise.all(
  Array.from({ length: concurrency }, (_, i) =>
    new SignJWT({ scope: 'portkey.invite', org_id: tenants[i % tenants.length] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`caller-${i}`)
      .setAudience('http://soak.test/mcp')
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(new TextEncoder().encode(SECRET)),
  ),
);

const gc = (globalThis as { gc?: () => void }).gc;
const heapMB = () => {
  gc?.();
  return +(process.memoryUsage().heapUsed / 1024 / 1024).toFixed(1);
};

/** Compact records (typed arrays), so the run's own bookkeeping does not show up as growth. */
const MAX = 2_000_000;
const endedAt = new Float64Array(MAX);
const latency = new Float32Array(MAX);
const kinds: string[] = ['ok'];
const kindOf = new Uint8Array(MAX);
let count = 0;
let seq = 0;
let downFrom = Infinity;
let downUntil = Infinity;

async function call(bearer: string): Promise<void> {
  const started = performance.now();
  const n = seq++;
  let kind = 'ok';
  try {
    const res = await fetch(mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: n,
        method: 'tools/call',
        params: { name: 'invite_user', arguments: { email: `soak-${n}@example.com`, role: 'member', workspaces: [{ id: 'ws-soak', role: 'member' }] } },
      }),
    });
    const body = (await res.json()) as { result?: { isError?: boolean; content?: { text: string }[] } };
    if (res.status !== 200) kind = `http_${res.status}`;
    else if (body.result?.isError) kind = /unreachable/.test(body.result.content?.[0]?.text ?? '') ? 'portkey_unreachable' : 'tool_error';
  } catch {
    kind = 'transport_error';
  }
  if (count < MAX) {
    endedAt[count] = Date.now();
    latency[count] = performance.now() - started;
    let k = kinds.indexOf(kind);
    if (k < 0) k = kinds.push(kind) - 1;
    kindOf[count++] = k;
  }
}

// Warm up, then take the starting memory.
for (let i = 0; i < 200; i++) await call(tokens[i % tokens.length]!);
count = 0;
const heapStart = heapMB();
const rssStart = +(process.memoryUsage().rss / 1024 / 1024).toFixed(1);

const startedAt = Date.now();
const endAt = startedAt + durationMs;
// Heap after a forced GC every 5 s: a leak climbs steadily, a warming cache levels off.
const heapSeries: number[] = [];
const sampler = setInterval(() => heapSeries.push(heapMB()), 5000);
// Portkey goes away for 3 s a third of the way in, then comes back on the same port.
const outage = (async () => {
  await new Promise((r) => setTimeout(r, durationMs / 3));
  downFrom = Date.now();
  await portkey.stop();
  await new Promise((r) => setTimeout(r, 3000));
  await portkey.restart();
  downUntil = Date.now();
})();

await Promise.all(
  tokens.map(async (bearer) => {
    while (Date.now() < endAt) await call(bearer);
  }),
);
await outage;
clearInterval(sampler);

const heapEnd = heapMB();
const rssEnd = +(process.memoryUsage().rss / 1024 / 1024).toFixed(1);
await server.close(1000);
await portkey.stop();

// A call counts as "during the outage" if it ended while Portkey was down, or within the
// Portkey timeout after it came back (calls in flight across the restart).
const grace = 2500;
const inOutage = (i: number) => endedAt[i]! >= downFrom && endedAt[i]! <= downUntil + grace;
const tally = { unexpected: 0, outage: 0, okAfter: 0, failedAfter: 0 };
const unexpectedKinds = new Set<string>();
const outageKinds = new Set<string>();
for (let i = 0; i < count; i++) {
  const ok = kindOf[i] === 0;
  if (!ok && inOutage(i)) {
    tally.outage++;
    outageKinds.add(kinds[kindOf[i]!]!);
  } else if (!ok) {
    tally.unexpected++;
    unexpectedKinds.add(kinds[kindOf[i]!]!);
  }
  if (endedAt[i]! > downUntil + grace) ok ? tally.okAfter++ : tally.failedAfter++;
}
const sorted = latency.slice(0, count).sort();
const pct = (p: number) => +(sorted[Math.min(count - 1, Math.floor((p / 100) * count))] ?? 0).toFixed(1);
const heapGrowthMB = +(heapEnd - heapStart).toFixed(1);
// Growth over the second half of the run, once caches and pools have warmed up.
const heapMid = heapSeries[Math.floor(heapSeries.length / 2)] ?? heapStart;
const heapGrowthSecondHalfMB = +(heapEnd - heapMid).toFixed(1);

const report = {
  measuredAt: new Date().toISOString(),
  node: process.version,
  durationS: durationMs / 1000,
  concurrency,
  tenants: tenants.length,
  portkeyLatencyMs: latencyMs,
  requests: count,
  requestsPerSec: +(count / (durationMs / 1000)).toFixed(0),
  p50Ms: pct(50),
  p99Ms: pct(99),
  unexpectedErrors: tally.unexpected,
  unexpectedKinds: [...unexpectedKinds],
  outageWindowMs: downUntil - downFrom,
  errorsDuringOutage: tally.outage,
  outageErrorKinds: [...outageKinds],
  okAfterRecovery: tally.okAfter,
  failedAfterRecovery: tally.failedAfter,
  heapUsedMB: { start: heapStart, end: heapEnd, growth: heapGrowthMB, secondHalfGrowth: heapGrowthSecondHalfMB, series: heapSeries, gcForced: gc !== undefined },
  rssMB: { start: rssStart, end: rssEnd },
  invitesCreated: portkey.created(),
  logLines,
};
writeFileSync(join(resultsDir(values.update), 'soak.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));

// Noise allowance: 2 MB of heap (after a forced GC) over the warmed-up second half.
const failed = tally.unexpected > 0 || report.failedAfterRecovery > 0 || (gc !== undefined && heapGrowthSecondHalfMB > 2);
if (failed) {
  console.error('soak: FAILED (unexpected errors, no recovery after the outage, or heap growth)');
  process.exit(1);
}
console.log('soak: passed');
process.exit(0);
