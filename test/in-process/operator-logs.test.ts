/**
 * Logs that answer an operator's questions, through the real server: who called (OAuth client,
 * address), for which tenant (the same id on the request line and the audit line), why a token
 * was refused (which check, never the token), and LOG_LEVEL (audit lines at every level).
 * Also: without an authorization server, the OAuth endpoints a client probes say what to do.
 */
import { describe, expect, it } from 'vitest';
import { startPortkeyDouble } from './portkey-double.js';
import { inviteCall, PUBLIC_URL, postMcp, recordingFetch, RESOURCE, SECRETS, serverPool, token } from './harness.js';

const start = serverPool();
const invite = inviteCall({ email: 'jane@example.com', role: 'member', workspaces: [] });

describe('the audit line names the OAuth client and the caller address', () => {
  it.each([
    ['client_id', { client_id: 'claude-connector' }, 'claude-connector'],
    ['azp (OpenID providers)', { azp: 'okta-app-1' }, 'okta-app-1'],
    ['neither', {}, null],
  ])('from %s', async (_, claims, expected) => {
    const portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
    const server = await start({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url });
    const res = await postMcp(server.mcpUrl, invite, { authorization: `Bearer ${await token({ claims })}`, 'x-forwarded-for': '203.0.113.7' });
    expect(res.status).toBe(200);
    await portkey.close();
    const [audit] = server.events('audit.invite_user');
    // No proxy is trusted by default: the socket's address, not the header the caller sent.
    expect(audit).toMatchObject({ client_id: expected, client_address: '127.0.0.1', outcome: 'invited' });
  });

  it('behind TRUST_PROXY hops, the address the outermost trusted proxy saw, not what the client wrote', async () => {
    const server = await start({ TRUST_PROXY: '1' });
    await postMcp(server.mcpUrl, invite, { authorization: `Bearer ${await token()}`, 'x-forwarded-for': '6.6.6.6, 203.0.113.7' });
    expect(server.events('audit.invite_user')[0]).toMatchObject({ client_address: '203.0.113.7', outcome: 'not_configured' });
  });
});

describe('the request line and the audit line name the same tenant', () => {
  it('single-tenant mode: "default" on both', async () => {
    const server = await start({});
    const res = await postMcp(server.mcpUrl, invite, { authorization: `Bearer ${await token()}` });
    const id = res.headers.get('x-request-id');
    const request = server.events('http.request').find((l) => l.request_id === id)!;
    const audit = server.events('audit.invite_user').find((l) => l.request_id === id)!;
    expect(audit.tenant).toBe('default');
    expect(request.tenant).toBe(audit.tenant);
  });

  it('multi-tenant mode: the claim on both', async () => {
    const server = await start({ TENANTS: JSON.stringify({ acme: { apiKey: 'pk-acme-SECRET-1' } }) });
    const res = await postMcp(server.mcpUrl, invite, { authorization: `Bearer ${await token({ claims: { org_id: 'acme' } })}` });
    const id = res.headers.get('x-request-id');
    const request = server.events('http.request').find((l) => l.request_id === id)!;
    expect(request.tenant).toBe('acme');
    expect(server.events('audit.invite_user').find((l) => l.request_id === id)!.tenant).toBe('acme');
  });
});

describe('a refused token is logged with the check it failed, never the token', () => {
  it.each([
    ['audience', { aud: 'https://elsewhere.example.com/mcp' }],
    ['expiry', { expiresIn: Math.floor(Date.now() / 1000) - 3600 }],
    ['signature', { secret: 'another-secret-SECRET-0123456789abcdef0123456789' }],
    ['issuer', { iss: 'https://wrong-issuer.example.com/' }],
    ['algorithm', { alg: 'HS384', secret: SECRETS.jwtSecret }],
  ] as const)('%s', async (check, options) => {
    const server = await start({ AUTH_ISSUER: 'https://issuer.example.com/', AUTH_ALGORITHMS: 'HS256' });
    const bearer = await token({ iss: 'https://issuer.example.com/', ...options });
    const res = await postMcp(server.mcpUrl, invite, { authorization: `Bearer ${bearer}` });
    expect(res.status).toBe(401);
    const [rejected] = server.events('auth.rejected');
    expect(rejected).toMatchObject({ check });
    expect(JSON.stringify(server.logs)).not.toContain(bearer);
  });
});

describe('LOG_LEVEL', () => {
  it('at warn, drops request lines but still writes every audit line', async () => {
    const server = await start({ LOG_LEVEL: 'warn' });
    await postMcp(server.mcpUrl, invite, { authorization: `Bearer ${await token()}` });
    await postMcp(server.mcpUrl, invite, { authorization: 'Bearer not.a.token' });
    expect(server.events('http.request')).toEqual([]);
    expect(server.events('auth.rejected')).toEqual([]);
    expect(server.events('audit.invite_user')).toHaveLength(1);
  });

  it('at info (the default), writes request lines', async () => {
    const server = await start({});
    await postMcp(server.mcpUrl, invite, { authorization: `Bearer ${await token()}` });
    expect(server.events('http.request')).toHaveLength(1);
  });
});

describe('OAuth endpoints a client probes', () => {
  const probes = [
    ['POST', '/register'],
    ['GET', '/authorize'],
    ['POST', '/token'],
    ['GET', '/.well-known/oauth-authorization-server'],
    ['GET', '/.well-known/oauth-authorization-server/mcp'],
    ['GET', '/.well-known/openid-configuration'],
  ] as const;

  it.each(probes)('without an authorization server, %s %s says to send a bearer token and where docs/auth.md explains it', async (method, path) => {
    const server = await start({});
    const res = await recordingFetch(`${server.url}${path}`, { method, headers: { host: new URL(PUBLIC_URL).host } });
    // Discovery: no such document (404). The OAuth endpoints: 501, which mcp-remote does not take for a missing transport.
    expect(res.status).toBe(path.startsWith('/.well-known/') ? 404 : 501);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(await res.json()).toEqual({
      error: 'oauth_not_supported',
      error_description: expect.stringMatching(/bearer token in the Authorization header.*If you did send one, it was refused: it has expired.*docs\/auth\.md#getting-a-token/),
    });
  });

  it('with an authorization server configured, they are not ours to answer (plain 404)', async () => {
    const server = await start({ AUTH_SERVERS: 'https://auth.example.com' });
    const res = await recordingFetch(`${server.url}/register`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe('not_found');
    // Its own metadata still names the authorization server.
    const prm = await recordingFetch(`${server.url}/.well-known/oauth-protected-resource/mcp`);
    expect(((await prm.json()) as { resource: string; authorization_servers: string[] })).toMatchObject({ resource: RESOURCE, authorization_servers: ['https://auth.example.com'] });
  });
});
