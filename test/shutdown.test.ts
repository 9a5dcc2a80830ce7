/**
 * Graceful shutdown of the Node server as an operator meets it: SIGTERM or SIGINT stops new
 * connections, lets the call in flight finish, then exits 0.
 */
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, inviteCall, observed, token } from './support/harness.js';
import { startChild, waitFor } from './support/child.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const entry = fileURLToPath(new URL('../src/node.ts', import.meta.url));
const tsx = fileURLToPath(import.meta.resolve('tsx'));

let portkey: PortkeyDouble;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterAll(() => portkey.close());

/** One request on its own connection (no pooling), so "refused" really means a new connection. */
function post(url: string, body: unknown, bearer: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        observed.responses.push(text);
        resolve({ status: res.statusCode!, body: text });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe.each(['SIGTERM', 'SIGINT'] as const)('on %s', (signal) => {
  it('stops accepting, finishes the call in flight, then exits 0', async () => {
    portkey.reset();
    portkey.setLatency(1500);
    const s = startChild(process.execPath, ['--import', tsx, entry], {
      PORT: '0',
      AUTH_JWT_SECRET: SECRETS.jwtSecret,
      PUBLIC_URL: 'http://mcp.test',
      PORTKEY_API_KEY: SECRETS.portkeyKey,
      PORTKEY_BASE_URL: portkey.url,
    });
    await waitFor(() => s.stdout().includes('"event":"server.started"'), 'the server to start');
    const url = /"url":"([^"]+)"/.exec(s.stdout())![1]!;
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
