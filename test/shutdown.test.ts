/**
 * Graceful shutdown of the Node server as an operator meets it: SIGTERM or SIGINT turns /readyz
 * 503, keeps accepting for SHUTDOWN_DRAIN_MS, stops new connections, lets the call in flight
 * finish (with its audit line), then exits 0; a second signal stops at once.
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, inviteCall, observed, token } from './support/harness.js';
import { startChild, waitFor } from './support/child.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';
import { REPEAT_WINDOW_MS } from '../src/node/signals.js';

const entry = fileURLToPath(new URL('../src/node.ts', import.meta.url));
const tsx = fileURLToPath(import.meta.resolve('tsx'));

let portkey: PortkeyDouble;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterAll(() => portkey.close());

/** One request on its own connection (no pooling) unless an agent is given, so "refused" really means a new connection. */
function post(url: string, body: unknown, bearer: string, agent: http.Agent | false = false): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        observed.responses.push(text);
        resolve({ status: res.statusCode!, body: text, headers: res.headers });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: text }));
      })
      .on('error', reject);
  });
}

const serverEnv = (extra: Record<string, string> = {}) => ({
  PORT: '0',
  AUTH_JWT_SECRET: SECRETS.jwtSecret,
  PUBLIC_URL: 'http://mcp.test',
  PORTKEY_API_KEY: SECRETS.portkeyKey,
  PORTKEY_BASE_URL: portkey.url,
  ...extra,
});

async function startServer(extra: Record<string, string> = {}) {
  const s = startChild(process.execPath, ['--import', tsx, entry], serverEnv(extra));
  await waitFor(() => s.stdout().includes('"event":"server.started"'), 'the server to start');
  return { s, url: /"url":"([^"]+)"/.exec(s.stdout())![1]! };
}

const events = (stdout: string, name: string) =>
  stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === name);

describe.each(['SIGTERM', 'SIGINT'] as const)('on %s', (signal) => {
  it('stops accepting, finishes the call in flight, then exits 0', async () => {
    portkey.reset();
    portkey.setLatency(1500);
    const { s, url } = await startServer();
    const bearer = await token();

    const inFlight = post(`${url}/mcp`, inviteCall({ email: `${signal.toLowerCase()}@example.com`, role: 'member', workspaces: [] }), bearer);
    await waitFor(() => portkey.requests.length === 1, 'the call to reach Portkey');
    process.kill(s.child.pid!, signal);
    await waitFor(() => s.stdout().includes('"event":"server.stopping"'), 'the server to begin stopping');

    await expect(post(`${url}/mcp`, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, bearer)).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);
    const done = await inFlight;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body).result.structuredContent.email).toBe(`${signal.toLowerCase()}@example.com`);
    expect(await s.exited).toBe(0);
    expect(s.stdout()).toContain('"event":"server.stopped"');
    portkey.setLatency(0);
  });
});

describe('drain: an invite waiting on a slow Portkey when SIGTERM arrives loses nothing', () => {
  it('readyz 503 while still serving for SHUTDOWN_DRAIN_MS, then refuses new connections; the invite gets its answer and audit line; exit 0', async () => {
    portkey.reset();
    portkey.setLatency(6000); // answers inside PORTKEY_TIMEOUT_MS, long after the drain ends
    const { s, url } = await startServer({ PORTKEY_TIMEOUT_MS: '8000', SHUTDOWN_DRAIN_MS: '2500' });
    const bearer = await token();
    // The invite rides a keep-alive connection: once the listener closes, its answer must say Connection: close.
    const keepAlive = new http.Agent({ keepAlive: true });
    const inFlight = post(`${url}/mcp`, inviteCall({ email: 'drain@example.com', role: 'member', workspaces: [] }), bearer, keepAlive);
    await waitFor(() => portkey.requests.length === 1, 'the call to reach Portkey');
    const signalledAt = Date.now();
    process.kill(s.child.pid!, 'SIGTERM');
    await waitFor(() => s.stdout().includes('"event":"server.stopping"'), 'the server to begin stopping');
    expect(events(s.stdout(), 'server.stopping')[0]).toMatchObject({ drain_ms: 2500, deadline_ms: 13_000 }); // PORTKEY_TIMEOUT_MS + 5 s

    // During the drain: not ready, alive, and a new connection is still served.
    const ready = await get(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).missing[0].check).toBe('shutdown');
    expect((await get(`${url}/healthz`)).status).toBe(200);
    const during = await post(`${url}/mcp`, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, bearer);
    expect(during.status).toBe(200);
    // If the machine is so loaded that the drain was over before these answered, the test proves nothing: say so.
    expect(s.stdout(), 'the probes above must run inside the drain').not.toContain('"event":"server.not_accepting"');

    await waitFor(() => s.stdout().includes('"event":"server.not_accepting"'), 'the drain to end');
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(2400);
    await expect(get(`${url}/healthz`)).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);

    const done = await inFlight;
    expect(done.status).toBe(200);
    expect(done.headers.connection).toBe('close');
    expect(JSON.parse(done.body).result.structuredContent.email).toBe('drain@example.com');
    expect(await s.exited).toBe(0);
    keepAlive.destroy();
    const audit = events(s.stdout(), 'audit.invite_user');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ invitee: 'drain@example.com', outcome: 'invited', upstream_status: 200 });
    expect(s.stdout()).toContain('"event":"server.stopped"');
    expect(events(s.stdout(), 'server.cut_responses')).toEqual([]);
    portkey.setLatency(0);
  });

  it('a second signal stops at once, exiting non-zero', async () => {
    portkey.reset();
    portkey.setLatency(8000);
    const { s, url } = await startServer({ PORTKEY_TIMEOUT_MS: '10000', SHUTDOWN_DRAIN_MS: '10000' });
    const inFlight = post(`${url}/mcp`, inviteCall({ email: 'twice@example.com', role: 'member', workspaces: [] }), await token());
    inFlight.catch(() => {});
    await waitFor(() => portkey.requests.length === 1, 'the call to reach Portkey');
    process.kill(s.child.pid!, 'SIGTERM');
    await waitFor(() => s.stdout().includes('"event":"server.stopping"'), 'the server to begin stopping');
    // Past the window in which a repeat is the same delivery (src/node/signals.ts): a deliberate second signal.
    await new Promise((r) => setTimeout(r, REPEAT_WINDOW_MS + 200));
    const secondAt = Date.now();
    process.kill(s.child.pid!, 'SIGTERM');
    expect(await s.exited).toBe(143); // 128 + SIGTERM
    expect(Date.now() - secondAt).toBeLessThan(4000); // not the drain (10 s), not the Portkey latency (8 s)
    expect(s.stdout()).toContain('"event":"server.stopped_at_once"');
    await expect(inFlight).rejects.toThrow();
    portkey.setLatency(0);
  });
});
