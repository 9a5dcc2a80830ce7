/**
 * CPU per invite_user call inside the process, without sockets: the app's fetch handler driven
 * directly (Hono, auth, MCP SDK, zod, policy, the Portkey client, logging), Portkey answered by an
 * in-memory transport. The network part (kernel writes, undici, @hono/node-server) is left out,
 * so a change to our per-call work shows up above the noise of a shared machine. Not a
 * throughput figure: for that, bench/perf.ts.
 *
 *   node --import tsx bench/inproc-cpu.ts [calls=20000] [rounds=5] [concurrency=64]
 */
import { SignJWT } from 'jose';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/server-config.js';
import { createLogger } from '../src/log.js';
import type { HttpTransport } from '../src/portkey/transport.js';

const [calls = 20_000, rounds = 5, concurrency = 64] = process.argv.slice(2).map(Number);
const PUBLIC_URL = 'http://mcp.bench.test';
const SECRET = 'bench-jwt-secret-0123456789abcdef0123456789abcdef';

const config = loadConfig({
  HOST: '0.0.0.0',
  PUBLIC_URL,
  AUTH_JWT_SECRET: SECRET,
  PORTKEY_API_KEY: 'pk-bench-admin-key',
  // Never reached (an in-memory transport answers); https, as a non-loopback base URL must be.
  PORTKEY_BASE_URL: 'https://portkey.bench.test/v1',
  RATE_LIMIT_TENANT_PER_MINUTE: '0',
  RATE_LIMIT_CALLER_PER_MINUTE: '0',
});
let n = 0;
const transport: HttpTransport = {
  async exchange() {
    const id = `inv-${(++n).toString(36)}`;
    const headers = new Map([['content-type', 'application/json']]);
    return {
      status: 200,
      headers: { get: (name) => headers.get(name.toLowerCase()) ?? null },
      body: { kind: 'text', text: `{"id":"${id}","invite_link":"https://app.portkey.ai/invite/${id}"}` },
    };
  },
};
// Lines are built (part of the cost) and dropped.
const { fetch } = createApp(config, { transport, logger: createLogger(() => {}) });

const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({ scope: 'portkey.invite' })
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject('bench-user')
  .setAudience(`${PUBLIC_URL}/mcp`)
  .setIssuedAt(now)
  .setExpirationTime(now + 3600)
  .sign(new TextEncoder().encode(SECRET));
const body = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'invite_user', arguments: { email: 'jane@example.com', role: 'member', workspaces: [{ id: 'ws-engineering', role: 'member' }] } },
});
const headers = {
  host: 'mcp.bench.test',
  authorization: `Bearer ${token}`,
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'content-length': String(Buffer.byteLength(body)),
};

async function one(): Promise<void> {
  const res = await fetch(new Request(`${PUBLIC_URL}/mcp`, { method: 'POST', headers, body }));
  const text = await res.text();
  if (res.status !== 200 || !text.includes('"invite_id"')) throw new Error(`unexpected answer ${res.status}: ${text.slice(0, 300)}`);
}

async function round(count: number): Promise<number> {
  let left = count;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await one();
    }),
  );
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / 1000 / count;
}

await round(Math.min(calls, 5000)); // warm-up: JIT, caches
const figures: number[] = [];
for (let r = 0; r < rounds; r++) figures.push(await round(calls));
const sorted = [...figures].sort((a, b) => a - b);
console.log(`CPU ms/call over ${rounds} rounds of ${calls}: median ${sorted[Math.floor(rounds / 2)]!.toFixed(4)}  min ${sorted[0]!.toFixed(4)}  all ${figures.map((f) => f.toFixed(4)).join(' ')}`);
