/**
 * Anthropic's Messages API MCP connector: it sends `Authorization: Bearer <authorization_token>`
 * (a token the platform minted) on plain Streamable HTTP POSTs and only uses tools. These tests
 * replay exactly that shape, with an HS256 and an RS256 platform token.
 */
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SECRETS, postMcp, rememberSecret, startTestServer, token, type TestServer } from './harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './portkey-double.js';

let portkey: PortkeyDouble;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterAll(() => portkey.close());
afterEach(() => {
  vi.useRealTimers();
  portkey.reset();
});

const headers = (bearer: string, protocol?: string) => ({
  authorization: `Bearer ${bearer}`,
  accept: 'application/json, text/event-stream',
  ...(protocol ? { 'mcp-protocol-version': protocol } : {}),
});

async function session(server: TestServer, bearer: string) {
  const init = await postMcp(
    server.mcpUrl,
    { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'anthropic-messages-api', version: '1' } } },
    headers(bearer),
  );
  expect(init.status).toBe(200);
  const version = init.json.result.protocolVersion as string;
  expect((await postMcp(server.mcpUrl, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers(bearer, version))).status).toBe(202);
  return version;
}

const invite = (id: number, email: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'invite_user', arguments: { email, role: 'member', workspaces: [] } },
});

describe('Messages API MCP connector request shape', () => {
  it('HS256 platform token: initialize, tools/list, tools/call', async () => {
    const server = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url });
    const bearer = await token({ sub: 'user_123' });
    const version = await session(server, bearer);
    const list = await postMcp(server.mcpUrl, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, headers(bearer, version));
    expect(list.json.result.tools[0].name).toBe('invite_user');
    const call = await postMcp(server.mcpUrl, invite(2, 'msg@example.com'), headers(bearer, version));
    expect(call.status).toBe(200);
    expect(call.json.result.isError).toBeUndefined();
    expect(portkey.invites).toHaveLength(1);
    await server.close(100);
  });

  it('RS256 platform token verified with AUTH_PUBLIC_KEY', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const server = await startTestServer({
      AUTH_JWT_SECRET: undefined,
      AUTH_PUBLIC_KEY: await exportSPKI(publicKey),
      AUTH_ISSUER: 'https://platform.example',
      PORTKEY_API_KEY: SECRETS.portkeyKey,
      PORTKEY_BASE_URL: portkey.url,
    });
    const bearer = await new SignJWT({ scope: 'portkey.invite' })
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('user_456')
      .setIssuer('https://platform.example')
      .setAudience(server.config.resource)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    rememberSecret(bearer);
    const version = await session(server, bearer);
    const call = await postMcp(server.mcpUrl, invite(1, 'rs@example.com'), headers(bearer, version));
    expect(call.json.result.structuredContent.email).toBe('rs@example.com');
    await server.close(100);
  });

  it('a token that expires between calls gets a clean 401 with the challenge, never a 500', async () => {
    const server = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url, AUTH_ISSUER: 'https://platform.example' });
    const bearer = await token({ sub: 'user_789', iss: 'https://platform.example', expiresIn: '2m' });
    const version = await session(server, bearer);
    expect((await postMcp(server.mcpUrl, invite(1, 'before@example.com'), headers(bearer, version))).status).toBe(200);

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 4 * 60_000); // past exp and the 60 s tolerance
    const after = await postMcp(server.mcpUrl, invite(2, 'after@example.com'), headers(bearer, version));
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toBe(
      'Bearer resource_metadata="http://mcp.test/.well-known/oauth-protected-resource/mcp", scope="portkey.invite", error="invalid_token", error_description="The token has expired"',
    );
    expect(after.json).toEqual({ error: 'invalid_token', error_description: 'The token has expired.' });
    expect(portkey.invites.map((i) => i.email)).toEqual(['before@example.com']);
    await server.close(100);
  });
});
