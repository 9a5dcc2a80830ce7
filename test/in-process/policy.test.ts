import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { matchesPattern, policyViolations, type Grant } from '../../src/policy/policy.js';
import type { TenantPolicy } from '../../src/tenants/tenant-table.js';
import { SECRETS, inviteCall, postMcp, resultText, startTestServer, token, type TestServer } from './harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './portkey-double.js';

const grant = (g: Partial<Grant> = {}): Grant => ({ role: 'member', workspaces: [], ...g });
const ws = (id: string, role = 'member') => ({ id, role });

describe('policyViolations (pure)', () => {
  it('absent rules leave everything unrestricted', () => {
    const everything = grant({
      role: 'admin',
      workspaces: [ws('ws-anything', 'admin'), ws('ws-else', 'manager')],
      workspace_api_key_details: { scopes: ['*', 'keys.delete'] },
    });
    expect(policyViolations({}, everything)).toEqual([]);
    expect(policyViolations({}, grant())).toEqual([]);
  });

  describe('orgRoles', () => {
    it.each([
      [['member'], 'member', []],
      [['admin', 'member'], 'admin', []],
      [['member'], 'admin', ['role "admin" is not allowed; allowed org roles: "member"']],
      [[], 'member', ['role "member" is not allowed; allowed org roles: ']],
    ])('allow %j, role %j -> %j', (orgRoles, role, expected) => {
      expect(policyViolations({ orgRoles }, grant({ role }))).toEqual(expected);
    });
  });

  describe('workspaces', () => {
    const allow: TenantPolicy = { workspaces: ['ws-ops', 'ws-eng-*'] };
    const denied = (ids: string[]) => [`workspace(s) ${ids.map((i) => JSON.stringify(i)).join(', ')} not allowed; allowed workspaces: "ws-ops", "ws-eng-*"`];

    it.each([
      ['an exact match', ['ws-ops'], []],
      ['a wildcard match', ['ws-eng-web'], []],
      ['a wildcard match with more dashes', ['ws-eng-web-prod'], []],
      ['exact and wildcard together', ['ws-ops', 'ws-eng-api'], []],
      ['a longer id than an exact pattern', ['ws-ops-2'], denied(['ws-ops-2'])],
      ['a prefix of an exact pattern', ['ws-op'], denied(['ws-op'])],
      ['an id equal to the wildcard stem without its dash', ['ws-eng'], denied(['ws-eng'])],
      ['an id that only shares a prefix', ['ws-engineering'], denied(['ws-engineering'])],
      ['an id containing the stem later on', ['x-ws-eng-web'], denied(['x-ws-eng-web'])],
      ['a different case', ['WS-OPS'], denied(['WS-OPS'])],
      ['several outside ids, reported in one rule', ['ws-fin', 'ws-ops', 'ws-hr'], denied(['ws-fin', 'ws-hr'])],
    ])('%s: %j', (_label, ids, expected) => {
      expect(policyViolations(allow, grant({ workspaces: ids.map((id) => ws(id)) }))).toEqual(expected);
    });

    it('an empty list is refused under a workspace restriction (Portkey would pick the shared workspace)', () => {
      expect(policyViolations(allow, grant({ workspaces: [] }))).toEqual([
        'workspaces must name at least one workspace; allowed workspaces: "ws-ops", "ws-eng-*"',
      ]);
    });

    it('an empty list is fine without a workspace restriction', () => {
      expect(policyViolations({ orgRoles: ['member'], workspaceRoles: ['member'] }, grant({ workspaces: [] }))).toEqual([]);
    });

    it('a lone "*" allows any workspace but still needs one', () => {
      expect(policyViolations({ workspaces: ['*'] }, grant({ workspaces: [ws('anything')] }))).toEqual([]);
      expect(policyViolations({ workspaces: ['*'] }, grant({ workspaces: [] }))).toHaveLength(1);
    });
  });

  describe('matchesPattern', () => {
    it.each([
      ['ws-eng-a', 'ws-eng-*', true],
      ['ws-eng-', 'ws-eng-*', true],
      ['ws-eng', 'ws-eng-*', false],
      ['ws-a', 'ws-a', true],
      ['ws-ab', 'ws-a', false],
      // Only a trailing "*" is a wildcard; anywhere else it is a literal character.
      ['ws-x-prod', 'ws-*-prod', false],
      ['ws-*-prod', 'ws-*-prod', true],
    ])('%j against %j -> %s', (value, pattern, expected) => {
      expect(matchesPattern(value, pattern)).toBe(expected);
    });
  });

  describe('workspaceRoles', () => {
    const allow: TenantPolicy = { workspaceRoles: ['member', 'manager'] };
    it.each([
      ['allowed roles', [ws('a', 'member'), ws('b', 'manager')], []],
      ['one bad role', [ws('a', 'member'), ws('b', 'admin')], ['workspace role(s) "b: admin" not allowed; allowed workspace roles: "member", "manager"']],
      ['two bad roles', [ws('a', 'admin'), ws('b', 'admin')], ['workspace role(s) "a: admin", "b: admin" not allowed; allowed workspace roles: "member", "manager"']],
      ['no workspaces', [], []],
    ])('%s', (_label, workspaces, expected) => {
      expect(policyViolations(allow, grant({ workspaces }))).toEqual(expected);
    });
  });

  describe('apiKeyScopes', () => {
    const allow: TenantPolicy = { apiKeyScopes: ['logs.view', 'completions.*'] };
    it.each<[string, Grant['workspace_api_key_details'], string[]]>([
      ['no API key requested', undefined, []],
      ['exact and wildcard scopes', { scopes: ['logs.view', 'completions.write', 'completions.read'] }, []],
      ['a scope outside', { scopes: ['logs.view', 'keys.delete'] }, ['API key scope(s) "keys.delete" not allowed; allowed API key scopes: "logs.view", "completions.*"']],
      ['a broader wildcard than allowed', { scopes: ['*'] }, ['API key scope(s) "*" not allowed; allowed API key scopes: "logs.view", "completions.*"']],
      ['a prefix of an exact scope', { scopes: ['logs.'] }, ['API key scope(s) "logs." not allowed; allowed API key scopes: "logs.view", "completions.*"']],
    ])('%s', (_label, details, expected) => {
      expect(policyViolations(allow, grant({ workspaces: [ws('a')], ...(details ? { workspace_api_key_details: details } : {}) }))).toEqual(expected);
    });

    it('an empty allow list forbids any API key, but not an invite without one', () => {
      expect(policyViolations({ apiKeyScopes: [] }, grant({ workspace_api_key_details: { scopes: ['logs.view'] } }))).toHaveLength(1);
      expect(policyViolations({ apiKeyScopes: [] }, grant())).toEqual([]);
    });
  });

  it('reports every broken rule together, in rule order', () => {
    const allow: TenantPolicy = {
      orgRoles: ['member'],
      workspaces: ['ws-eng-*'],
      workspaceRoles: ['member'],
      apiKeyScopes: ['logs.view'],
    };
    const broken = policyViolations(
      allow,
      grant({ role: 'admin', workspaces: [ws('ws-fin', 'admin'), ws('ws-eng-a', 'member')], workspace_api_key_details: { scopes: ['keys.delete'] } }),
    );
    expect(broken).toEqual([
      'role "admin" is not allowed; allowed org roles: "member"',
      'workspace(s) "ws-fin" not allowed; allowed workspaces: "ws-eng-*"',
      'workspace role(s) "ws-fin: admin" not allowed; allowed workspace roles: "member"',
      'API key scope(s) "keys.delete" not allowed; allowed API key scopes: "logs.view"',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the real server
// ---------------------------------------------------------------------------------------------

const ACME_KEY = SECRETS.portkeyKey;
const GLOBEX_KEY = SECRETS.otherTenantKey;
const INVITE = 'portkey.invite';
const INVITE_ADMIN = 'portkey.invite portkey.invite.admin';

/** acme: a restrictive policy that forbids org admins; globex: no policy at all. */
const ACME_ALLOW = {
  orgRoles: ['member'],
  workspaces: ['ws-eng-*', 'ws-ops'],
  workspaceRoles: ['member', 'manager'],
  apiKeyScopes: ['logs.view', 'completions.*'],
};

let portkey: PortkeyDouble;
let server: TestServer;

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [ACME_KEY, GLOBEX_KEY] });
  server = await startTestServer({
    TENANTS: JSON.stringify({
      acme: { apiKey: ACME_KEY, baseUrl: portkey.url, allow: ACME_ALLOW },
      globex: { apiKey: GLOBEX_KEY, baseUrl: portkey.url },
    }),
  });
});
afterEach(() => portkey.reset());
afterAll(async () => {
  await server?.close(100);
  await portkey?.close();
});

async function post(args: Record<string, unknown>, o: { tenant?: string; scope?: string; url?: string; claims?: Record<string, unknown> } = {}) {
  const claims = o.claims ?? (o.tenant ? { org_id: o.tenant } : {});
  const bearer = await token({ claims, scope: o.scope ?? INVITE });
  return postMcp(o.url ?? server.mcpUrl, inviteCall(args), { authorization: `Bearer ${bearer}` });
}

/** The tool result of a 200 JSON-RPC answer. */
function toolResult(res: Awaited<ReturnType<typeof post>>) {
  expect(res.status, res.text).toBe(200);
  expect(res.json?.result, res.text).toBeDefined();
  return res.json.result as { isError?: boolean; content: { text: string }[]; structuredContent?: Record<string, unknown> };
}

describe('policy through the server', () => {
  it('a refused call lists every broken rule with the allowed values, and nothing is sent to Portkey', async () => {
    const res = await post(
      {
        email: 'eve@example.com',
        role: 'admin',
        workspaces: [ws('ws-eng-web', 'member'), ws('ws-fin', 'admin')],
        workspace_api_key_details: { scopes: ['logs.view', 'keys.delete'] },
      },
      // The admin scope is present, so nothing but the policy stands in the way.
      { tenant: 'acme', scope: INVITE_ADMIN },
    );
    const result = toolResult(res);
    expect(result.isError).toBe(true);
    expect(resultText(result)).toBe(
      [
        "Refused by this tenant's policy, nothing was sent to Portkey:",
        '- role "admin" is not allowed; allowed org roles: "member"',
        '- workspace(s) "ws-fin" not allowed; allowed workspaces: "ws-eng-*", "ws-ops"',
        '- workspace role(s) "ws-fin: admin" not allowed; allowed workspace roles: "member", "manager"',
        '- API key scope(s) "keys.delete" not allowed; allowed API key scopes: "logs.view", "completions.*"',
      ].join('\n'),
    );
    expect(portkey.requests).toEqual([]);
  });

  it.each([
    ['an empty workspace list', { email: 'a@example.com', role: 'member', workspaces: [] }, /workspaces must name at least one workspace; allowed workspaces: "ws-eng-\*", "ws-ops"/],
    ['a workspace outside the list', { email: 'a@example.com', role: 'member', workspaces: [ws('ws-engineering')] }, /workspace\(s\) "ws-engineering" not allowed/],
    ['a workspace admin', { email: 'a@example.com', role: 'member', workspaces: [ws('ws-ops', 'admin')] }, /workspace role\(s\) "ws-ops: admin" not allowed/],
  ])('%s is refused with nothing sent', async (_label, args, pattern) => {
    const result = toolResult(await post(args, { tenant: 'acme' }));
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(pattern);
    expect(portkey.requests).toEqual([]);
  });

  it('an allowed call goes through, exactly as asked', async () => {
    const args = {
      email: 'ok@example.com',
      role: 'member',
      workspaces: [ws('ws-eng-web', 'manager'), ws('ws-ops', 'member')],
      workspace_api_key_details: { scopes: ['logs.view', 'completions.write'] },
    };
    const result = toolResult(await post(args, { tenant: 'acme' }));
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(portkey.requests).toHaveLength(1);
    expect(portkey.requests[0]!.headers['x-portkey-api-key']).toBe(ACME_KEY);
    expect(portkey.requests[0]!.body).toEqual(args);
  });

  it("one tenant's policy does not apply to another", async () => {
    const result = toolResult(await post({ email: 'free@example.com', role: 'member', workspaces: [ws('ws-fin', 'admin')] }, { tenant: 'globex' }));
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(portkey.requests.map((r) => r.headers['x-portkey-api-key'])).toEqual([GLOBEX_KEY]);
  });
});

describe('admin step-up (AUTH_ADMIN_SCOPE)', () => {
  const ADMIN = { email: 'boss@example.com', role: 'admin', workspaces: [] };

  it('inviting an admin without the admin scope is an HTTP 403 scope challenge, with nothing sent', async () => {
    const res = await post(ADMIN, { tenant: 'globex', scope: INVITE });
    expect(res.status).toBe(403);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer /);
    expect(challenge).toContain('error="insufficient_scope"');
    expect(challenge).toContain('scope="portkey.invite portkey.invite.admin"');
    // RFC 6750 §3: the description is quoted, so its own double quotes are dropped.
    expect(challenge).toContain('error_description="Inviting an organisation admin needs the portkey.invite.admin scope');
    expect(res.json).toMatchObject({ error: 'insufficient_scope' });
    expect(res.json.error_description).toMatch(/needs the "portkey.invite.admin" scope/);
    expect(portkey.requests).toEqual([]);
  });

  it('with the admin scope, the admin invite goes through', async () => {
    const result = toolResult(await post(ADMIN, { tenant: 'globex', scope: INVITE_ADMIN }));
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ email: 'boss@example.com', role: 'admin' });
    expect(portkey.requests).toHaveLength(1);
  });

  it('the admin scope also counts when it comes in an "scp" array', async () => {
    const bearer = await token({ claims: { org_id: 'globex', scp: ['portkey.invite', 'portkey.invite.admin'] }, scope: undefined });
    const result = toolResult(await postMcp(server.mcpUrl, inviteCall(ADMIN), { authorization: `Bearer ${bearer}` }));
    expect(result.isError, resultText(result)).toBeFalsy();
  });

  it.each([
    ['a member', { email: 'm@example.com', role: 'member', workspaces: [] }],
    ['a member who is a workspace admin', { email: 'wa@example.com', role: 'member', workspaces: [ws('ws-a', 'admin')] }],
  ])('inviting %s never needs the admin scope', async (_label, args) => {
    const result = toolResult(await post(args, { tenant: 'globex', scope: INVITE }));
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(portkey.requests).toHaveLength(1);
  });

  describe('order: authentication, tenant, policy, then the scope', () => {
    it('no token: 401, not 403', async () => {
      const res = await postMcp(server.mcpUrl, inviteCall(ADMIN));
      expect(res.status).toBe(401);
      expect(portkey.requests).toEqual([]);
    });

    it('a policy that forbids org admins answers with its isError (HTTP 200), not a step-up', async () => {
      const res = await post({ ...ADMIN, workspaces: [ws('ws-ops')] }, { tenant: 'acme', scope: INVITE });
      const result = toolResult(res);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(/Refused by this tenant's policy.*\n- role "admin" is not allowed; allowed org roles: "member"/);
      expect(portkey.requests).toEqual([]);
    });

    it.each([
      ['no tenant claim', {}, /Your token has no "org_id" claim/],
      ['an unknown tenant', { org_id: 'initech' }, /Tenant "initech" .* is not configured/],
    ])('%s answers with the tenant isError (HTTP 200), not a step-up', async (_label, claims, pattern) => {
      const res = await post(ADMIN, { claims, scope: INVITE });
      const result = toolResult(res);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(pattern);
      expect(portkey.requests).toEqual([]);
    });

    it('invalid arguments answer with the validation isError, not a step-up', async () => {
      const result = toolResult(await post({ ...ADMIN, email: 'not-an-email' }, { tenant: 'globex', scope: INVITE }));
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(/email/);
      expect(portkey.requests).toEqual([]);
    });
  });

  describe('other settings', () => {
    const servers: TestServer[] = [];
    const start = async (env: Record<string, string>) => {
      const s = await startTestServer({ TENANTS: JSON.stringify({ globex: { apiKey: GLOBEX_KEY, baseUrl: portkey.url } }), ...env });
      servers.push(s);
      return s;
    };
    afterAll(async () => {
      await Promise.all(servers.map((s) => s.close(100)));
    });

    it("AUTH_ADMIN_SCOPE='' turns the check off", async () => {
      const off = await start({ AUTH_ADMIN_SCOPE: '' });
      expect(off.config.auth.adminScope).toBeUndefined();
      const result = toolResult(await post(ADMIN, { tenant: 'globex', scope: INVITE, url: off.mcpUrl }));
      expect(result.isError, resultText(result)).toBeFalsy();
      expect(portkey.requests).toHaveLength(1);
    });

    it('a custom AUTH_ADMIN_SCOPE is the one asked for', async () => {
      const custom = await start({ AUTH_ADMIN_SCOPE: 'invites.admins' });
      const refused = await post(ADMIN, { tenant: 'globex', scope: INVITE_ADMIN, url: custom.mcpUrl });
      expect(refused.status).toBe(403);
      expect(refused.headers.get('www-authenticate')).toContain('scope="portkey.invite invites.admins"');
      const allowed = toolResult(await post(ADMIN, { tenant: 'globex', scope: 'portkey.invite invites.admins', url: custom.mcpUrl }));
      expect(allowed.isError, resultText(allowed)).toBeFalsy();
      expect(portkey.requests).toHaveLength(1);
    });
  });
});

