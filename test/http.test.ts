import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/server-config.js';
import { createLogger } from '../src/log.js';
import { SECRETS, inviteCall, postMcp, recordingFetch, startTestServer, token, type TestServer } from './support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

let portkey: PortkeyDouble;
let server: TestServer;
let bearer: string;

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  server = await startTestServer({
    PORTKEY_API_KEY: SECRETS.portkeyKey,
    PORTKEY_BASE_URL: portkey.url,
    ALLOWED_ORIGINS: 'https://app.example.com',
  });
  bearer = await token();
});
afterAll(async () => {
  await server.close(100);
  await portkey.close();
});

const toolsList = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
const auth = () => ({ authorization: `Bearer ${bearer}` });

/** A raw request on a given agent, for socket-level behaviour fetch hides. */
function rawRequest(
  agent: http.Agent,
  o: { method?: string; path?: string; headers?: Record<string, string | number>; body?: Buffer | string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const url = new URL(server.mcpUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path: o.path ?? '/mcp', method: o.method ?? 'POST', headers: o.headers, agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('routes', () => {
  it('GET /healthz answers 200 without calling Portkey', async () => {
    const res = await recordingFetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(portkey.requests).toHaveLength(0);
  });

  it.each(['GET', 'DELETE', 'PUT'])('%s /mcp answers 405 with Allow: POST', async (method) => {
    const res = await recordingFetch(server.mcpUrl, { method, headers: auth() });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('every response carries an x-request-id, and an incoming one is kept', async () => {
    const res = await recordingFetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const other = await recordingFetch(`${server.url}/nope`);
    expect(other.status).toBe(404);
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('writes one request log line with method, path, status, duration and request id', async () => {
    // Not a probe path: /healthz and /readyz are kept out of the log (test/readiness.test.ts).
    await recordingFetch(`${server.url}/no-such-route`, { headers: { 'x-request-id': 'log-check-1' } });
    const line = server.events('http.request').find((l) => l.request_id === 'log-check-1');
    expect(line).toMatchObject({ method: 'GET', path: '/no-such-route', status: 404 });
    expect(typeof line!.duration_ms).toBe('number');
  });
});

describe('Origin (DNS rebinding protection)', () => {
  it('refuses an Origin not in ALLOWED_ORIGINS with 403', async () => {
    const res = await postMcp(server.mcpUrl, toolsList, { ...auth(), origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/Origin "https:\/\/evil.example" is not allowed.*ALLOWED_ORIGINS/);
  });

  it('allows a request without Origin', async () => {
    expect((await postMcp(server.mcpUrl, toolsList, auth())).status).toBe(200);
  });

  it('allows a listed Origin and answers with CORS headers, also on errors', async () => {
    const ok = await postMcp(server.mcpUrl, toolsList, { ...auth(), origin: 'https://app.example.com' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const unauthorized = await postMcp(server.mcpUrl, toolsList, { origin: 'https://app.example.com' });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(unauthorized.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/);
  });

  it('answers a CORS preflight from a listed Origin', async () => {
    const res = await recordingFetch(server.mcpUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toBe('Authorization,Content-Type,Mcp-Protocol-Version,Mcp-Session-Id,Last-Event-ID');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
  });
});

describe('order of checks: Origin, method, authentication, body size, MCP', () => {
  it('a bad Origin wins over a wrong method', async () => {
    const res = await recordingFetch(server.mcpUrl, { method: 'GET', headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
  });

  it('a wrong method wins over a missing token', async () => {
    expect((await recordingFetch(server.mcpUrl, { method: 'DELETE' })).status).toBe(405);
  });

  it('a missing token wins over an oversized body', async () => {
    const res = await postMcp(server.mcpUrl, 'x'.repeat(2 * 1024 * 1024));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });
});

describe('body size', () => {
  it('refuses a body over 1 MiB with 413 (Content-Length)', async () => {
    const res = await postMcp(server.mcpUrl, { ...toolsList, pad: 'x'.repeat(1024 * 1024) }, auth());
    expect(res.status).toBe(413);
    expect(res.json.error.message).toMatch(/limit is 1048576 bytes/);
  });

  it('refuses a chunked body that grows over 1 MiB with 413', async () => {
    const agent = new http.Agent({ keepAlive: false });
    const url = new URL(server.mcpUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        { host: url.hostname, port: url.port, path: '/mcp', method: 'POST', agent, headers: { ...auth(), 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      for (let i = 0; i < 20; i++) req.write(chunk);
      req.end();
    });
    agent.destroy();
    expect(status).toBe(413);
  });

  it('an early answer closes the connection, so the next request on a keep-alive agent succeeds', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    const first = await rawRequest(agent, {
      headers: { ...auth(), 'content-type': 'application/json', accept: 'application/json', 'content-length': big.length },
      body: big,
    });
    // The server lingers for the rest of the body (src/node/lingering-close.ts), so the client reads the 413.
    expect(first.status).toBe(413);
    expect(first.headers.connection).toBe('close');
    const second = await rawRequest(agent, {
      headers: { ...auth(), 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(toolsList),
    });
    agent.destroy();
    expect(second.status).toBe(200);
    expect(JSON.parse(second.body).result.tools[0].name).toBe('invite_user');
  });
});

describe('protocol-level input', () => {
  it('malformed JSON gets 400 with a JSON-RPC parse error', async () => {
    const res = await postMcp(server.mcpUrl, '{"jsonrpc": "2.0", ', auth());
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32700);
  });

  it('a JSON-RPC batch is refused: batching left MCP in 2025-06-18', async () => {
    const res = await postMcp(server.mcpUrl, [toolsList, { ...toolsList, id: 2 }], auth());
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/batches are not supported/);
  });

  it('a wrong Content-Type gets 415', async () => {
    const res = await postMcp(server.mcpUrl, JSON.stringify(toolsList), { ...auth(), 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
  });

  it('an Accept of only application/json is served', async () => {
    const res = await postMcp(server.mcpUrl, toolsList, { ...auth(), accept: 'application/json' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('an unsupported MCP-Protocol-Version gets 400, but never on initialize', async () => {
    const res = await postMcp(server.mcpUrl, toolsList, { ...auth(), 'mcp-protocol-version': '1999-01-01' });
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/Unsupported protocol version/);
    const init = await postMcp(
      server.mcpUrl,
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } },
      { ...auth(), 'mcp-protocol-version': '1999-01-01' },
    );
    expect(init.status).toBe(200);
    expect(init.json.result.protocolVersion).toBe('2025-11-25');
  });

  it('a notification gets 202 with no body', async () => {
    const res = await postMcp(server.mcpUrl, { jsonrpc: '2.0', method: 'notifications/initialized' }, auth());
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
  });

  it('an unknown method gets a JSON-RPC method-not-found error', async () => {
    const res = await postMcp(server.mcpUrl, { jsonrpc: '2.0', id: 7, method: 'resources/list' }, auth());
    expect(res.json.error.code).toBe(-32601);
  });

  it('a tools/call made with raw JSON-RPC works like the SDK client', async () => {
    const res = await postMcp(server.mcpUrl, inviteCall({ email: 'raw@example.com', role: 'member', workspaces: [] }), auth());
    expect(res.status).toBe(200);
    expect(res.json.result.structuredContent.email).toBe('raw@example.com');
  });
});

describe('Host header (DNS rebinding) on a loopback-bound server', () => {
  it.each(['evil.example.com', 'evil.example.com:80', '169.254.169.254'])('refuses Host %s with 403', async (host) => {
    const url = new URL(server.mcpUrl);
    const res = await rawRequest(new http.Agent(), {
      headers: { ...auth(), host, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(toolsList),
    });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.message).toMatch(/is not this server's.*PUBLIC_URL.*ALLOWED_HOSTS/);
    expect(url.hostname).toBe('127.0.0.1');
  });

  it.each(['127.0.0.1:8787', 'localhost', 'mcp.test', '[::1]:9000'])('accepts Host %s (loopback, or PUBLIC_URL host)', async (host) => {
    const res = await rawRequest(new http.Agent(), {
      headers: { ...auth(), host, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(toolsList),
    });
    expect(res.status).toBe(200);
  });

  it('accepts loopback origins and its own PUBLIC_URL origin without configuration', async () => {
    for (const origin of ['http://localhost:5173', 'http://127.0.0.1:3000', 'http://mcp.test']) {
      const res = await postMcp(server.mcpUrl, toolsList, { ...auth(), origin });
      expect(res.status, origin).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    }
  });
});

describe('Host header on a server bound to all interfaces', () => {
  const appFor = (env: Record<string, string>) =>
    createApp(loadConfig({ HOST: '0.0.0.0', PUBLIC_URL: 'https://mcp.example.com', AUTH_JWT_SECRET: SECRETS.jwtSecret, ...env }), {
      logger: createLogger(() => {}),
    }).app;

  it('does not check Host unless ALLOWED_HOSTS is set (a proxy may rewrite it)', async () => {
    const res = await appFor({}).request('http://internal-lb:8787/mcp', { method: 'GET' });
    expect(res.status).toBe(405);
  });

  it('with ALLOWED_HOSTS, refuses other hosts and accepts the listed and PUBLIC_URL ones', async () => {
    const app = appFor({ ALLOWED_HOSTS: 'mcp-internal.example.com' });
    expect((await app.request('http://evil.example.com/mcp', { method: 'GET' })).status).toBe(403);
    expect((await app.request('http://mcp-internal.example.com/mcp', { method: 'GET' })).status).toBe(405);
    expect((await app.request('https://mcp.example.com/mcp', { method: 'GET' })).status).toBe(405);
  });

  it('gives every Host the same verdict however often it is asked, also past hundreds of distinct Host values', async () => {
    const app = appFor({ ALLOWED_HOSTS: 'mcp-internal.example.com' });
    const status = async (host: string) => (await app.request(`http://${host}/mcp`, { method: 'GET' })).status;
    for (let i = 0; i < 600; i++) {
      expect(await status(`evil-${i}.example.com`)).toBe(403);
      if (i % 50 === 0) {
        expect(await status('mcp-internal.example.com')).toBe(405);
        expect(await status('evil-0.example.com')).toBe(403);
      }
    }
    expect(await status('mcp.example.com')).toBe(405);
    expect(await status('MCP.example.com:443')).toBe(405);
    expect(await status('evil-599.example.com')).toBe(403);
  });

  it('does not accept loopback origins when not bound to loopback', async () => {
    const res = await appFor({}).request('https://mcp.example.com/mcp', { method: 'GET', headers: { origin: 'http://localhost:5173' } });
    expect(res.status).toBe(403);
  });
});
