/**
 * Issue 28 item 5: a Claude-shaped client end to end, offline. It behaves as Claude's connectors
 * are reported to behave in 2026 (claude-code#44652, claude-ai-mcp#680, #299, #931): it requests
 * exactly the scopes the first 401's challenge names (else the metadata's scopes_supported), sends
 * the metadata's `resource` verbatim as the RFC 8707 resource, registers dynamically as a public
 * client with Claude's callback URL, and never acts on a 403. The authorization server grants per
 * user (oidc-provider without a consent prompt, each account holding its own scopes), so with
 * AUTH_CONNECT_SCOPES asking for the admin scope an admin holds it from the first connection and
 * a member's token quietly lacks it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, freePort, inviteCall, postMcp, recordingFetch, rememberSecret, resultText, startTestServer, type TestServer } from './support/harness.js';
import { completeAuthorization, startOidcProvider, type TestOidcProvider } from './support/oidc-provider.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const CLAUDE_CALLBACK = 'https://claude.ai/api/mcp/auth_callback';
/** What Claude Code sends (claude.ai's connectors send no User-Agent at all; both are told apart from stepping clients). */
const CLAUDE_UA = 'claude-code/2.1.204 (cli)';
const MACHINE = { clientId: 'e2e-machine', clientSecret: `machine-SECRET-${randomBytes(8).toString('hex')}`, scope: 'portkey.invite' };
rememberSecret(MACHINE.clientSecret);

let portkey: PortkeyDouble;
let as: TestOidcProvider;
let server: TestServer;
let mcpUrl: string;

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  mcpUrl = `${publicUrl}/mcp`;
  as = await startOidcProvider({
    resource: mcpUrl,
    tenant: 'acme',
    machineClient: MACHINE,
    grantsPerUser: { 'ada-admin': ['portkey.invite', 'portkey.invite.admin'], 'max-member': ['portkey.invite'] },
  });
  server = await startTestServer({
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    AUTH_JWT_SECRET: undefined,
    AUTH_JWKS_URL: as.metadata.jwks_uri,
    AUTH_ISSUER: as.issuer,
    AUTH_CONNECT_SCOPES: 'portkey.invite portkey.invite.admin',
    PORTKEY_API_KEY: SECRETS.portkeyKey,
    PORTKEY_BASE_URL: portkey.url,
  });
});
afterAll(async () => {
  await server?.close(100);
  await as?.close();
  await portkey?.close();
});

/** Connects as Claude does, signing in as `accountId`; returns the access token and what it asked for. */
async function connectLikeClaude(accountId: string): Promise<{ accessToken: string; askedScope: string; resource: string }> {
  const first = await postMcp(mcpUrl, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'claude-ai', version: '1' } } }, { 'user-agent': CLAUDE_UA });
  expect(first.status).toBe(401);
  const challenge = first.headers.get('www-authenticate') ?? '';
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
  const prm = (await (await recordingFetch(metadataUrl)).json()) as { resource: string; authorization_servers: string[]; scopes_supported?: string[] };
  const askedScope = /scope="([^"]+)"/.exec(challenge)?.[1] ?? (prm.scopes_supported ?? []).join(' ');
  const issuer = prm.authorization_servers[0]!;
  const asMetadata = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;

  const registration = (await (
    await fetch(asMetadata.registration_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Claude', redirect_uris: [CLAUDE_CALLBACK], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }),
    })
  ).json()) as { client_id: string };

  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(asMetadata.authorization_endpoint!);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: registration.client_id,
    redirect_uri: CLAUDE_CALLBACK,
    scope: askedScope,
    resource: prm.resource, // verbatim
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
  })) {
    authorize.searchParams.set(k, v);
  }
  const { code } = await completeAuthorization(authorize, { redirectUri: CLAUDE_CALLBACK, accountId });
  const tokens = (await (
    await fetch(asMetadata.token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CLAUDE_CALLBACK, client_id: registration.client_id, code_verifier: verifier, resource: prm.resource }),
    })
  ).json()) as { access_token: string };
  rememberSecret(tokens.access_token);
  return { accessToken: tokens.access_token, askedScope, resource: prm.resource };
}

const adminInvite = (email: string) => inviteCall({ email, role: 'admin', workspaces: [] });

describe('a Claude-shaped client against an authorization server that grants per user', () => {
  it('an admin connecting with the admin scope among the connect-time scopes invites an org admin', async () => {
    const { accessToken, askedScope, resource } = await connectLikeClaude('ada-admin');
    expect(askedScope).toBe('portkey.invite portkey.invite.admin');
    expect(resource).toBe(mcpUrl);
    const claims = decodeJwt(accessToken);
    expect(claims.aud).toBe(mcpUrl);
    expect(String(claims.scope).split(' ').sort()).toEqual(['portkey.invite', 'portkey.invite.admin']);
    portkey.reset();
    const res = await postMcp(mcpUrl, adminInvite('new-admin@example.com'), { authorization: `Bearer ${accessToken}`, 'user-agent': CLAUDE_UA });
    expect(res.status).toBe(200);
    expect(res.json.result.isError, resultText(res.json.result)).toBeFalsy();
    expect(res.json.result.structuredContent).toMatchObject({ email: 'new-admin@example.com', role: 'admin' });
    expect(portkey.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('a member connecting the same way gets a token without it, and a refusal it can read (never a 403 it would drop)', async () => {
    const { accessToken, askedScope } = await connectLikeClaude('max-member');
    expect(askedScope).toBe('portkey.invite portkey.invite.admin');
    expect(String(decodeJwt(accessToken).scope).split(' ')).toEqual(['portkey.invite']);
    portkey.reset();
    const res = await postMcp(mcpUrl, adminInvite('would-be-admin@example.com'), { authorization: `Bearer ${accessToken}`, 'user-agent': CLAUDE_UA });
    expect(res.status).toBe(200);
    expect(res.json.result.isError).toBe(true);
    expect(resultText(res.json.result)).toMatch(
      /needs the "portkey\.invite\.admin" scope.*This server asks for that scope when a client connects: disconnect and reconnect.*if your account may hold it.*invite the person as a member/,
    );
    expect(portkey.requests).toEqual([]);
    // The member can still do what a member may.
    const member = await postMcp(mcpUrl, inviteCall({ email: 'colleague@example.com', role: 'member', workspaces: [] }), { authorization: `Bearer ${accessToken}`, 'user-agent': CLAUDE_UA });
    expect(member.json.result.isError, resultText(member.json.result)).toBeFalsy();
  });

  it('a spec-following client with the same member token still gets the 403 scope challenge to step up with', async () => {
    const { accessToken } = await connectLikeClaude('max-member');
    const res = await postMcp(mcpUrl, adminInvite('would-be-admin@example.com'), { authorization: `Bearer ${accessToken}` });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="portkey\.invite portkey\.invite\.admin"|scope="portkey\.invite portkey\.invite\.admin".*error="insufficient_scope"/);
    // The SDK's OAuth client acting on this 403 end to end: test/oauth-e2e.test.ts ("step-up").
  });
});
