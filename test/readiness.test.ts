/**
 * /readyz (can this instance do its job?) against /healthz (does the process serve?), through the
 * real Node server: key sources, the Portkey key or tenant source, shutdown, and probes kept out
 * of the info log.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { SECRETS, freePort, observed, serverPool, token, postMcp, type TestServer } from './support/harness.js';

const start = serverPool();
const ISSUER = 'https://issuer.test';

async function probe(server: TestServer, path: '/readyz' | '/healthz') {
  const res = await fetch(`${server.url}${path}`);
  const text = await res.text();
  observed.responses.push(text);
  return { status: res.status, headers: res.headers, json: JSON.parse(text) };
}

/** A JWKS host that answers an empty key set; it can be brought up on a port chosen earlier. */
const hosts: Server[] = [];
afterAll(() => Promise.all(hosts.map((h) => new Promise((r) => h.close(r)))));
async function jwksHost(port = 0): Promise<{ url: string; gets: () => number }> {
  let gets = 0;
  const server = createServer((_req, res) => {
    gets++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
  });
  hosts.push(server);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`, gets: () => gets };
}
const jwksEnv = (url: string, cooldownMs = 1000) => ({ AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: url, AUTH_ISSUER: ISSUER, AUTH_JWKS_COOLDOWN_MS: String(cooldownMs), PORTKEY_API_KEY: SECRETS.portkeyKey });

describe('/readyz', () => {
  it('200 with a signing secret and a Portkey key, never cached', async () => {
    const server = await start({ PORTKEY_API_KEY: SECRETS.portkeyKey });
    const res = await probe(server, '/readyz');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ready' });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('503 naming PORTKEY_API_KEY and the tenant settings when no Portkey key or tenant source is configured; /healthz stays 200', async () => {
    const server = await start({});
    const res = await probe(server, '/readyz');
    expect(res.status).toBe(503);
    expect(res.json.status).toBe('not_ready');
    expect(res.json.missing).toEqual([{ check: 'portkey_key', message: expect.stringMatching(/PORTKEY_API_KEY.*TENANTS/) }]);
    expect((await probe(server, '/healthz')).status).toBe(200);
  });

  it('200 with a tenant table instead of PORTKEY_API_KEY', async () => {
    const server = await start({ TENANTS: JSON.stringify({ acme: { apiKey: SECRETS.otherTenantKey } }) });
    expect((await probe(server, '/readyz')).status).toBe(200);
  });

  it('JWKS: 503 naming AUTH_JWKS_URL while the host has never answered, 200 once it does (the probe itself refetches, at most once per cooldown)', async () => {
    const port = await freePort();
    const server = await start(jwksEnv(`http://127.0.0.1:${port}/jwks.json`, 1500));
    const down = await probe(server, '/readyz');
    expect(down.status).toBe(503);
    expect(down.json.missing).toEqual([{ check: 'token_keys', message: expect.stringMatching(/AUTH_JWKS_URL.*not been fetched \(ECONNREFUSED\)/) }]);

    const host = await jwksHost(port);
    // Inside the cooldown the probe does not hit the JWKS host again.
    expect((await probe(server, '/readyz')).status).toBe(503);
    expect(host.gets()).toBe(0);
    await new Promise((r) => setTimeout(r, 1600));
    expect((await probe(server, '/readyz')).status).toBe(200);
    expect(host.gets()).toBe(1);
    expect((await probe(server, '/readyz')).status).toBe(200);
    expect(host.gets()).toBe(1);
  });

  it('JWKS fetched at start-up: 200', async () => {
    const host = await jwksHost();
    const server = await start(jwksEnv(host.url));
    expect((await probe(server, '/readyz')).status).toBe(200);
    expect(host.gets()).toBe(1);
  });

  it('503 from the moment the runtime says shutdown has begun', async () => {
    let stopping = false;
    const server = await start({ PORTKEY_API_KEY: SECRETS.portkeyKey }, { isShuttingDown: () => stopping });
    expect((await probe(server, '/readyz')).status).toBe(200);
    stopping = true;
    const res = await probe(server, '/readyz');
    expect(res.status).toBe(503);
    expect(res.json.missing).toEqual([{ check: 'shutdown', message: expect.stringMatching(/shutting down/) }]);
    expect((await probe(server, '/healthz')).status).toBe(200);
  });

  it('probes are not logged at info; other requests still are', async () => {
    const server = await start({ PORTKEY_API_KEY: SECRETS.portkeyKey });
    for (let i = 0; i < 3; i++) {
      await probe(server, '/healthz');
      await probe(server, '/readyz');
    }
    await postMcp(server.mcpUrl, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${await token()}` });
    await new Promise((r) => setTimeout(r, 20));
    const paths = server.events('http.request').map((e) => e.path);
    expect(paths).toEqual(['/mcp']);
  });

  it('with LOG_LEVEL=debug, probes are logged at debug', async () => {
    const server = await start({ PORTKEY_API_KEY: SECRETS.portkeyKey, LOG_LEVEL: 'debug' });
    await probe(server, '/healthz');
    await probe(server, '/readyz');
    await new Promise((r) => setTimeout(r, 20));
    const lines = server.events('http.request').map((e) => [e.path, e.level]);
    expect(lines).toEqual([
      ['/healthz', 'debug'],
      ['/readyz', 'debug'],
    ]);
  });
});
