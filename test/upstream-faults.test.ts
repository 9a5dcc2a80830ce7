/**
 * Upstream faults through the real server against the Portkey test double, multi-tenant (TENANTS),
 * so that messages about a key name its tenant. Every fault must give a precise isError, be
 * audited with its outcome code, never be retried, leave the server healthy, and leave other
 * tenants' calls unaffected, even while one tenant's Portkey hangs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  SECRETS,
  TRANSPORTS,
  inviteCall,
  observed,
  postMcp,
  recordingFetch,
  rememberSecret,
  resultText,
  serverPool,
  token,
  type TestServer,
} from './support/harness.js';
import { ALREADY_INVITED, portkeyError, startPortkeyDouble, validateCreateInvite, type Fault, type PortkeyDouble } from './support/portkey-double.js';

const ACME_KEY = SECRETS.portkeyKey;
const GLOBEX_KEY = SECRETS.otherTenantKey;
/** A key the acme double does not know: Portkey answers 401 for the tenant "revoked". */
const REVOKED_KEY = 'pk-admin-REVOKED-SECRET-4c1d9e';
/** The key of the tenant whose Portkey stalls mid-body. */
const STALL_KEY = 'pk-admin-STALL-SECRET-8b2f61';
rememberSecret(REVOKED_KEY);
rememberSecret(STALL_KEY);

const TIMEOUT_MS = 400;
const HTML_PAGE = '<html><head><title>503 Service Unavailable</title></head><body><h1>503</h1><p>upstream connect error</p></body></html>';

let acme: PortkeyDouble;
let globex: PortkeyDouble;
let server: TestServer;
/** A Portkey that sends 200 headers and the start of a body, then nothing. */
let stall: { url: string; requests: number; close(): Promise<void> };
const startServer = serverPool();

beforeAll(async () => {
  acme = await startPortkeyDouble({ adminKeys: [ACME_KEY], workspaceKeys: [SECRETS.workspaceKey] });
  globex = await startPortkeyDouble({ adminKeys: [GLOBEX_KEY] });
  stall = await startStallingPortkey();
});

/** The server under test, over the given transport (one per describe.each block below). */
function startServerOver(transport: ReturnType<(typeof TRANSPORTS)[number][1]>): Promise<TestServer> {
  return startServer(
    {
      TENANTS: JSON.stringify({
        acme: { apiKey: ACME_KEY, baseUrl: acme.url },
        globex: { apiKey: { env: 'PORTKEY_KEY_GLOBEX' }, baseUrl: globex.url },
        revoked: { apiKey: REVOKED_KEY, baseUrl: acme.url },
        wskey: { apiKey: { env: 'PORTKEY_KEY_WS' }, baseUrl: acme.url },
        stall: { apiKey: STALL_KEY, baseUrl: stall.url },
      }),
      PORTKEY_KEY_GLOBEX: GLOBEX_KEY,
      PORTKEY_KEY_WS: SECRETS.workspaceKey,
      PORTKEY_TIMEOUT_MS: String(TIMEOUT_MS),
    },
    { transport },
  );
}
afterEach(() => {
  acme.reset();
  globex.reset();
});
afterAll(async () => {
  await acme?.close();
  await globex?.close();
  await stall?.close();
});

