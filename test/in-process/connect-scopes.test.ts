/**
 * Issue 28 items 1 and 3: what a client is asked for at connect time (AUTH_CONNECT_SCOPES), and
 * several accepted audiences (AUTH_AUDIENCE). Claude's clients request exactly the first 401's
 * `scope` (else `scopes_supported`), so an admin can only ever hold the admin scope if it is asked
 * for there; enforcement stays as it was.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/server-config.js';
import { inviteCall, PUBLIC_URL, postMcp, recordingFetch, SECRETS, serverPool, token } from './harness.js';
import { startPortkeyDouble } from './portkey-double.js';

const start = serverPool();
const ISSUER = 'https://issuer.test';
const TOOLS_LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
const scopeOf = (challenge: string | null) => /scope="([^"]*)"/.exec(challenge ?? '')?.[1];

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('AUTH_CONNECT_SCOPES', () => {
  it('by default the first 401 asks for the required scopes only, and scopes_supported lists them first', async () => {
    const server = await start({ AUTH_ISSUER: ISSUER });
    const res = await postMcp(server.mcpUrl, TOOLS_LIST);
    expect(res.status).toBe(401);
    expect(scopeOf(res.headers.get('www-authenticate'))).toBe('portkey.invite');
    const prm = await (await recordingFetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(prm.scopes_supported).toEqual(['portkey.invite', 'portkey.invite.admin']);
  });

  it('names what every 401 asks for (no token, a malformed header, a refused token), and comes first in scopes_supported', async () => {
    const server = await start({ AUTH_ISSUER: ISSUER, AUTH_CONNECT_SCOPES: 'portkey.invite.admin portkey.invite' });
    const answers = [
      await postMcp(server.mcpUrl, TOOLS_LIST),
      await postMcp(server.mcpUrl, TOOLS_LIST, { authorization: 'Bearer' }),
      await postMcp(server.mcpUrl, TOOLS_LIST, { authorization: `Bearer ${await token({ aud: 'https://elsewhere.test/mcp' })}` }),
    ];
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(scopeOf(res.headers.get('www-authenticate'))).toBe('portkey.invite.admin portkey.invite');
    }
    const prm = await (await recordingFetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(prm.scopes_supported).toEqual(['portkey.invite.admin', 'portkey.invite']);
  });

  it('does not change enforcement: a token without the admin scope still cannot invite an org admin', async () => {
    const portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
    const server = await start({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url, AUTH_CONNECT_SCOPES: 'portkey.invite portkey.invite.admin' });
    const res = await postMcp(server.mcpUrl, inviteCall({ email: 'boss@example.com', role: 'admin', workspaces: [] }), {
      authorization: `Bearer ${await token({ scope: 'portkey.invite' })}`,
    });
    expect(res.status === 403 || res.json?.result?.isError === true, res.text).toBe(true);
    expect(portkey.requests).toHaveLength(0);
    await portkey.close();
  });

  it('refuses at start-up a scope the server does not know, or one that leaves out a required scope', () => {
    expect(problems({ AUTH_CONNECT_SCOPES: 'portkey.invite portkey.admin' })).toEqual([
      expect.stringMatching(/^AUTH_CONNECT_SCOPES names "portkey\.admin", which this server does not know: use scopes from AUTH_REQUIRED_SCOPES and AUTH_ADMIN_SCOPE \(portkey\.invite portkey\.invite\.admin\)\.$/),
    ]);
    expect(problems({ AUTH_CONNECT_SCOPES: 'portkey.invite.admin' })).toEqual([
      expect.stringMatching(/^AUTH_CONNECT_SCOPES leaves out the required scope\(s\) portkey\.invite: .*AUTH_CONNECT_SCOPES="portkey\.invite portkey\.invite\.admin"\.$/),
    ]);
  });
});

describe('AUTH_AUDIENCE with several audiences', () => {
  const AUDIENCES = `${PUBLIC_URL}/mcp, ${PUBLIC_URL}`;

  it('accepts a token naming any one of them, refuses one naming none, and the metadata keeps one resource', async () => {
    const server = await start({ AUTH_ISSUER: ISSUER, AUTH_AUDIENCE: AUDIENCES });
    for (const aud of [`${PUBLIC_URL}/mcp`, PUBLIC_URL]) {
      const res = await postMcp(server.mcpUrl, TOOLS_LIST, { authorization: `Bearer ${await token({ aud, iss: ISSUER })}` });
      expect(res.status, aud).toBe(200);
    }
    const other = await postMcp(server.mcpUrl, TOOLS_LIST, { authorization: `Bearer ${await token({ aud: 'https://old.example/mcp', iss: ISSUER })}` });
    expect(other.status).toBe(401);
    const prm = await (await recordingFetch(`${server.url}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(prm.resource).toBe(`${PUBLIC_URL}/mcp`);
  });

  it('is read as a list like the other list settings', () => {
    expect(loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, AUTH_AUDIENCE: 'https://a.example/mcp,https://b.example/mcp' }).auth.audiences).toEqual([
      'https://a.example/mcp',
      'https://b.example/mcp',
    ]);
    expect(loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret }).auth.audiences).toEqual(['http://localhost:8787/mcp']);
  });
});
