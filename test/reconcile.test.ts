/**
 * Issue 15: when the invite POST's outcome is unknown (timeout, lost connection, unreadable 2xx)
 * or Portkey answers 409, the server looks the invite up once (GET /admin/users/invites?email=…
 * &status=pending) and answers from what it finds. Through the real server and the official SDK
 * client, against the Portkey double with memory, over both transports. Every call sends exactly
 * one POST and at most one GET, and is audited with the reconciled outcome.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/server-config.js';
import { createTenantResolver } from '../src/tenants/resolve-tenant.js';
import { PUBLIC_URL, SECRETS, TRANSPORTS, connectClient, resultText, serverPool, token, type TestServer } from './support/harness.js';
import { startPortkeyDouble, type Fault, type PortkeyDouble } from './support/portkey-double.js';

const TIMEOUT_MS = 400;
/** Far past the client's deadline: the double answers (or drops) only after the call is over. */
const LATE_MS = 3000;

let portkey: PortkeyDouble;
const startServer = serverPool();
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterEach(() => portkey.reset());
afterAll(() => portkey.close());

const env = () => ({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url, PORTKEY_TIMEOUT_MS: String(TIMEOUT_MS) });

let seq = 0;
const freshEmail = (label: string) => `${label}-${++seq}@example.com`;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ISO = String.raw`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z`;
const HOST = String.raw`127\.0\.0\.1:\d+`;

const posts = () => portkey.requests.filter((r) => r.method === 'POST');
/** The lookups (invite lists); workspace reads that resolve slugs to ids are counted apart. */
const gets = () => portkey.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/v1/admin/users/invites'));

interface Result {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content?: { type: string; text: string }[];
}