async function startStallingPortkey(): Promise<{ url: string; requests: number; close(): Promise<void> }> {
  const state = { requests: 0 };
  const s = http.createServer((req, res) => {
    state.requests += 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '200' });
      res.write('{"id": "');
    });
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/v1`,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        s.closeAllConnections();
        s.close(() => resolve());
      }),
  };
}

const tokens = new Map<string, Promise<string>>();
/** A member-inviting token for a tenant (and caller). */
const bearerFor = (tenant: string, sub = 'alice') => {
  const key = `${tenant}/${sub}`;
  if (!tokens.has(key)) tokens.set(key, token({ sub, claims: { org_id: tenant } }));
  return tokens.get(key)!;
};

let seq = 0;
const freshEmail = (label: string) => `${label}-${++seq}@example.com`;

interface CallOutcome {
  status: number;
  headers: Headers;
  result: { isError?: boolean; structuredContent?: Record<string, unknown>; content?: { type: string; text: string }[] };
  finishedAt: number;
}

/** One raw tools/call invite_user for a tenant; the HTTP exchange itself must be a 200 JSON-RPC result. */
async function invite(tenant: string, email: string, sub?: string): Promise<CallOutcome> {
  const res = await postMcp(
    server.mcpUrl,
    inviteCall({ email, role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] }),
    { authorization: `Bearer ${await bearerFor(tenant, sub)}` },
  );
  return { status: res.status, headers: res.headers, result: res.json?.result, finishedAt: performance.now() };
}

function expectSuccess(o: CallOutcome, email: string): void {
  expect(o.status).toBe(200);
  expect(o.result.isError).toBeFalsy();
  expect(o.result.structuredContent).toMatchObject({ email, role: 'member', api_key_requested: false });
  expect(o.result.structuredContent!.invite_id).toEqual(expect.any(String));
}

/** Response headers never carry a key, a signing secret or a token. */
function expectNoSecretsInHeaders(headers: Headers): void {
  const all = JSON.stringify([...headers]);
  for (const secret of observed.secrets) expect(all.includes(secret), `a secret in the headers: ${all}`).toBe(false);
}

function auditFor(email: string): Record<string, unknown>[] {
  return server.events('audit.invite_user').filter((e) => e.invitee === email);
}

/** The server still answers: /healthz 200, and a following acme call succeeds. */
async function expectHealthy(): Promise<void> {
  const health = await recordingFetch(`${server.url}/healthz`);
  expect(health.status).toBe(200);
  const email = freshEmail('after');
  expectSuccess(await invite('acme', email), email);
}

const ANY_HOST = String.raw`127\.0\.0\.1:\d+`;
/** The unknown-outcome message without a lookup (it failed, or was not due). */
const AMBIGUOUS = (email: string) =>
  new RegExp(`The invite may or may not have been created\\. List pending invites for ${email.replace(/[.+]/g, '\\$&')} .*before trying again\\.`);
/** An unknown outcome after the one lookup (test/reconcile.test.ts) found no invite: the double created none here. */
const NOT_FOUND = (email: string) =>
  new RegExp(`This server then looked for the invite: no pending invite for ${email.replace(/[.+]/g, '\\$&')} as of [0-9TZ:-]+\\. Portkey may still be processing the request, so check again before retrying`);

interface FaultCase {
  label: string;
  fault: () => Fault;
  /** What the message must say; `EMAIL` stands for the invitee. */
  message: (email: string) => RegExp;
  outcome: string;
  upstreamStatus: number | null;
  /** The POST may have reached Portkey and its outcome is unknown. */
  ambiguous: boolean;
}

const esc = (s: string) => s.replace(/[.+]/g, '\\$&');

const FAULTS: FaultCase[] = [
  {
    label: '500 with the JSON error envelope',
    fault: () => ({ kind: 'status', status: 500 }),
    message: (e) =>
      new RegExp(
        `^Portkey refused the invite \\(HTTP 500, AB04\\): Internal Server Error\\. Portkey failed on its side, so the invite was probably not created, but it may have been\\. List pending invites for ${esc(e)} before trying again\\.$`,
      ),
    outcome: 'portkey_AB04',
    upstreamStatus: 500,
    ambiguous: false,
  },
  {
    label: '502 with an HTML page',
    fault: () => ({ kind: 'non-json', status: 502 }),
    message: () => /^Portkey refused the invite \(HTTP 502\)\. Portkey failed on its side/,
    outcome: 'portkey_http_502',
    upstreamStatus: 502,
    ambiguous: false,
  },
  {
    label: '503 with an HTML page and Retry-After',
    fault: () => ({ kind: 'status', status: 503, rawBody: HTML_PAGE, contentType: 'text/html', headers: { 'retry-after': '30' } }),
    message: () => /^Portkey refused the invite \(HTTP 503\)\. Portkey failed on its side.*retry no sooner than 30 s \(Portkey's Retry-After\)\.$/,
    outcome: 'portkey_http_503',
    upstreamStatus: 503,
    ambiguous: false,
  },
  {
    label: '429 with Retry-After in seconds',
    fault: () => ({ kind: 'rate-limit', retryAfter: '17' }),
    message: () => /^Portkey refused the invite \(HTTP 429, AB06\): Rate limit exceeded\. Portkey is rate limiting this organisation; no invite was created\. Retry after 17 s\.$/,
    outcome: 'portkey_AB06',
    upstreamStatus: 429,
    ambiguous: false,
  },
  {
    label: '429 with Retry-After as an HTTP date',
    fault: () => ({ kind: 'rate-limit', retryAfter: new Date(Date.now() + 90_000).toUTCString() }),
    message: () => /no invite was created\. Retry after (8[5-9]|9[01]) s\.$/,
    outcome: 'portkey_AB06',
    upstreamStatus: 429,
    ambiguous: false,
  },
  {
    label: '429 without Retry-After',
    fault: () => ({ kind: 'rate-limit' }),
    message: () => /\(HTTP 429, AB06\): Rate limit exceeded\. .*no invite was created\. Wait a minute before retrying\.$/,
    outcome: 'portkey_AB06',
    upstreamStatus: 429,
    ambiguous: false,
  },
  {
    label: '401: the tenant key is wrong',
    fault: () => ({ kind: 'status', status: 401 }),
    message: () =>
      /^Portkey refused the invite \(HTTP 401, AB05\): Unauthorised Request\. Portkey did not accept the admin API key configured for tenant "acme": it is wrong, revoked or expired, or it lacks the permission to invite users \(Portkey answers 401 for both\)\. The server operator must replace the key or grant it the users permissions; retrying will not help\.$/,
    outcome: 'portkey_AB05',
    upstreamStatus: 401,
    ambiguous: false,
  },
  {
    label: '403: the tenant key lacks rights',
    fault: () => ({ kind: 'status', status: 403 }),
    message: () => /^Portkey refused the invite \(HTTP 403, AB03\): .*The admin API key configured for tenant "acme" lacks the rights to invite users/,
    outcome: 'portkey_AB03',
    upstreamStatus: 403,
    ambiguous: false,
  },
  {
    label: '409: already invited',
    fault: () => ({ kind: 'status', status: 409, body: ALREADY_INVITED }),
    // The lookup after a 409 finds no pending invite in the double: most likely a member.
    message: (e) => new RegExp(`^Portkey refused the invite \\(HTTP 409, AB07\\): User already invited\\. No pending invite for ${esc(e)} was found as of [0-9TZ:-]+, so ${esc(e)} is most likely already a member`),
    outcome: 'already_invited',
    upstreamStatus: 409,
    ambiguous: false,
  },
  {
    label: 'an error message that repeats the key',
    fault: () => ({ kind: 'status', status: 400, body: portkeyError(`Header x-portkey-api-key ${ACME_KEY} is malformed`, 'AB01') }),
    message: () => /^Portkey refused the invite \(HTTP 400, AB01\): Header x-portkey-api-key \[redacted\] is malformed\. Correct the arguments/,
    outcome: 'portkey_AB01',
    upstreamStatus: 400,
    ambiguous: false,
  },
  {
    label: 'a reply slower than PORTKEY_TIMEOUT_MS',
    fault: () => ({ kind: 'delay', ms: 3000 }),
    message: (e) => new RegExp(`^Portkey \\(${ANY_HOST}\\) did not answer within ${TIMEOUT_MS} ms\\. ${NOT_FOUND(e).source}`),
    outcome: 'not_found_after_timeout',
    upstreamStatus: null,
    ambiguous: true,
  },
  {
    label: 'the connection dropped before any answer',
    fault: () => ({ kind: 'drop' }),
    message: (e) => new RegExp(`^The connection to Portkey \\(${ANY_HOST}\\) was lost before its answer arrived( \\([A-Z_]+\\))?\\. ${NOT_FOUND(e).source}`),
    outcome: 'not_found_after_connection_lost',
    upstreamStatus: null,
    ambiguous: true,
  },
  {
    label: 'a connection reset mid-body',
    fault: () => ({ kind: 'reset-mid-body' }),
    message: (e) => new RegExp(`^The connection to Portkey \\(${ANY_HOST}\\) was lost before its answer arrived( \\([A-Z_]+\\))?\\. ${NOT_FOUND(e).source}`),
    outcome: 'not_found_after_connection_lost',
    upstreamStatus: null,
    ambiguous: true,
  },
  {
    label: 'a truncated JSON 200',
    fault: () => ({ kind: 'truncated-json' }),
    message: (e) => new RegExp(`^Portkey answered HTTP 200 but the body is not JSON \\(11 bytes of application/json\\)\\. ${NOT_FOUND(e).source}`),
    outcome: 'not_found_after_bad_response',
    upstreamStatus: 200,
    ambiguous: true,
  },
  {
    label: 'an HTML 200',
    fault: () => ({ kind: 'non-json', status: 200 }),
    message: (e) => new RegExp(`^Portkey answered HTTP 200 but the body is not JSON \\(\\d+ bytes of text/html\\)\\. ${NOT_FOUND(e).source}`),
    outcome: 'not_found_after_bad_response',
    upstreamStatus: 200,
    ambiguous: true,
  },
  {
    label: 'an empty 200',
    fault: () => ({ kind: 'status', status: 200, rawBody: '' }),
    message: (e) => new RegExp(`^Portkey answered HTTP 200 but the body is not JSON \\(empty\\)\\. ${NOT_FOUND(e).source}`),
    outcome: 'not_found_after_bad_response',
    upstreamStatus: 200,
    ambiguous: true,
  },
  {
    label: 'a 200 without id',
    fault: () => ({ kind: 'success-body', body: { invite_link: 'https://app.portkey.ai/invite/x' } }),
    message: (e) => new RegExp(`^Portkey answered HTTP 200 without the documented id \\(expected \\{"id", "invite_link"\\}\\)\\. ${NOT_FOUND(e).source}`),
    outcome: 'not_found_after_bad_response',
    upstreamStatus: 200,
    ambiguous: true,
  },
  {
    label: 'a 200 without invite_link',
    fault: () => ({ kind: 'success-body', body: { id: 'inv-1' } }),
    message: (e) => new RegExp(`^Portkey answered HTTP 200 without the documented invite_link \\(expected \\{"id", "invite_link"\\}\\)\\. ${NOT_FOUND(e).source}`),
    outcome: 'not_found_after_bad_response',
    upstreamStatus: 200,
    ambiguous: true,
  },
  {
    label: 'a 200 with an empty id',
    fault: () => ({ kind: 'success-body', body: { id: '', invite_link: 'https://app.portkey.ai/invite/x' } }),
    message: () => /^Portkey answered HTTP 200 without the documented id \(expected/,
    outcome: 'not_found_after_bad_response',
    upstreamStatus: 200,
    ambiguous: true,
  },
  {
    label: 'a 200 whose body is null',
    fault: () => ({ kind: 'success-body', body: null }),
    message: () => /^Portkey answered HTTP 200 without the documented id and invite_link \(expected/,
    outcome: 'not_found_after_bad_response',
    upstreamStatus: 200,
    ambiguous: true,
  },
  {
    label: 'a 200 with numbers for id and invite_link',
    fault: () => ({ kind: 'success-body', body: { id: 42, invite_link: 7 } }),
    message: () => /^Portkey answered HTTP 200 without the documented id and invite_link \(expected/,
    outcome: 'not_found_after_bad_response',
    upstreamStatus: 200,
    ambiguous: true,
  },
];

// Every promise holds over both transports: undici (Node's default) and fetch (Workers').
describe.each(TRANSPORTS)('over the %s transport', (_name, makeTransport) => {
  beforeAll(async () => {
    server = await startServerOver(makeTransport());
  });

  describe('each upstream fault: a precise isError, audited, not retried, nobody else affected', () => {
    it.each(FAULTS)('$label', async (c) => {
      const email = freshEmail('fault');
      const other = freshEmail('globex');
      acme.failNext(c.fault());
      // Another tenant calls its own Portkey at the same time.
      const [faulty, concurrent] = await Promise.all([invite('acme', email), invite('globex', other)]);

      expect(faulty.status).toBe(200);
      expect(faulty.result.isError).toBe(true);
      expect(faulty.result.structuredContent).toBeUndefined();
      const text = resultText(faulty.result);
      expect(text).toMatch(c.message(email));
      expect(text).not.toMatch(/<html|<body|Failed to invite user/i);
      if (c.ambiguous) expect(text).not.toMatch(/try again later|retry after|wait a minute/i);
      expectNoSecretsInHeaders(faulty.headers);

      // Exactly one POST reached Portkey: never retried. An unknown outcome or a 409 is followed by one lookup.
      const lookedUp = c.ambiguous || c.upstreamStatus === 409;
      expect(acme.requests.map((r) => r.method)).toEqual(lookedUp ? ['POST', 'GET'] : ['POST']);
      expect(acme.requests[0]).toMatchObject({ method: 'POST', path: '/v1/admin/users/invites' });
      expect(acme.requests[0]!.headers['x-portkey-api-key']).toBe(ACME_KEY);
      expect(validateCreateInvite(acme.requests[0]!.body)).toBeUndefined();

      expectSuccess(concurrent, other);
      expect(globex.requests).toHaveLength(1);
      expect(globex.requests[0]!.headers['x-portkey-api-key']).toBe(GLOBEX_KEY);

      const audit = auditFor(email);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ tenant: 'acme', sub: 'alice', outcome: c.outcome, upstream_status: c.upstreamStatus, invite_id: null });
      // An answered call records how long Portkey took, errors included; an unanswered one has no latency.
      expect(audit[0]!.upstream_latency_ms).toEqual(c.upstreamStatus === null ? null : expect.any(Number));
      expect(auditFor(other)[0]).toMatchObject({ tenant: 'globex', outcome: 'invited' });

      await expectHealthy();
    });
  });

  describe("a tenant's own key is refused by Portkey: the message names the tenant, never the key", () => {
    it.each([
      {
        tenant: 'revoked',
        key: REVOKED_KEY,
        message: /^Portkey refused the invite \(HTTP 401, AB05\): Unauthorised Request\. Portkey did not accept the admin API key configured for tenant "revoked": it is wrong, revoked or expired, or it lacks the permission/,
        outcome: 'portkey_AB05',
        status: 401,
      },
      {
        tenant: 'wskey',
        key: SECRETS.workspaceKey,
        message: /^Portkey refused the invite \(HTTP 403, AB03\): You do not have enough permissions to execute this request\. The admin API key configured for tenant "wskey" lacks the rights to invite users/,
        outcome: 'portkey_AB03',
        status: 403,
      },
    ])('tenant $tenant gets HTTP $status', async ({ tenant, key, message, outcome, status }) => {
      const email = freshEmail(tenant);
      const o = await invite(tenant, email);
      expect(o.result.isError).toBe(true);
      expect(resultText(o.result)).toMatch(message);
      expectNoSecretsInHeaders(o.headers);
      expect(acme.requests).toHaveLength(1);
      expect(acme.requests[0]!.headers['x-portkey-api-key']).toBe(key);
      expect(acme.invites).toHaveLength(0);
      expect(auditFor(email)[0]).toMatchObject({ tenant, outcome, upstream_status: status });
      await expectHealthy();
    });
  });

  describe('a hanging Portkey', () => {
    it("does not hold up other tenants or other callers of the same tenant while it hangs", async () => {
      const hungEmail = freshEmail('hung');
      acme.failNext({ kind: 'delay', ms: 5000 });
      const started = performance.now();
      const hung = invite('acme', hungEmail);
      // Let the hung call reach Portkey before the others start.
      await new Promise((r) => setTimeout(r, 50));
      const others = await Promise.all([
        ...Array.from({ length: 8 }, (_, i) => invite('globex', `g${i}-${freshEmail('during')}`)),
        invite('acme', freshEmail('same-tenant'), 'bob'),
      ]);
      const hungResult = await hung;

      for (const o of others) expect(o.result.isError, resultText(o.result)).toBeFalsy();
      for (const o of others) expect(o.finishedAt).toBeLessThan(hungResult.finishedAt);
      expect(hungResult.result.isError).toBe(true);
      expect(resultText(hungResult.result)).toMatch(new RegExp(`did not answer within ${TIMEOUT_MS} ms\\. ${NOT_FOUND(hungEmail).source}`));
      // The deadline held: the caller was answered long before Portkey's 5 s reply.
      expect(hungResult.finishedAt - started).toBeLessThan(TIMEOUT_MS + 1500);
      // The hung POST, its one lookup, and bob's POST.
      expect(acme.requests.filter((r) => r.headers['x-portkey-api-key'] === ACME_KEY).map((r) => r.method).sort()).toEqual(['GET', 'POST', 'POST']);
      expect(globex.requests).toHaveLength(8);
      expect(auditFor(hungEmail)[0]).toMatchObject({ outcome: 'not_found_after_timeout', upstream_status: null });
      await expectHealthy();
    });

    it('times out a reply whose headers came in time but whose body stalls, as an unknown outcome', async () => {
      const email = freshEmail('stall');
      const before = stall.requests;
      const o = await invite('stall', email);
      expect(o.result.isError).toBe(true);
      expect(resultText(o.result)).toMatch(new RegExp(`^Portkey \\(${ANY_HOST}\\) did not answer within ${TIMEOUT_MS} ms\\. ${AMBIGUOUS(email).source}`));
      // The POST, then the lookup, which stalls as well: the lookup failed, so the message is the one without it.
      expect(stall.requests - before).toBe(2);
      expect(auditFor(email)[0]).toMatchObject({ tenant: 'stall', outcome: 'timeout', reconcile: 'failed', reconcile_status: null });
      await expectHealthy();
    });
  });

  describe('a Portkey that comes back', () => {
    it('a stopped double gives "unreachable", and the next call after its restart succeeds', async () => {
      await globex.stop();
      const email = freshEmail('down');
      const down = await invite('globex', email);
      expect(down.result.isError).toBe(true);
      expect(resultText(down.result)).toMatch(/^Portkey is unreachable at 127\.0\.0\.1:\d+ \(ECONNREFUSED\); the request was not delivered, so no invite was created\./);
      expect(auditFor(email)[0]).toMatchObject({ tenant: 'globex', outcome: 'portkey_unreachable' });
      // acme is unaffected meanwhile
      const a = freshEmail('meanwhile');
      expectSuccess(await invite('acme', a), a);

      await globex.restart();
      const back = freshEmail('back');
      expectSuccess(await invite('globex', back), back);
      expect(globex.requests).toHaveLength(1);
    });
  });
});
