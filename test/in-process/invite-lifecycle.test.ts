/**
 * Issue 29: the rest of an invite's life (list_invites, cancel_invite, resend_invite) under the
 * same policy, limits and audit as invite_user, on Node and in workerd (this file runs in both).
 * The tenant "acme" may invite @example.com members into ws-eng and exposes all four tools;
 * "globex" names no tools, so it gets the default (invite_user and list_invites).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/server-config.js';
import { policyViolations } from '../../src/policy/policy.js';
import { inviteCall, postMcp, resultText, SECRETS, serverPool, token, type TestServer } from './harness.js';
import { startPortkeyDouble, type InProcessPortkeyDouble } from './portkey-double.js';

const start = serverPool();
let portkey: InProcessPortkeyDouble;
let server: TestServer;
let limited: TestServer;

const tenants = (baseUrl: string) =>
  JSON.stringify({
    acme: {
      apiKey: SECRETS.portkeyKey,
      baseUrl,
      allow: { orgRoles: ['member'], workspaces: ['ws-eng'], emailDomains: ['example.com'] },
      tools: ['invite_user', 'list_invites', 'cancel_invite', 'resend_invite'],
    },
    globex: { apiKey: SECRETS.portkeyKey, baseUrl },
  });

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  server = await start({ TENANTS: tenants(portkey.url) });
  limited = await start({ TENANTS: tenants(portkey.url), RATE_LIMIT_CALLER_PER_MINUTE: '2' });
});
afterAll(() => portkey.close());

let ids: Record<'ada' | 'boss' | 'eve' | 'bob' | 'fred', string>;
beforeEach(() => {
  portkey.reset();
  const seed = (email: string, role: string, ws: string) => portkey.seedInvite({ email, role, workspaces: [{ workspace_id: ws, role: 'member' }] }).id;
  ids = {
    ada: seed('ada@example.com', 'member', 'ws-eng'),
    boss: seed('boss@example.com', 'admin', 'ws-eng'),
    eve: seed('eve@attacker.example', 'member', 'ws-eng'),
    bob: seed('bob@example.com', 'member', 'ws-fin'),
    fred: seed('fred@example.com', 'member', 'ws-eng'),
  };
});

async function call(name: string, args: Record<string, unknown>, o: { tenant?: string; sub?: string; on?: TestServer; scope?: string } = {}) {
  const bearer = await token({ sub: o.sub ?? 'agent', claims: { org_id: o.tenant ?? 'acme' }, scope: o.scope ?? 'portkey.invite' });
  const res = await postMcp((o.on ?? server).mcpUrl, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }, { authorization: `Bearer ${bearer}` });
  return res.json.result as { isError?: boolean; content: { text: string }[]; structuredContent?: any };
}
const requests = (method: string) => portkey.requests.filter((r) => r.method === method);
const audits = (tool: string, on = server) => on.events(`audit.${tool}`);

describe('allow.emailDomains: whom may be invited is policy', () => {
  it('an invite to a domain outside the allowed ones is refused before Portkey hears of it, naming the allowed domains', async () => {
    const bearer = await token({ claims: { org_id: 'acme' } });
    const res = await postMcp(server.mcpUrl, inviteCall({ email: 'mallory@attacker.example', role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] }), { authorization: `Bearer ${bearer}` });
    expect(res.json.result.isError).toBe(true);
    expect(resultText(res.json.result)).toMatch(/the invitee's email domain "attacker\.example" is not allowed; allowed email domains: "example\.com"/);
    expect(requests('POST')).toEqual([]);
    expect(audits('invite_user').at(-1)).toMatchObject({ outcome: 'refused_by_policy', invitee: 'mallory@attacker.example' });
  });

  it('compares normalised domains: case, a trailing dot, and internationalised names (punycode) alike; *. means subdomains', () => {
    const allow = loadConfig({
      AUTH_JWT_SECRET: SECRETS.jwtSecret,
      TENANTS: JSON.stringify({ t: { apiKey: 'pk-x', allow: { emailDomains: ['Bücher.example', '*.corp.example'] } } }),
    }).tenants;
    const policy = allow.mode === 'multi' ? allow.tenants.get('t')!.allow : {};
    expect(policy.emailDomains).toEqual(['xn--bcher-kva.example', '*.corp.example']);
    const refused = (email: string) => policyViolations(policy, { email, role: 'member', workspaces: [] }).length > 0;
    expect(refused('a@BÜCHER.example')).toBe(false);
    expect(refused('a@xn--bcher-kva.example')).toBe(false);
    expect(refused('a@bücher.example.')).toBe(false);
    expect(refused('a@eu.corp.example')).toBe(false);
    expect(refused('a@corp.example')).toBe(true);
    expect(refused('a@bucher.example')).toBe(true);
    expect(refused('a@evil-corp.example')).toBe(true);
  });

  it('shows the allowed domains in tools/list, like the other rules', async () => {
    const bearer = await token({ claims: { org_id: 'acme' } });
    const res = await postMcp(server.mcpUrl, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${bearer}` });
    const invite = res.json.result.tools.find((t: { name: string }) => t.name === 'invite_user');
    expect(invite.description).toMatch(/invitee email domain "example\.com"/);
  });

  it('refuses an entry whose domain rule is not a domain, at start-up', () => {
    expect(() => loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, TENANTS: JSON.stringify({ t: { apiKey: 'pk-x', allow: { emailDomains: ['not a domain'] } } }) })).toThrow(
      /Tenant "t": allow\.emailDomains has 1 entry that is not a domain: write example\.com, or \*\.example\.com for its subdomains\./,
    );
  });
});

describe('invite_user beside them', () => {
  it('"already invited" names an invite that grants no workspace as such, not as an empty list', async () => {
    const args = { email: 'solo@example.com', role: 'member', workspaces: [] };
    await call('invite_user', args, { tenant: 'globex' });
    const again = await call('invite_user', args, { tenant: 'globex' });
    expect(again.isError).toBe(true);
    expect(resultText(again)).toMatch(/\(role member, no workspaces, created /);
  });
});

describe('list_invites', () => {
  it("lists only the invites the caller's policy covers, by the caller's workspace slugs, and says how many it left out", async () => {
    const result = await call('list_invites', {});
    expect(result.isError, result.content[0]?.text).toBeFalsy();
    const listed = result.structuredContent;
    expect(listed.invites.map((i: { email: string }) => i.email).sort()).toEqual(['ada@example.com', 'fred@example.com']);
    expect(listed.invites[0]).toMatchObject({ role: 'member', status: 'pending', workspaces: [{ id: 'ws-eng', role: 'member' }], created_at: expect.any(String), expires_at: expect.any(String) });
    expect(listed.left_out).toBe(3);
    expect(resultText(result)).toMatch(/3 more on this page are outside what your organisation's policy lets you see/);
    // Emails the policy does not cover appear nowhere in the answer.
    for (const hidden of ['boss@example.com', 'eve@attacker.example', 'bob@example.com']) expect(JSON.stringify(result)).not.toContain(hidden);
    expect(audits('list_invites').at(-1)).toMatchObject({ outcome: 'listed', left_out: 3, tenant: 'acme' });
  });

  it('pages: one bounded page per call, and next_page to ask for the next', async () => {
    const first = (await call('list_invites', { page_size: 2 })).structuredContent;
    expect(first).toMatchObject({ page: 0, page_size: 2, next_page: 1 });
    const last = (await call('list_invites', { page: 2, page_size: 2 })).structuredContent;
    expect(last.next_page).toBeUndefined();
    expect(portkey.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/admin/users/invites?')).at(-1)!.path).toMatch(/pageSize=2&currentPage=2/);
  });

  it('invalid input is refused with the field named, and audited', async () => {
    const result = await call('list_invites', { page_size: 500 });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/Invalid arguments for tool list_invites: .*page_size/);
    expect(audits('list_invites').at(-1)).toMatchObject({ outcome: 'invalid_input', invalid_fields: ['page_size'] });
  });
});

describe('cancel_invite', () => {
  it('cancels an invite the caller could have made; repeating it changes nothing more', async () => {
    const result = await call('cancel_invite', { invite_id: ids.ada });
    expect(result.isError, result.content[0]?.text).toBeFalsy();
    expect(result.structuredContent).toEqual({ invite_id: ids.ada, status: 'cancelled', already_cancelled: false, confirmed_by_read: false });
    expect(portkey.invites.find((i) => i.id === ids.ada)!.status).toBe('cancelled');
    const again = await call('cancel_invite', { invite_id: ids.ada });
    expect(again.structuredContent).toMatchObject({ already_cancelled: true });
    expect(requests('DELETE')).toHaveLength(1);
    expect(audits('cancel_invite').slice(-2).map((a) => a.outcome)).toEqual(['cancelled', 'already_cancelled']);
  });

  it.each([
    ['an org-admin invite', 'boss', /org role "admin"/],
    ["another domain's invite", 'eve', /email domain/],
    ['an invite into a workspace the policy does not allow', 'bob', /workspace your organisation's policy does not allow/],
  ] as const)('refuses %s, and sends nothing', async (_what, who, why) => {
    const result = await call('cancel_invite', { invite_id: ids[who] });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(why);
    expect(resultText(result)).toMatch(/outside what your organisation's policy lets you manage/);
    expect(requests('DELETE')).toEqual([]);
    expect(audits('cancel_invite').at(-1)).toMatchObject({ outcome: 'refused_by_policy' });
  });

  it('an unknown id is invite_not_found', async () => {
    const result = await call('cancel_invite', { invite_id: '00000000-0000-4000-8000-000000000000' });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/There is no invite .* in this organisation: nothing was cancelled/);
    expect(audits('cancel_invite').at(-1)).toMatchObject({ outcome: 'invite_not_found' });
  });

  it('a lost DELETE answer is settled by reading the invite back: cancelled, or still pending (never guessed)', async () => {
    portkey.failNextDelete({ kind: 'create-then', then: { kind: 'drop' } });
    const lost = await call('cancel_invite', { invite_id: ids.ada });
    expect(lost.isError, lost.content[0]?.text).toBeFalsy();
    expect(lost.structuredContent).toMatchObject({ confirmed_by_read: true });
    expect(audits('cancel_invite').at(-1)).toMatchObject({ outcome: 'cancelled_confirmed' });

    portkey.failNextDelete({ kind: 'drop' });
    const notDone = await call('cancel_invite', { invite_id: ids.fred });
    expect(notDone.isError).toBe(true);
    expect(resultText(notDone)).toMatch(/shows the invite .* still pending: it was not cancelled\. Call cancel_invite again\./);
    expect(requests('DELETE')).toHaveLength(2);
  });

  it('a tenant that does not expose cancel_invite never sees it, and a call to it is refused like an unknown tool', async () => {
    const bearer = await token({ claims: { org_id: 'globex' } });
    const list = await postMcp(server.mcpUrl, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${bearer}` });
    expect(list.json.result.tools.map((t: { name: string }) => t.name)).toEqual(['invite_user', 'list_invites']);
    const acme = await postMcp(server.mcpUrl, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { authorization: `Bearer ${await token({ claims: { org_id: 'acme' } })}` });
    expect(acme.json.result.tools.map((t: { name: string }) => t.name)).toEqual(['invite_user', 'list_invites', 'cancel_invite', 'resend_invite']);
    const result = await call('cancel_invite', { invite_id: ids.ada }, { tenant: 'globex' });
    const unknown = await call('no_such_tool', {}, { tenant: 'globex' });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toBe(resultText(unknown).replace('no_such_tool', 'cancel_invite'));
    expect(requests('DELETE')).toEqual([]);
  });

  it('a tenant entry that exposes no tool at all is refused at start-up (it could only ever answer "not found")', () => {
    expect(() => loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, TENANTS: JSON.stringify({ t: { apiKey: 'pk-x', tools: [] } }) })).toThrow('Tenant "t": tools: must not be empty.');
  });

  it("a caller whose tenant cannot be resolved is told why, not that the tool does not exist", async () => {
    const result = await call('cancel_invite', { invite_id: ids.ada }, { tenant: 'initech' });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/Tenant "initech" .*is not configured on this server/);
    expect(audits('cancel_invite').at(-1)).toMatchObject({ outcome: 'tenant_not_configured' });
    expect(requests('DELETE')).toEqual([]);
  });
});

describe('resend_invite', () => {
  it('resends a covered invite (another email, with its link) and is rate limited like an invite', async () => {
    const sub = `resender-${Math.random()}`;
    const first = await call('resend_invite', { invite_id: ids.fred }, { on: limited, sub });
    expect(first.isError, first.content[0]?.text).toBeFalsy();
    expect(first.structuredContent).toMatchObject({ invite_id: ids.fred, email: 'fred@example.com', invite_link: expect.stringMatching(/^https:\/\//) });
    expect(portkey.invites.find((i) => i.id === ids.fred)!.resent).toBe(1);
    const bearer = await token({ sub, claims: { org_id: 'acme' } });
    const invite = await postMcp(limited.mcpUrl, inviteCall({ email: 'newbie@example.com', role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] }), { authorization: `Bearer ${bearer}` });
    expect(invite.json.result.isError, resultText(invite.json.result)).toBeFalsy();
    // The third call of this caller within the minute: refused whichever tool it is.
    const third = await call('resend_invite', { invite_id: ids.fred }, { on: limited, sub });
    expect(third.isError).toBe(true);
    expect(resultText(third)).toMatch(/Too many/);
    expect(portkey.invites.find((i) => i.id === ids.fred)!.resent).toBe(1);
    expect(audits('resend_invite', limited).slice(-2).map((a) => a.outcome)).toEqual(['resent', 'rate_limited']);
  });

  it('refuses an invite outside the policy, and a cancelled one, sending no email', async () => {
    expect(resultText(await call('resend_invite', { invite_id: ids.boss }))).toMatch(/outside what your organisation's policy lets you manage/);
    await call('cancel_invite', { invite_id: ids.ada });
    const cancelled = await call('resend_invite', { invite_id: ids.ada });
    expect(resultText(cancelled)).toMatch(/is cancelled: only a pending or expired invite can be resent\. No email was sent\./);
    expect(portkey.requests.filter((r) => r.path.endsWith('/resend'))).toEqual([]);
  });
});