describe('audit lines', () => {
  let auditDouble: PortkeyDouble;
  let audited: TestServer;
  beforeAll(async () => {
    auditDouble = await startPortkeyDouble({ adminKeys: [ACME_KEY] });
    audited = await startTestServer({
      TENANTS: JSON.stringify({ acme: { apiKey: ACME_KEY, baseUrl: auditDouble.url, allow: { workspaces: ['ws-eng-*'] } } }),
    });
  });
  afterAll(async () => {
    await audited?.close(100);
    await auditDouble?.close();
  });

  it('one line per call, for every outcome, with no key or token in any line', async () => {
    const tokens: string[] = [];
    const call = async (args: Record<string, unknown>, scope: string) => {
      const bearer = await token({ claims: { org_id: 'acme' }, sub: 'auditor-7', scope });
      tokens.push(bearer);
      const res = await postMcp(audited.mcpUrl, inviteCall(args), { authorization: `Bearer ${bearer}` });
      const requestId = res.headers.get('x-request-id');
      expect(requestId).toBeTruthy();
      return { res, requestId: requestId! };
    };

    const invited = await call({ email: 'in@example.com', role: 'member', workspaces: [ws('ws-eng-a', 'member')] }, INVITE);
    expect(invited.res.json.result.isError).toBeFalsy();

    const refused = await call({ email: 'no@example.com', role: 'member', workspaces: [ws('ws-fin', 'admin')] }, INVITE);
    expect(refused.res.json.result.isError).toBe(true);

    const stepUp = await call({ email: 'boss@example.com', role: 'admin', workspaces: [ws('ws-eng-b', 'manager')] }, INVITE);
    expect(stepUp.res.status).toBe(403);

    auditDouble.failNext({ kind: 'status', status: 409, body: { success: false, data: { message: 'User already invited', errorCode: 'AB07' } } });
    const portkeyError = await call({ email: 'again@example.com', role: 'member', workspaces: [ws('ws-eng-c', 'member')] }, INVITE);
    expect(portkeyError.res.json.result.isError).toBe(true);
    expect(resultText(portkeyError.res.json.result)).toMatch(/HTTP 409, AB07/);

    const lines = audited.events('audit.invite_user');
    expect(lines).toHaveLength(4);
    const byId = (id: string) => {
      const matching = lines.filter((l) => l.request_id === id);
      expect(matching).toHaveLength(1);
      return matching[0]!;
    };
    const base = { tenant: 'acme', sub: 'auditor-7' };
    expect(byId(invited.requestId)).toMatchObject({
      ...base,
      invitee: 'in@example.com',
      org_role: 'member',
      workspaces: ['ws-eng-a:member'],
      outcome: 'invited',
      upstream_status: 200,
    });
    expect(byId(invited.requestId).invite_id).toBe(auditDouble.invites[0]!.id);
    expect(byId(refused.requestId)).toMatchObject({
      ...base,
      invitee: 'no@example.com',
      org_role: 'member',
      workspaces: ['ws-fin:admin'],
      outcome: 'refused_by_policy',
      upstream_status: null,
    });
    expect(byId(stepUp.requestId)).toMatchObject({
      ...base,
      invitee: 'boss@example.com',
      org_role: 'admin',
      workspaces: ['ws-eng-b:manager'],
      outcome: 'step_up_required',
      upstream_status: null,
    });
    expect(byId(portkeyError.requestId)).toMatchObject({
      ...base,
      invitee: 'again@example.com',
      org_role: 'member',
      workspaces: ['ws-eng-c:member'],
      outcome: 'already_invited',
      upstream_status: 409,
    });
    for (const line of lines) {
      for (const field of ['request_id', 'tenant', 'sub', 'invitee', 'org_role', 'workspaces', 'outcome', 'upstream_status']) {
        expect(line, field).toHaveProperty(field);
      }
    }
    // Only the invited and the Portkey-error calls reached Portkey (the 409 with one lookup after it).
    expect(auditDouble.requests.filter((r) => r.method === 'POST').map((r) => (r.body as { email: string }).email)).toEqual(['in@example.com', 'again@example.com']);
    expect(auditDouble.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/v1/admin/users/invites?email=again%40example.com&status=pending&pageSize=100&currentPage=0']);

    for (const line of audited.logs) {
      expect(line).not.toContain(ACME_KEY);
      for (const t of tokens) expect(line).not.toContain(t);
    }
  });
});