describe.each(TRANSPORTS)('over the %s transport', (_name, makeTransport) => {
  let server: TestServer;
  let client: Client;
  beforeAll(async () => {
    server = await startServer(env(), { transport: makeTransport() });
    client = await connectClient(server.mcpUrl, await token());
  });
  afterAll(() => client.close());

  const call = async (args: Record<string, unknown>) => (await client.callTool({ name: 'invite_user', arguments: args })) as Result;
  const member = (email: string, workspaces = [{ id: 'ws-eng', role: 'member' }]) => ({ email, role: 'member', workspaces });
  const auditOf = (email: string) => {
    const lines = server.events('audit.invite_user').filter((e) => e.invitee === email);
    expect(lines).toHaveLength(1);
    return lines[0]!;
  };
  /** One POST per call, never repeated, and at most the one lookup, for exactly this email and status. */
  function expectOnePostAndLookups(email: string, lookups: 0 | 1): void {
    expect(posts()).toHaveLength(1);
    expect(gets()).toHaveLength(lookups);
    if (lookups) {
      const [get] = gets();
      expect(get!.path).toBe(`/v1/admin/users/invites?email=${encodeURIComponent(email)}&status=pending&pageSize=100&currentPage=0`);
      expect(get!.headers['x-portkey-api-key']).toBe(SECRETS.portkeyKey);
      expect(get!.headers['accept-encoding']).toBe('identity');
      expect(get!.headers.authorization).toBeUndefined();
    }
  }

  describe('the answer is lost but the invite was created: confirmed by lookup, a success without a link', () => {
    it.each<{ label: string; then: Exclude<Fault, { kind: 'create-then' }>; happened: string; upstreamStatus: number | null }>([
      { label: 'a reply slower than the deadline', then: { kind: 'delay', ms: LATE_MS }, happened: `Portkey \\(${HOST}\\) did not answer within ${TIMEOUT_MS} ms\\.`, upstreamStatus: null },
      { label: 'the connection dropped before any answer', then: { kind: 'drop' }, happened: `The connection to Portkey \\(${HOST}\\) was lost before its answer arrived`, upstreamStatus: null },
      { label: 'a connection reset mid-body', then: { kind: 'reset-mid-body' }, happened: `The connection to Portkey \\(${HOST}\\) was lost before its answer arrived`, upstreamStatus: null },
      { label: 'a truncated JSON 200', then: { kind: 'truncated-json' }, happened: 'Portkey answered HTTP 200 but the body is not JSON', upstreamStatus: 200 },
      { label: 'a 200 without the documented fields', then: { kind: 'success-body', body: { ok: true } }, happened: 'Portkey answered HTTP 200 without the documented id and invite_link', upstreamStatus: 200 },
    ])('$label', async ({ then, happened, upstreamStatus }) => {
      const email = freshEmail('confirmed');
      portkey.failNext({ kind: 'create-then', then });
      const result = await call(member(email));

      expect(result.isError, resultText(result)).toBeFalsy();
      const created = portkey.invites[0]!;
      expect(result.structuredContent).toEqual({
        invite_id: created.id,
        invite_status: 'pending',
        email,
        role: 'member',
        workspaces: [{ id: 'ws-eng', role: 'member' }],
        api_key_requested: false,
      });
      const text = JSON.parse(resultText(result)) as Record<string, string>;
      expect(text).toMatchObject({ invite_id: created.id, invite_status: 'pending' });
      expect(text.message).toMatch(
        new RegExp(
          `^Invited ${esc(email)} as member \\(confirmed by lookup\\)\\. ${happened}.* Portkey's answer was lost, so this server looked the invite up and found it: ` +
            `invite ${created.id}, status pending, created ${ISO}\\. The invitation link was in the lost answer; Portkey emails it to the invitee\\. Do not invite this email again\\.$`,
        ),
      );
      expectOnePostAndLookups(email, 1);
      expect(auditOf(email)).toMatchObject({
        outcome: 'invited_confirmed',
        invite_id: created.id,
        upstream_status: upstreamStatus,
        reconcile: 'matched',
        reconcile_status: 200,
        reconcile_latency_ms: expect.any(Number),
      });
    });

    it('an invite stamped a few seconds before the call (clocks differ) still counts; three minutes before does not', async () => {
      const email = freshEmail('skew');
      const seeded = portkey.seedInvite({ email, workspaces: [{ workspace_id: 'ws-eng', role: 'member' }], createdAt: new Date(Date.now() - 5_000) });
      portkey.failNext({ kind: 'hang', ms: LATE_MS });
      const result = await call(member(email));
      expect(result.isError, resultText(result)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ invite_id: seeded.id, invite_status: 'pending' });

      portkey.reset();
      const older = freshEmail('skew-old');
      portkey.seedInvite({ email: older, workspaces: [{ workspace_id: 'ws-eng', role: 'member' }], createdAt: new Date(Date.now() - 180_000) });
      portkey.failNext({ kind: 'hang', ms: LATE_MS });
      const refused = await call(member(older));
      expect(refused.isError).toBe(true);
      expect(resultText(refused)).toContain("which is not this call's: it was created before this call");
    });

    it('reads created_at as ISO 8601 with a zone as well as Portkey\'s zoneless UTC', async () => {
      const email = freshEmail('iso');
      const now = new Date();
      const plus2 = new Date(now.getTime() + 2 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+02:00');
      portkey.failNext({ kind: 'hang', ms: LATE_MS });
      portkey.failNextList({
        kind: 'success-body',
        body: { object: 'list', total: 1, data: [{ object: 'invite', id: 'inv-iso-1', email, role: 'member', created_at: plus2, status: 'pending' }] },
      });
      const result = await call(member(email));
      expect(result.isError, resultText(result)).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ invite_id: 'inv-iso-1', invite_status: 'pending' });
    });
  });

  describe('the answer is lost and no invite that could be this call\'s is found: still isError, saying what was checked and when', () => {
    it.each<{ label: string; fault: Fault; happened: string; outcome: string; upstreamStatus: number | null }>([
      { label: 'a timeout that created nothing', fault: { kind: 'hang', ms: LATE_MS }, happened: `Portkey \\(${HOST}\\) did not answer within ${TIMEOUT_MS} ms\\.`, outcome: 'not_found_after_timeout', upstreamStatus: null },
      { label: 'a dropped connection that created nothing', fault: { kind: 'drop' }, happened: `The connection to Portkey \\(${HOST}\\) was lost before its answer arrived( \\([A-Z_]+\\))?\\.`, outcome: 'not_found_after_connection_lost', upstreamStatus: null },
      { label: 'a garbled 200 that created nothing', fault: { kind: 'truncated-json' }, happened: 'Portkey answered HTTP 200 but the body is not JSON \\(11 bytes of application/json\\)\\.', outcome: 'not_found_after_bad_response', upstreamStatus: 200 },
    ])('$label', async ({ fault, happened, outcome, upstreamStatus }) => {
      const email = freshEmail('missing');
      portkey.failNext(fault);
      const result = await call(member(email));
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      const text = resultText(result);
      expect(text).toMatch(
        new RegExp(
          `^${happened} This server then looked for the invite: no pending invite for ${esc(email)} as of ${ISO}\\. ` +
            'Portkey may still be processing the request, so check again before retrying',
        ),
      );
      expect(text).not.toMatch(/nothing was created|no invite was created|was not created/i);
      expectOnePostAndLookups(email, 1);
      expect(auditOf(email)).toMatchObject({ outcome, invite_id: null, upstream_status: upstreamStatus, reconcile: 'no_match', reconcile_status: 200 });
    });

    it.each([
      { label: 'older than the call', seed: { createdAt: new Date(Date.now() - 3600_000) }, why: 'it was created before this call' },
      { label: 'for another org role', seed: { role: 'admin' }, why: 'its role is admin, not member' },
      // Portkey lists workspaces by id: one the request did not name stays an id.
      { label: 'for other workspaces', seed: { workspaces: [{ workspace_id: 'ws-ops', role: 'member' }] }, why: () => `its workspaces are ${portkey.workspaceId('ws-ops')}:member, not ws-eng:member` },
      { label: 'with another workspace role', seed: { workspaces: [{ workspace_id: 'ws-eng', role: 'admin' }] }, why: 'its workspaces are ws-eng:admin, not ws-eng:member' },
    ])('a pending invite $label is named, and not taken for this call\'s', async ({ seed, why }) => {
      const email = freshEmail('other');
      const existing = portkey.seedInvite({ email, workspaces: [{ workspace_id: 'ws-eng', role: 'member' }], ...seed });
      portkey.failNext({ kind: 'hang', ms: LATE_MS });
      const result = await call(member(email));
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(
        new RegExp(`no pending invite for ${esc(email)} that could be this call's \\(found invite ${existing.id} \\(role \\w+, workspaces [^)]*, created ${ISO}, status pending\\), which is not this call's: ${esc(typeof why === 'function' ? why() : why)}\\) as of ${ISO}\\.`),
      );
      expectOnePostAndLookups(email, 1);
      expect(auditOf(email)).toMatchObject({ outcome: 'not_found_after_timeout', invite_id: null, reconcile: 'no_match' });
    });

    it("an invite for another email in the list (a control plane that ignored the filter) is never taken for this call's", async () => {
      const email = freshEmail('filter');
      portkey.failNext({ kind: 'hang', ms: LATE_MS });
      const now = new Date().toISOString();
      portkey.failNextList({
        kind: 'success-body',
        body: { object: 'list', total: 2, data: [
          { id: 'inv-someone-else', email: 'someone-else@example.com', role: 'member', created_at: now, status: 'pending', workspaces: [{ workspace_id: 'ws-eng', role: 'member' }] },
          { id: 'inv-accepted', email, role: 'member', created_at: now, status: 'accepted', workspaces: [{ workspace_id: 'ws-eng', role: 'member' }] },
        ] },
      });
      const result = await call(member(email));
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain(`no pending invite for ${email} as of `);
      expect(resultText(result)).not.toMatch(/inv-someone-else|inv-accepted/);
      expect(auditOf(email)).toMatchObject({ outcome: 'not_found_after_timeout', reconcile: 'no_match' });
    });

    it('the tenant key inside a listed invite never reaches the caller or the log', async () => {
      const email = freshEmail('key-in-list');
      portkey.failNext({ kind: 'hang', ms: LATE_MS });
      const now = new Date().toISOString();
      portkey.failNextList({
        kind: 'success-body',
        body: { data: [
          { id: `inv-${SECRETS.portkeyKey}`, email, role: 'member', created_at: now, status: 'pending' },
          { id: 'inv-ok', email, role: 'member', created_at: `${now} ${SECRETS.portkeyKey}`, status: 'pending', workspaces: [{ workspace_id: SECRETS.portkeyKey, role: 'member' }] },
        ] },
      });
      const result = await call(member(email));
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain('inv-ok');
      expect(resultText(result)).toContain('Portkey gave no readable creation time');
      expect(resultText(result)).not.toContain(SECRETS.portkeyKey);
      // test/support/setup.ts checks every response and log line of this file for the key as well.
    });
  });

  describe('the lookup itself fails: the answer is the unknown-outcome message, unchanged', () => {
    it.each<{ label: string; listFault: Exclude<Fault, { kind: 'create-then' }>; status: number | null }>([
      { label: 'Portkey refuses the read', listFault: { kind: 'status', status: 500 }, status: 500 },
      { label: 'the read times out', listFault: { kind: 'hang', ms: LATE_MS }, status: null },
      { label: 'the read is dropped', listFault: { kind: 'drop' }, status: null },
      { label: 'the read answers something other than a list', listFault: { kind: 'success-body', body: { invites: [] } }, status: 200 },
      { label: 'the read answers HTML', listFault: { kind: 'non-json' }, status: 200 },
    ])('$label', async ({ listFault, status }) => {
      const email = freshEmail('lookup-fails');
      portkey.failNext({ kind: 'create-then', then: { kind: 'delay', ms: LATE_MS } });
      portkey.failNextList(listFault);
      const result = await call(member(email));
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(
        new RegExp(
          `^Portkey \\(${HOST}\\) did not answer within ${TIMEOUT_MS} ms\\. The invite may or may not have been created\\. ` +
            `List pending invites for ${esc(email)} \\(GET /admin/users/invites\\?email=\\.\\.\\.&status=pending, or Portkey's Members page\\) before trying again\\.$`,
        ),
      );
      expectOnePostAndLookups(email, 1);
      expect(auditOf(email)).toMatchObject({ outcome: 'timeout', invite_id: null, reconcile: 'failed', reconcile_status: status });
    });
  });

  describe('409 "already invited" names the existing invite', () => {
    it('a repeat of a call that succeeded: the same invite, recent and matching, most likely the caller\'s own', async () => {
      const email = freshEmail('repeat');
      const first = await call(member(email));
      expect(first.isError).toBeFalsy();
      portkey.requests.length = 0;
      const again = await call(member(email));
      expect(again.isError).toBe(true);
      const existing = portkey.invites[0]!;
      expect(resultText(again)).toMatch(
        new RegExp(
          `^Portkey refused the invite \\(HTTP 409, AB07\\): User already invited\\. ${esc(email)} already has a pending invite: ` +
            `invite ${existing.id} \\(role member, workspaces ws-eng:member, created ${ISO}, status pending\\)\\. ` +
            'It is recent and matches this request \\(role and workspaces\\), so it is most likely your own earlier attempt, .*Nothing new was created\\.$',
        ),
      );
      expectOnePostAndLookups(email, 1);
      const lines = server.events('audit.invite_user').filter((e) => e.invitee === email);
      expect(lines.map((l) => l.outcome)).toEqual(['invited', 'already_invited']);
      expect(lines[0]).toMatchObject({ reconcile: null, reconcile_status: null, reconcile_latency_ms: null });
      expect(lines[1]).toMatchObject({ invite_id: existing.id, upstream_status: 409, reconcile: 'matched', reconcile_status: 200 });
    });

    it.each([
      { label: 'for another role', seed: { role: 'admin' }, verdict: 'It differs from this request \\(its role is admin, not member\\); to change it, cancel that invite in Portkey and invite again\\.' },
      { label: 'older than 15 minutes', seed: { createdAt: new Date(Date.now() - 2 * 86400_000) }, verdict: 'It matches this request \\(role and workspaces\\) but is older, so it is most likely an earlier invite' },
    ])('an existing invite $label is named as such', async ({ seed, verdict }) => {
      const email = freshEmail('exists');
      const existing = portkey.seedInvite({ email, workspaces: [{ workspace_id: 'ws-eng', role: 'member' }], ...seed });
      const result = await call(member(email));
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(new RegExp(`already has a pending invite: invite ${existing.id} .*\\. ${verdict}`));
      expect(resultText(result)).not.toContain('most likely your own earlier attempt');
      expectOnePostAndLookups(email, 1);
      expect(auditOf(email)).toMatchObject({ outcome: 'already_invited', invite_id: existing.id, reconcile: 'matched' });
    });

    it('no pending invite: most likely already a member', async () => {
      const email = freshEmail('member');
      portkey.failNext({ kind: 'status', status: 409 });
      const result = await call(member(email));
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(
        new RegExp(`^Portkey refused the invite \\(HTTP 409, AB07\\): Resource already exists\\. No pending invite for ${esc(email)} was found as of ${ISO}, so ${esc(email)} is most likely already a member`),
      );
      expectOnePostAndLookups(email, 1);
      expect(auditOf(email)).toMatchObject({ outcome: 'already_invited', invite_id: null, upstream_status: 409, reconcile: 'no_match' });
    });

    it('the lookup fails: the 409 message as before', async () => {
      const email = freshEmail('409-lookup-fails');
      portkey.failNext({ kind: 'status', status: 409 });
      portkey.failNextList({ kind: 'status', status: 503 });
      const result = await call(member(email));
      expect(resultText(result)).toBe(
        `Portkey refused the invite (HTTP 409, AB07): Resource already exists. ${email} is most likely already invited or already a member; nothing new was created. List the organisation's invites and members for this email instead of inviting again.`,
      );
      expect(auditOf(email)).toMatchObject({ outcome: 'already_invited', invite_id: null, reconcile: 'failed', reconcile_status: 503 });
    });
  });

  describe('no lookup on any other path', () => {
    it.each<{ label: string; fault?: Fault }>([
      { label: 'success' },
      { label: 'a 500', fault: { kind: 'status', status: 500 } },
      { label: 'an HTML 502', fault: { kind: 'non-json', status: 502 } },
      { label: 'a 400', fault: { kind: 'status', status: 400 } },
      { label: 'a 429', fault: { kind: 'rate-limit', retryAfter: '5' } },
      { label: 'a gzip 500 (unreadable, but a refusal)', fault: { kind: 'encoded', encoding: 'gzip', status: 500 } },
    ])('$label', async ({ fault }) => {
      const email = freshEmail('no-lookup');
      if (fault) portkey.failNext(fault);
      await call(member(email));
      expectOnePostAndLookups(email, 0);
      expect(auditOf(email)).toMatchObject({ reconcile: null, reconcile_status: null, reconcile_latency_ms: null });
    });
  });
});

