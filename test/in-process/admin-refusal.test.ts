/**
 * Issue 28 item 2: an admin invite refused for want of the admin scope tells the person what to do,
 * in what each client shows. Clients that step up (the SDKs' OAuth clients) get the 403 scope
 * challenge; Claude's clients, which never act on a 403, get the same advice as a tool result.
 */
import { describe, expect, it } from 'vitest';
import { inviteCall, portkeyServer, postMcp, resultText } from './harness.js';
import type { PortkeyDouble } from './portkey-double.js';

const ADMIN_INVITE = inviteCall({ email: 'boss@example.com', role: 'admin', workspaces: [] });
let portkey: PortkeyDouble;

/** The fixture (a Portkey double, a server using it, a token for it), then one admin invite without the admin scope. */
async function adminInvite(env: Record<string, string>, headers: Record<string, string>) {
  const fixture = await portkeyServer(env);
  portkey = fixture.portkey;
  const res = await postMcp(fixture.server.mcpUrl, ADMIN_INVITE, { authorization: `Bearer ${await fixture.token({ scope: 'portkey.invite' })}`, ...headers });
  const audit = fixture.server.events('audit.invite_user');
  await fixture.close();
  return { res, audit };
}

describe('an admin invite without the admin scope', () => {
  it.each([
    ['Claude Code (its User-Agent)', { 'user-agent': 'claude-code/2.1.204 (cli)' }],
    ['Claude Code (its session header)', { 'x-claude-code-session-id': 'a1b2', 'user-agent': 'node' }],
    ['claude.ai, Claude Desktop and Cowork connectors (no User-Agent)', { 'user-agent': '' }],
  ])('from %s: a tool result naming the scope, that reconnecting will not help here, and what to do instead', async (_client, headers) => {
    const { res, audit } = await adminInvite({}, headers);
    expect(res.status).toBe(200);
    const result = res.json.result;
    expect(result.isError).toBe(true);
    const text = resultText(result);
    expect(text).toMatch(/^Inviting an organisation admin needs the "portkey\.invite\.admin" scope, which your token lacks, so nothing was sent to Portkey\./);
    expect(text).toMatch(/Reconnecting will not help: this server does not ask for that scope when a client connects \(its operator can add it to AUTH_CONNECT_SCOPES/);
    expect(text).toMatch(/invite the person as a member \(role "member"\)/);
    expect(portkey.requests).toEqual([]);
    expect(audit).toEqual([expect.objectContaining({ outcome: 'step_up_required', org_role: 'admin', invitee: 'boss@example.com' })]);
  });

  it('when the server asks for the admin scope at connect time, the advice is to reconnect', async () => {
    const { res } = await adminInvite({ AUTH_CONNECT_SCOPES: 'portkey.invite portkey.invite.admin' }, { 'user-agent': 'claude-code/2.1.204 (cli)' });
    expect(resultText(res.json.result)).toMatch(/This server asks for that scope when a client connects: disconnect and reconnect \(sign in again\) to get it, if your account may hold it/);
  });

  it('from a client that steps up (any other User-Agent): the 403 scope challenge, with the same advice in error_description', async () => {
    const { res, audit } = await adminInvite({}, { 'user-agent': 'node' });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toContain('scope="portkey.invite portkey.invite.admin"');
    expect(res.json).toMatchObject({ error: 'insufficient_scope', error_description: expect.stringMatching(/Reconnecting will not help.*invite the person as a member/) });
    expect(portkey.requests).toEqual([]);
    expect(audit).toEqual([expect.objectContaining({ outcome: 'step_up_required' })]);
  });
});
