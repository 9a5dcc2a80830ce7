/**
 * The behaviour suite inside workerd: the real Worker default export (src/worker.ts) with the
 * bindings from support/bindings.ts, Portkey faked by a spy on the isolate's fetch.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { PORTKEY_BASE_URL, PUBLIC_URL, SECRETS } from './support/bindings.js';
import { installFakePortkey, type FakePortkey } from './support/fake-portkey.js';
import { inviteCall, mintToken, postMcp, resultText, rpc, workerFetch } from './support/mcp.js';
import { observed } from './support/observed.js';

let portkey: FakePortkey;
beforeEach(() => {
  portkey = installFakePortkey();
});

describe('workerd: MCP over POST /mcp', () => {
  it('tools/list lists invite_user with its annotations', async () => {
    const res = await postMcp(rpc('tools/list'), await mintToken());
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', id: 1 });
    const tool = (res.json.result.tools as { name: string; annotations?: Record<string, unknown> }[]).find((t) => t.name === 'invite_user');
    expect(tool).toBeDefined();
    expect(tool!.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    });
    expect(portkey.requests).toEqual([]);
  });

  it('invite_user sends exactly the documented request upstream and returns the invite', async () => {
    const args = { email: 'jane@example.com', role: 'member', workspaces: [{ id: 'ws-eng', role: 'admin' }] };
    const res = await postMcp(inviteCall(args), await mintToken());
    expect(res.status).toBe(200);
    const result = res.json.result;
    expect(result.isError).toBeFalsy();

    expect(portkey.requests).toHaveLength(1);
    const [sent] = portkey.requests;
    expect(sent!.url).toBe(`${PORTKEY_BASE_URL}/admin/users/invites`);
    expect(new URL(sent!.url).pathname).toBe('/v1/admin/users/invites');
    expect(sent!.method).toBe('POST');
    expect(sent!.headers['x-portkey-api-key']).toBe(SECRETS.portkeyKey);
    expect(sent!.headers['content-type']).toBe('application/json');
    expect(sent!.headers.authorization).toBeUndefined(); // the caller's token is never forwarded
    expect(sent!.body).toEqual({ email: 'jane@example.com', role: 'member', workspaces: [{ id: 'ws-eng', role: 'admin' }] });

    const created = portkey.invites[0]!;
    expect(result.structuredContent).toMatchObject({ invite_id: created.id, invite_link: created.invite_link, email: 'jane@example.com' });
    expect(resultText(result)).toContain(created.invite_link);
  });

  it('an upstream 409 AB07 becomes a tool error naming the status and code, after one lookup', async () => {
    portkey.replyOnce({ status: 409, body: { success: false, data: { message: 'User already invited', errorCode: 'AB07' } } });
    const res = await postMcp(inviteCall({ email: 'jane@example.com', role: 'member', workspaces: [] }), await mintToken());
    expect(res.status).toBe(200);
    expect(res.json.result.isError).toBe(true);
    expect(resultText(res.json.result)).toContain('HTTP 409, AB07');
    expect(resultText(res.json.result)).toMatch(/No pending invite for jane@example\.com was found as of .*most likely already a member/);
    expect(portkey.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
  });
});

describe('workerd: a lost answer is settled by one lookup (the fetch transport)', () => {
  it('the invite was created but the answer timed out: a success confirmed by lookup, audited invited_confirmed', async () => {
    portkey.createThenHang();
    const args = { email: 'lost@example.com', role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] };
    const res = await postMcp(inviteCall(args), await mintToken());
    expect(res.status).toBe(200);
    const result = res.json.result;
    expect(result.isError, resultText(result)).toBeFalsy();
    const created = portkey.invites[0]!;
    expect(result.structuredContent).toEqual({ invite_id: created.id, invite_status: 'pending', ...args, api_key_requested: false });
    expect(JSON.parse(resultText(result)).message).toMatch(
      /^Invited lost@example\.com as member \(confirmed by lookup\)\. Portkey \(portkey\.test\) did not answer within 2000 ms\. .*found it: invite [0-9a-f-]{36}, status pending/,
    );
    // One POST, never repeated, then the one read.
    expect(portkey.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST ${PORTKEY_BASE_URL}/admin/users/invites`,
      `GET ${PORTKEY_BASE_URL}/admin/users/invites?email=lost%40example.com&status=pending&pageSize=100&currentPage=0`,
    ]);
    expect(portkey.requests[1]!.headers['x-portkey-api-key']).toBe(SECRETS.portkeyKey);
    const audit = observed.logLines
      .filter((l) => l.includes('"audit.invite_user"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.invitee === 'lost@example.com');
    expect(audit).toEqual([expect.objectContaining({ outcome: 'invited_confirmed', invite_id: created.id, reconcile: 'matched', reconcile_status: 200 })]);
  });
});

describe('workerd: answers bounded by decoded size (the fetch transport)', () => {
  const args = { email: 'jane@example.com', role: 'member', workspaces: [] };

  it('an answer in a content-encoding that was not asked for is an unknown outcome, not read', async () => {
    portkey.replyOnce({ status: 200, body: { id: 'x', invite_link: 'y' }, headers: { 'content-encoding': 'gzip' } });
    const res = await postMcp(inviteCall(args), await mintToken());
    expect(res.json.result.isError).toBe(true);
    expect(resultText(res.json.result)).toMatch(/content-encoding "gzip".*This server then looked for the invite: no pending invite for jane@example\.com/);
    expect(portkey.requests[0]!.headers['accept-encoding']).toBe('identity');
  });

  it('a body over 256 KiB is not read past the cap', async () => {
    portkey.replyOnce({ status: 200, body: `{"id":"x","invite_link":"y"${' '.repeat(1024 * 1024)}}` });
    const res = await postMcp(inviteCall(args), await mintToken());
    expect(res.json.result.isError).toBe(true);
    expect(resultText(res.json.result)).toMatch(/body over 262144 bytes.*This server then looked for the invite: no pending invite for jane@example\.com/);
  });
});

describe('workerd: authentication', () => {
  it('401 without a token, with a Bearer challenge', async () => {
    const res = await postMcp(rpc('tools/list'), null);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('403 insufficient_scope for a token without portkey.invite, and nothing sent upstream', async () => {
    const res = await postMcp(inviteCall({ email: 'jane@example.com', role: 'member', workspaces: [] }), await mintToken({ scope: 'other' }));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
    expect(portkey.requests).toEqual([]);
  });
});

describe('workerd: other routes', () => {
  it('GET /mcp is 405 with Allow: POST', async () => {
    const res = await workerFetch(`${PUBLIC_URL}/mcp`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  it('GET /healthz is 200', async () => {
    const res = await workerFetch(`${PUBLIC_URL}/healthz`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 200 (secret key, Portkey key set; a Worker never shuts down)', async () => {
    const res = await workerFetch(`${PUBLIC_URL}/readyz`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ready' });
  });

  it('protected resource metadata is 404 when no AUTH_ISSUER is configured', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await workerFetch(`${PUBLIC_URL}${path}`);
      expect(res.status, path).toBe(404);
    }
  });

  it('no request in this file reached the network', async () => {
    // The outboundService in vitest.workers.config.ts answers 599 to anything the fake does not own.
    const res = await fetch('http://elsewhere.test/');
    expect(res.status).toBe(599);
  });
});

/**
 * Issue 10 item 6: a Worker is not loopback-bound, whatever HOST says (the Worker never sets it):
 * a localhost page gets no CORS access and a localhost Host is not this server's. PUBLIC_URL is
 * http://mcp.test in these bindings.
 */
