/**
 * Issue 20: the lookup after a lost answer matches honestly. An invite is this call's only if it
 * was created inside [call start − 10 s, lookup + 10 s], for the same email and org role, and its
 * workspaces match in one form (Portkey lists ids, the request names slugs); grants the listing
 * does not show are said to be unconfirmed, never claimed; two calls of one server never report
 * the same invite; a 409 for the caller's own earlier attempt never advises cancelling it.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, connectClient, resultText, serverPool, token, type TestServer } from './support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const TIMEOUT_MS = 400;
const LATE_MS = 3000;

let portkey: PortkeyDouble;
let server: TestServer;
let client: Client;
const startServer = serverPool();
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  server = await startServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url, PORTKEY_TIMEOUT_MS: String(TIMEOUT_MS) });
  client = await connectClient(server.mcpUrl, await token({ scope: 'portkey.invite portkey.invite.admin' }));
});
afterEach(() => portkey.reset());
afterAll(async () => {
  await client.close();
  await portkey.close();
});

interface Result {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
}
let seq = 0;
const freshEmail = (label: string) => `${label}-${++seq}@example.com`;
const call = async (args: Record<string, unknown>) => (await client.callTool({ name: 'invite_user', arguments: args })) as Result & { content: unknown };
const auditOf = (email: string) => server.events('audit.invite_user').filter((e) => e.invitee === email);
const ENG = [{ id: 'ws-eng', role: 'member' }];

describe('the time window is bounded on both sides', () => {
  it.each([
    ['stamped in the future (2099-01-01 00:00:00)', new Date('2099-01-01T00:00:00Z')],
    ['stamped 90 s before the call', new Date(Date.now() - 90_000)],
  ])('a matching pending invite %s is not this call\'s', async (_label, createdAt) => {
    const email = freshEmail('window');
    // Same email, role and (no) workspaces: only the time can tell it is someone else's.
    portkey.seedInvite({ email, role: 'member', workspaces: [], createdAt });
    portkey.failNext({ kind: 'hang', ms: LATE_MS });
    const result = await call({ email, role: 'member', workspaces: [] });
    expect(result.isError, resultText(result)).toBe(true);
    expect(resultText(result)).toMatch(/no pending invite for .* that could be this call's/);
    expect(auditOf(email)).toEqual([expect.objectContaining({ outcome: 'not_found_after_timeout', invite_id: null, reconcile: 'no_match' })]);
  });

  it('an old invite whose workspaces the listing does not show (Portkey\'s example: workspace_id "") is not this call\'s', async () => {
    const email = freshEmail('old-hidden');
    portkey.setListedWorkspaces('example');
    portkey.seedInvite({ email, role: 'admin', createdAt: new Date(Date.now() - 90_000) });
    portkey.failNext({ kind: 'hang', ms: LATE_MS });
    const result = await call({ email, role: 'admin', workspaces: [{ id: 'ws-finance', role: 'admin' }], workspace_api_key_details: { scopes: ['logs.view'] } });
    expect(result.isError).toBe(true);
    expect(auditOf(email)[0]).toMatchObject({ outcome: 'not_found_after_timeout', unconfirmed_grants: null });
  }, 15_000);
});

describe('workspaces compared in one form', () => {
  it("the call's own invite, listed with workspace UUIDs for a slug request, is confirmed (each slug read once)", async () => {
    const email = freshEmail('uuid');
    portkey.failNext({ kind: 'create-then', then: { kind: 'drop' } });
    const result = await call({ email, role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }, { id: 'ws-ops', role: 'admin' }] });
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ invite_id: portkey.invites[0]!.id, invite_status: 'pending' });
    expect(result.structuredContent!.unconfirmed_grants).toBeUndefined();
    const workspaceReads = portkey.requests.filter((r) => r.path.startsWith('/v1/admin/workspaces/')).map((r) => r.path).sort();
    expect(workspaceReads).toEqual(['/v1/admin/workspaces/ws-eng', '/v1/admin/workspaces/ws-ops']);
    expect(auditOf(email)).toEqual([expect.objectContaining({ outcome: 'invited_confirmed', unconfirmed_grants: [] })]);
  });

  it('a request with no workspaces does not match an invite granting ws-eng:admin', async () => {
    const email = freshEmail('none-vs-eng');
    portkey.seedInvite({ email, role: 'member', workspaces: [{ workspace_id: 'ws-eng', role: 'admin' }] });
    portkey.failNext({ kind: 'hang', ms: LATE_MS });
    const result = await call({ email, role: 'member', workspaces: [] });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/it grants workspaces .*:admin, and this call asked for none/);
  });
});

describe('grants the listing does not show are named, never claimed', () => {
  it.each(['example', 'hidden'] as const)('listing mode %s: confirmed, with the workspaces and the API key named as unconfirmed, in the answer and the audit line', async (mode) => {
    const email = freshEmail(`hidden-${mode}`);
    portkey.setListedWorkspaces(mode);
    portkey.failNext({ kind: 'create-then', then: { kind: 'drop' } });
    const result = await call({ email, role: 'admin', workspaces: [{ id: 'ws-finance', role: 'admin' }], workspace_api_key_details: { scopes: ['logs.view', 'completions.write'] } });
    expect(result.isError, resultText(result)).toBeFalsy();
    const unconfirmed = ['the workspaces ws-finance:admin', 'the workspace API key (scopes logs.view, completions.write)'];
    expect(result.structuredContent!.unconfirmed_grants).toEqual(unconfirmed);
    expect(JSON.parse(resultText(result)).message).toContain(`Portkey's listing does not show ${unconfirmed.join(' or ')}, so those could not be confirmed`);
    expect(auditOf(email)).toEqual([expect.objectContaining({ outcome: 'invited_confirmed', workspaces: ['ws-finance:admin'], unconfirmed_grants: unconfirmed })]);
  }, 15_000);
});

describe('one invite is reported by one call', () => {
  it('two concurrent calls for one email whose answers are both lost: one is confirmed, the other says another call took it', async () => {
    const email = freshEmail('concurrent');
    // The first POST creates the invite and its answer is lost; the second creates nothing and times out.
    portkey.failNext({ kind: 'create-then', then: { kind: 'delay', ms: LATE_MS } }, { kind: 'hang', ms: LATE_MS });
    const results = await Promise.all([call({ email, role: 'member', workspaces: ENG }), call({ email, role: 'member', workspaces: ENG })]);
    expect(portkey.invites).toHaveLength(1);
    expect(results.filter((r) => !r.isError)).toHaveLength(1);
    const refused = results.find((r) => r.isError)!;
    expect(resultText(refused)).toContain('another call to this server already reported it as its own');
    expect(auditOf(email).map((l) => l.outcome).sort()).toEqual(['invited_confirmed', 'not_found_after_timeout']);
  });
});

describe('409 for what is probably the caller\'s own earlier attempt', () => {
  it('listed by UUID: "most likely your own earlier attempt", never "cancel"', async () => {
    const email = freshEmail('own-409');
    expect((await call({ email, role: 'member', workspaces: ENG })).isError).toBeFalsy();
    const again = await call({ email, role: 'member', workspaces: ENG });
    expect(again.isError).toBe(true);
    expect(resultText(again)).toContain('most likely your own earlier attempt');
    expect(resultText(again)).not.toMatch(/cancel/i);
  });

  it('workspaces not shown: still no "cancel", and says what could not be compared', async () => {
    const email = freshEmail('own-409-hidden');
    expect((await call({ email, role: 'member', workspaces: ENG })).isError).toBeFalsy();
    portkey.setListedWorkspaces('hidden');
    const again = await call({ email, role: 'member', workspaces: ENG });
    expect(resultText(again)).toMatch(/matches this request as far as the listing shows, so it is most likely your own earlier attempt/);
    expect(resultText(again)).toContain("Portkey's listing does not show the workspaces ws-eng:member");
    expect(resultText(again)).not.toMatch(/cancel/i);
  });
});

describe('advice by Portkey errorCode', () => {
  it.each([
    [404, 'AB02', /AB02, request validation/],
    [404, 'AB08', /AB08, not found\): check the workspace ids or slugs/],
    [401, 'AB05', /wrong, revoked or expired, or it lacks the permission to invite users/],
  ])('HTTP %s %s', async (status, errorCode, advice) => {
    const email = freshEmail('advice');
    portkey.failNext({ kind: 'status', status, body: { success: false, data: { message: 'Refused', errorCode } } });
    const result = await call({ email, role: 'member', workspaces: ENG });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(advice);
  });
});