describe("the lookup is skipped when the call's budget is spent", () => {
  it('says so, sends no GET, and audits reconcile "skipped"', async () => {
    const config = loadConfig({ ...env(), AUTH_JWT_SECRET: SECRETS.jwtSecret, PUBLIC_URL });
    const resolve = createTenantResolver(config.tenants, config.auth.tenantClaim);
    // A tenant lookup as slow as the lookup's whole share: POST deadline + this = the budget.
    const slow: typeof resolve = async (caller) => {
      await new Promise((r) => setTimeout(r, TIMEOUT_MS));
      return resolve(caller);
    };
    const server = await startServer(env(), { resolveTenant: slow });
    const client = await connectClient(server.mcpUrl, await token());
    const email = freshEmail('budget');
    portkey.failNext({ kind: 'hang', ms: LATE_MS });
    const result = (await client.callTool({ name: 'invite_user', arguments: { email, role: 'member', workspaces: [] } })) as Result;
    await client.close();
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(
      new RegExp(`did not answer within ${TIMEOUT_MS} ms\\. The invite may or may not have been created\\. .* before trying again\\. \\(This server did not look the invite up: the call's Portkey time budget of ${2 * TIMEOUT_MS} ms was spent\\.\\)$`),
    );
    expect(posts()).toHaveLength(1);
    expect(gets()).toHaveLength(0);
    const audit = server.events('audit.invite_user').find((e) => e.invitee === email);
    expect(audit).toMatchObject({ outcome: 'timeout', reconcile: 'skipped', reconcile_status: null });
  });
});

// The outcomes themselves are checked against docs/audit.md by test/audit-outcomes.test.ts.
describe('docs/audit.md', () => {
  it('names the audit fields of the lookup', () => {
    const audit = readFileSync(new URL('../docs/audit.md', import.meta.url), 'utf8');
    for (const field of ['reconcile', 'reconcile_status', 'reconcile_latency_ms']) expect(audit, field).toContain(`\`${field}\``);
  });
});