describe('workerd: loopback rules never apply', () => {
  const listTools = async (url: string, headers: Record<string, string>) =>
    workerFetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        authorization: `Bearer ${await mintToken()}`,
        ...headers,
      },
      body: JSON.stringify(rpc('tools/list')),
    });

  it.each(['http://localhost:3000', 'http://127.0.0.1:8080', 'http://[::1]:5173'])('a page at %s gets 403 and no CORS access', async (origin) => {
    const res = await listTools(`${PUBLIC_URL}/mcp`, { origin });
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/Origin .* is not allowed/);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await workerFetch(`${PUBLIC_URL}/mcp`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it.each(['http://localhost/mcp', 'http://localhost:8787/mcp', 'http://127.0.0.1/mcp', 'http://[::1]/mcp'])('a request for %s is not this server\'s: 403', async (url) => {
    const res = await listTools(url, {});
    expect(res.status).toBe(403);
    expect(res.text).toMatch(/Host .* is not this server's/);
  });

  it('a Host header naming localhost is refused too', async () => {
    const res = await listTools(`${PUBLIC_URL}/mcp`, { host: 'localhost' });
    expect(res.status).toBe(403);
  });

  it("PUBLIC_URL's own host and origin are still served", async () => {
    const res = await listTools(`${PUBLIC_URL}/mcp`, { origin: PUBLIC_URL });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(PUBLIC_URL);
  });
});

const logEvents = (name: string): Record<string, unknown>[] =>
  observed.logLines.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return parsed.event === name ? [parsed] : [];
    } catch {
      return [];
    }
  });

describe('workerd: what the operator reads in the logs', () => {
  it('a misspelt setting is warned about once per isolate, naming the closest known name', async () => {
    for (let i = 0; i < 3; i++) expect((await postMcp(rpc('tools/list'), await mintToken())).status).toBe(200);
    const warnings = logEvents('config.warning').filter((w) => String(w.message).includes('LOG_LEVL'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.level).toBe('warn');
    expect(warnings[0]!.message).toContain('LOG_LEVEL');
  });

  it("the audit line names the OAuth client and the caller's address from CF-Connecting-IP", async () => {
    const args = { email: 'audit-cf@example.com', role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] };
    const res = await postMcp(inviteCall(args), await mintToken({ claims: { azp: 'claude-connector' } }), { 'cf-connecting-ip': '203.0.113.9' });
    expect(res.json.result.isError).toBeFalsy();
    const audit = logEvents('audit.invite_user').filter((a) => a.invitee === 'audit-cf@example.com');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ outcome: 'invited', client_id: 'claude-connector', client_address: '203.0.113.9' });
  });
});
