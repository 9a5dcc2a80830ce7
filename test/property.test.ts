/**
 * Property-based tests (fast-check) against the real server on loopback, with raw JSON-RPC so
 * that invalid shapes can be generated too. Whatever is generated, the server answers within its
 * contract (never a 5xx; a success whose structuredContent fits the output schema, or isError with
 * text), and whatever it sends Portkey validates against CreateInvite.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inviteUserInput, inviteUserOutput } from '../src/tools/invite-user-schema.js';
import { toCreateInvite } from '../src/tools/invite-user.js';
import { RESOURCE, SECRETS, postMcp, rememberSecret, resultText, serverPool, token, type TestServer } from './support/harness.js';
import { startPortkeyDouble, validateCreateInvite, type PortkeyDouble } from './support/portkey-double.js';

/** Modest by default so the file runs in seconds; PROPERTY_RUNS=2000 for a deeper search. */
const NUM_RUNS = Number(process.env.PROPERTY_RUNS) || 150;
const ACME_KEY = SECRETS.portkeyKey;
const GLOBEX_KEY = SECRETS.otherTenantKey;

let acme: PortkeyDouble;
let globex: PortkeyDouble;
let single: TestServer;
let multi: TestServer;
let adminBearer: string;
const startServer = serverPool();

beforeAll(async () => {
  acme = await startPortkeyDouble({ adminKeys: [ACME_KEY] });
  globex = await startPortkeyDouble({ adminKeys: [GLOBEX_KEY] });
  single = await startServer({ PORTKEY_API_KEY: ACME_KEY, PORTKEY_BASE_URL: acme.url });
  multi = await startServer({
    TENANTS: JSON.stringify({ acme: { apiKey: ACME_KEY, baseUrl: acme.url }, globex: { apiKey: GLOBEX_KEY, baseUrl: globex.url } }),
    // Limits on, but high: generated `sub`s and tenants go through the limiter's keys too.
    RATE_LIMIT_TENANT_PER_MINUTE: '100000',
    RATE_LIMIT_CALLER_PER_MINUTE: '100000',
  });
  adminBearer = await token({ scope: 'portkey.invite portkey.invite.admin' });
});
afterAll(async () => {
  await acme?.close();
  await globex?.close();
});

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** What the server receives of a value sent as JSON (undefined: the key is left out). */
const roundTrip = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

/** Every request Portkey received is a valid CreateInvite, sent with the tenant's own key. */
function expectValidUpstream(double: PortkeyDouble, key: string): void {
  for (const r of double.requests) {
    expect(r.method).toBe('POST');
    expect(r.headers['x-portkey-api-key']).toBe(key);
    expect(validateCreateInvite(r.body), r.rawBody).toBeUndefined();
  }
}

/** What a tool result must look like either way. */
function expectToolResultShape(result: { isError?: boolean; structuredContent?: unknown; content?: unknown }): void {
  if (result.isError) {
    expect(resultText(result).trim().length).toBeGreaterThan(0);
    expect(result.structuredContent).toBeUndefined();
  } else {
    expect(inviteUserOutput.strict().safeParse(result.structuredContent).success, JSON.stringify(result.structuredContent)).toBe(true);
    expect(JSON.parse(resultText(result)).message).toMatch(/^Successfully invited /);
  }
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Values that break a field: wrong types, control characters, pollution keys, oversize. */
const nasty = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '\r\n', 'a\r\nX-Evil: 1', 'nul\u0000', 'del\u007f', '__proto__', 'constructor', 'prototype', 'x'.repeat(600)),
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.anything({ maxDepth: 2 }),
);
const sometimes = <T>(good: fc.Arbitrary<T>, goodWeight = 6) => fc.oneof({ weight: goodWeight, arbitrary: good }, { weight: 1, arbitrary: nasty });

const printable = fc.stringMatching(/^[^\u0000-\u001F\u007F]{1,40}$/);
const workspaceId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,40}$/);
const scopeName = fc.stringMatching(/^[A-Za-z0-9_.:*-]{1,40}$/);
/** Addresses the schema's (stricter than RFC 5322) email check accepts. */
const email = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9_'+-]{0,20}[A-Za-z0-9_+-](\.[A-Za-z0-9_+-]{1,10})?$/), fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,15}\.[A-Za-z]{2,8}$/))
  .map(([local, domain]) => `${local}@${domain}`);
const expiry = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());
const metadataKey = fc.oneof(fc.string({ minLength: 1, maxLength: 64 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString'));

/** Arguments that are valid by construction (sizes inside every bound). */
const validArgs = fc.record(
  {
    email,
    role: fc.constantFrom('admin', 'member'),
    first_name: printable,
    last_name: printable,
    workspaces: fc.array(fc.record({ id: workspaceId, role: fc.constantFrom('admin', 'member', 'manager') }), { maxLength: 50 }),
    workspace_api_key_details: fc.record(
      {
        name: printable,
        expiry,
        metadata: fc.dictionary(metadataKey, fc.string({ maxLength: 512 }), { maxKeys: 32 }),
        scopes: fc.array(scopeName, { minLength: 1, maxLength: 100 }),
      },
      { requiredKeys: ['scopes'] },
    ),
  },
  { requiredKeys: ['email', 'role', 'workspaces'] },
);

/** Arguments near the valid ones: any field may be broken, missing, oversized, or extra. */
const hostileArgs = fc.record(
  {
    email: sometimes(fc.oneof(email, fc.emailAddress(), fc.constant(`${'a'.repeat(243)}@example.com`), fc.constant(`${'a'.repeat(242)}@example.com`))),
    role: sometimes(fc.constantFrom('admin', 'member', 'owner', 'ADMIN')),
    first_name: sometimes(printable),
    last_name: sometimes(printable),
    workspaces: sometimes(
      fc.array(sometimes(fc.record({ id: sometimes(workspaceId), role: sometimes(fc.constantFrom('admin', 'member', 'manager')) }), 20), { maxLength: 53 }),
    ),
    workspace_api_key_details: sometimes(
      fc.record(
        {
          name: sometimes(printable),
          expiry: sometimes(fc.oneof(expiry, fc.constantFrom('2027-01-01', 'tomorrow', '2027-01-01T00:00:00'))),
          metadata: sometimes(fc.dictionary(fc.oneof(metadataKey, fc.string({ minLength: 60, maxLength: 70 })), sometimes(fc.string({ maxLength: 520 }), 20), { maxKeys: 34 })),
          scopes: sometimes(fc.array(sometimes(scopeName, 20), { maxLength: 102 })),
        },
        { requiredKeys: [] },
      ),
    ),
    team: nasty,
  },
  { requiredKeys: [] },
);

const anyArgs = fc.oneof(
  { weight: 4, arbitrary: validArgs as fc.Arbitrary<unknown> },
  { weight: 4, arbitrary: hostileArgs as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 3 }) },
);

/** What the tool's input validation sees: the SDK drops a top-level "__proto__" key. */
function expectedParse(args: unknown) {
  const seen = roundTrip(args);
  if (seen !== undefined && !isPlainObject(seen)) return { kind: 'invalid-params' as const };
  const copy = seen === undefined ? undefined : Object.fromEntries(Object.entries(seen).filter(([k]) => k !== '__proto__'));
  const parsed = inviteUserInput.safeParse(copy);
  return parsed.success ? { kind: 'valid' as const, data: parsed.data } : { kind: 'invalid' as const };
}

// ---------------------------------------------------------------------------------------------
// invite_user arguments
// ---------------------------------------------------------------------------------------------

describe('invite_user over generated arguments', () => {
  it('accepts exactly what the schema accepts, sends exactly that upstream, and refuses the rest with isError', async () => {
    const seen = { valid: 0, invalid: 0, 'invalid-params': 0 };
    await fc.assert(
      fc.asyncProperty(anyArgs, async (args) => {
        acme.reset();
        const body = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'invite_user', arguments: args } };
        const res = await postMcp(single.mcpUrl, JSON.stringify(body), { authorization: `Bearer ${adminBearer}` });
        expect(res.status).toBeLessThan(500);
        const expected = expectedParse(args);
        seen[expected.kind] += 1;

        if (expected.kind === 'invalid-params') {
          expect(res.status).toBe(400);
          expect(res.json.error).toMatchObject({ code: -32602, message: expect.stringMatching(/^Invalid params for tools\/call: params\.arguments: /) });
          expect(acme.requests).toHaveLength(0);
          return;
        }
        expect(res.status).toBe(200);
        const result = res.json.result;
        expectToolResultShape(result);
        expectValidUpstream(acme, ACME_KEY);

        if (expected.kind === 'invalid') {
          expect(result.isError, JSON.stringify(result.structuredContent)).toBe(true);
          expect(acme.requests).toHaveLength(0);
          return;
        }
        const data = expected.data;
        expect(result.isError, resultText(result)).toBeFalsy();
        expect(result.structuredContent).toEqual({
          invite_id: acme.invites[0]!.id,
          invite_link: `https://app.portkey.ai/invite/${acme.invites[0]!.id}`,
          email: data.email,
          role: data.role,
          workspaces: data.workspaces,
          api_key_requested: data.workspace_api_key_details !== undefined,
        });
        expect(acme.requests).toHaveLength(1);
        expect(acme.requests[0]!.body).toEqual(roundTrip(toCreateInvite(data)));
      }),
      { numRuns: NUM_RUNS },
    );
    // The generators reach both sides of the contract, not just one.
    expect(seen.valid).toBeGreaterThan(NUM_RUNS / 10);
    expect(seen.invalid).toBeGreaterThan(NUM_RUNS / 10);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Raw JSON-RPC messages
// ---------------------------------------------------------------------------------------------

const method = fc.oneof(
  fc.constantFrom('tools/call', 'tools/list', 'initialize', 'ping', 'notifications/initialized', 'resources/list', '__proto__', 'constructor'),
  fc.string({ maxLength: 20 }),
);
const params = fc.oneof(
  fc.constant(undefined),
  fc.record({ name: fc.oneof(fc.constant('invite_user'), nasty), arguments: anyArgs, _meta: nasty }, { requiredKeys: [] }),
  fc.record({ protocolVersion: fc.oneof(fc.constant('2025-11-25'), nasty), capabilities: fc.oneof(fc.constant({}), nasty), clientInfo: fc.oneof(fc.constant({ name: 'p', version: '1' }), nasty) }, { requiredKeys: [] }),
  fc.record({ cursor: nasty }, { requiredKeys: [] }),
  fc.anything({ maxDepth: 2 }),
);
const envelope = fc.record(
  {
    jsonrpc: fc.oneof({ weight: 8, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: nasty }),
    id: fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), nasty),
    method: fc.oneof({ weight: 8, arbitrary: method }, { weight: 1, arbitrary: nasty }),
    params,
  },
  { requiredKeys: ['method'] },
);
const rawBody = fc.oneof(
  { weight: 8, arbitrary: envelope.map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.array(envelope, { maxLength: 3 }).map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
);

describe('raw JSON-RPC over generated messages', () => {
  it('always answers with a well-formed JSON-RPC response (or 202), never a 5xx or an internal error', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(rawBody, async (body) => {
        acme.reset();
        const res = await postMcp(single.mcpUrl, body, { authorization: `Bearer ${adminBearer}` });
        expect([200, 202, 400]).toContain(res.status);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expectValidUpstream(acme, ACME_KEY);
        if (res.status === 202) {
          expect(res.text).toBe('');
          expect(acme.requests).toHaveLength(0);
          return;
        }
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.json.jsonrpc).toBe('2.0');
        if (res.json.error) {
          expect(res.json.result).toBeUndefined();
          expect(Number.isInteger(res.json.error.code)).toBe(true);
          expect(res.json.error.code).not.toBe(-32603);
          expect(res.json.error.message).toEqual(expect.any(String));
          expect(res.json.error.message.length).toBeGreaterThan(0);
          expect(res.json.error.message).not.toMatch(/^\s*\[/); // never the SDK's dump of schema issues
          expect(acme.requests).toHaveLength(0);
        } else {
          expect(res.status).toBe(200);
          expect(isPlainObject(res.json.result)).toBe(true);
          const m = JSON.parse(body) as { method?: string; params?: { name?: string } };
          if (m.method === 'tools/call' && m.params?.name === 'invite_user') expectToolResultShape(res.json.result);
          expect(acme.requests.length).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: NUM_RUNS },
    );
    expect(statuses.get(200) ?? 0).toBeGreaterThan(NUM_RUNS / 10);
    expect(statuses.get(400) ?? 0).toBeGreaterThan(NUM_RUNS / 10);
  });
});

// ---------------------------------------------------------------------------------------------
// JWT claims
// ---------------------------------------------------------------------------------------------

const b64url = (v: string | Buffer) => Buffer.from(v).toString('base64url');
const HMAC = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;

/** Signs any claims object as given (no library checks), so that malformed claims can be sent. */
function signRaw(header: { alg: string; typ: string }, claims: Record<string, unknown>, secret: string): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const hash = HMAC[header.alg as keyof typeof HMAC];
  const signature = hash ? createHmac(hash, secret).update(input).digest('base64url') : '';
  return `${input}.${signature}`;
}

const now = () => Math.floor(Date.now() / 1000);
const absent = fc.constant(undefined);

const claimsArb = fc.record({
  alg: fc.oneof({ weight: 10, arbitrary: fc.constant('HS256') }, { weight: 1, arbitrary: fc.constantFrom('HS384', 'HS512', 'none', 'RS256') }),
  rightSecret: fc.oneof({ weight: 10, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  sub: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('alice', 'bob') }, { weight: 1, arbitrary: fc.oneof(absent, fc.string({ maxLength: 40 }), fc.integer(), fc.constantFrom('__proto__', 'constructor')) }),
  org_id: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('acme', 'globex') },
    { weight: 3, arbitrary: fc.oneof(absent, fc.constantFrom('', 'ACME', 'initech', '__proto__', 'constructor', 'toString', 'hasOwnProperty', ' acme'), fc.string({ maxLength: 20 }), fc.integer(), fc.array(fc.constant('acme'), { maxLength: 2 }), fc.constant({ id: 'acme' })) },
  ),
  scope: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('portkey.invite', 'portkey.invite portkey.invite.admin', 'openid  portkey.invite') },
    { weight: 3, arbitrary: fc.oneof(absent, fc.constantFrom('', 'portkey.invite.admin', 'PORTKEY.INVITE', 'portkey.invite\tportkey.invite.admin', 'portkey.invitex'), fc.string({ maxLength: 30 }), fc.integer(), fc.array(fc.constant('portkey.invite'), { maxLength: 2 })) },
  ),
  scp: fc.oneof({ weight: 6, arbitrary: absent }, { weight: 1, arbitrary: fc.oneof(fc.array(fc.constantFrom('portkey.invite', 'portkey.invite.admin', 'x'), { maxLength: 3 }), fc.string({ maxLength: 20 }), fc.constant({ 0: 'portkey.invite' })) }),
  aud: fc.oneof({ weight: 8, arbitrary: fc.constant<unknown>(RESOURCE) }, { weight: 1, arbitrary: fc.oneof(absent, fc.constant([RESOURCE, 'https://other.example/mcp']), fc.constantFrom('http://mcp.test', 'https://evil.example/mcp'), fc.integer(), fc.constant([])) }),
  expOffset: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 120, max: 86_400 }) }, { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -86_400, max: -120 }), fc.constantFrom('never', null, undefined, 1e20, Number.MAX_SAFE_INTEGER)) }),
  nbfOffset: fc.oneof({ weight: 8, arbitrary: absent }, { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -600, max: -1 }), fc.integer({ min: 300, max: 3600 }), fc.constantFrom('now', null)) }),
  iatOffset: fc.oneof({ weight: 8, arbitrary: fc.constant<unknown>(0) }, { weight: 1, arbitrary: fc.oneof(absent, fc.integer({ min: 300, max: 3600 }), fc.constantFrom('then', null, -1e9)) }),
  iss: fc.oneof({ weight: 8, arbitrary: absent }, { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()) }),
  extra: fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'polluted')), fc.anything({ maxDepth: 2 }), { maxKeys: 4 }) }),
  role: fc.constantFrom('member', 'admin'),
});

type GeneratedClaims = typeof claimsArb extends fc.Arbitrary<infer T> ? T : never;

function buildClaims(g: GeneratedClaims, t: number): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  // Extra claims first: the standard ones below win over a generated key of the same name.
  for (const [k, v] of Object.entries(g.extra)) Object.defineProperty(claims, k, { value: v, enumerable: true, writable: true, configurable: true });
  const set = (k: string, v: unknown) => {
    if (v === undefined) delete claims[k];
    else Object.defineProperty(claims, k, { value: v, enumerable: true, writable: true, configurable: true });
  };
  set('sub', g.sub);
  set('org_id', g.org_id);
  set('scope', g.scope);
  set('scp', g.scp);
  set('aud', g.aud);
  set('exp', typeof g.expOffset === 'number' && Math.abs(g.expOffset) < 1e6 ? t + g.expOffset : g.expOffset);
  set('nbf', typeof g.nbfOffset === 'number' ? t + g.nbfOffset : g.nbfOffset);
  set('iat', typeof g.iatOffset === 'number' && Math.abs(g.iatOffset) < 1e6 ? t + g.iatOffset : g.iatOffset);
  set('iss', g.iss);
  return claims;
}

/** The exact answer for the tokens whose every claim is one of the ordinary values. */
function predicted(g: GeneratedClaims): 'success' | 'tenant_error' | 'scope_403' | 'step_up_403' | undefined {
  const ordinary =
    g.alg === 'HS256' &&
    g.rightSecret &&
    (g.sub === 'alice' || g.sub === 'bob') &&
    g.aud === RESOURCE &&
    typeof g.expOffset === 'number' && g.expOffset >= 120 && g.expOffset <= 86_400 &&
    g.nbfOffset === undefined &&
    g.iatOffset === 0 &&
    g.iss === undefined &&
    g.scp === undefined &&
    Object.keys(g.extra).length === 0 &&
    typeof g.scope === 'string';
  if (!ordinary) return undefined;
  const scopes = new Set((g.scope as string).split(' ').filter(Boolean));
  if (!scopes.has('portkey.invite')) return 'scope_403';
  if (g.org_id !== 'acme' && g.org_id !== 'globex') return 'tenant_error';
  if (g.role === 'admin' && !scopes.has('portkey.invite.admin')) return 'step_up_403';
  return 'success';
}

describe('JWT claims over generated tokens', () => {
  it('gives 401, 403 or a tool result (never a 5xx), and only a token naming a tenant reaches that tenant', async () => {
    let n = 0;
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(claimsArb, async (g) => {
        acme.reset();
        globex.reset();
        const claims = buildClaims(g, now());
        const jwt = signRaw({ alg: g.alg, typ: 'JWT' }, claims, g.rightSecret ? SECRETS.jwtSecret : 'another-secret-0123456789abcdef0123456789');
        rememberSecret(jwt);
        const email = `prop-${++n}@example.com`;
        const res = await postMcp(
          multi.mcpUrl,
          { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'invite_user', arguments: { email, role: g.role, workspaces: [] } } },
          { authorization: `Bearer ${jwt}` },
        );
        expect([200, 401, 403]).toContain(res.status);
        expectValidUpstream(acme, ACME_KEY);
        expectValidUpstream(globex, GLOBEX_KEY);
        const upstream = acme.requests.length + globex.requests.length;

        let outcome: 'success' | 'tenant_error' | 'other_error' | 'scope_403' | 'step_up_403' | '401';
        if (res.status === 401) {
          expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
          expect(['invalid_token', 'invalid_request', 'unauthorized']).toContain(res.json.error);
          outcome = '401';
        } else if (res.status === 403) {
          expect(res.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
          expect(res.json.error).toBe('insufficient_scope');
          // A step-up asks for the admin scope on top of the required one.
          outcome = res.headers.get('www-authenticate')!.includes('scope="portkey.invite portkey.invite.admin"') ? 'step_up_403' : 'scope_403';
        } else {
          const result = res.json.result;
          expectToolResultShape(result);
          if (!result.isError) outcome = 'success';
          else outcome = /"org_id" claim/.test(resultText(result)) ? 'tenant_error' : 'other_error';
        }
        expect(outcome).not.toBe('other_error');
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);

        if (outcome === 'success') {
          // Only a verifiable token naming a configured tenant, with the scope, gets here…
          expect(['acme', 'globex']).toContain(claims.org_id);
          expect(g.rightSecret && g.alg.startsWith('HS')).toBe(true);
          // …and its one invite went to that tenant's Portkey only.
          const double = claims.org_id === 'acme' ? acme : globex;
          expect(double.requests).toHaveLength(1);
          expect(upstream).toBe(1);
          expect((double.requests[0]!.body as { email: string }).email).toBe(email);
        } else {
          expect(upstream).toBe(0);
        }
        if (!g.rightSecret || !g.alg.startsWith('HS')) expect(outcome).toBe('401');
        const exact = predicted(g);
        if (exact) expect(outcome).toBe(exact);
      }),
      { numRuns: NUM_RUNS },
    );
    for (const o of ['success', 'tenant_error', '401', 'scope_403']) expect(outcomes.get(o) ?? 0, o).toBeGreaterThan(NUM_RUNS / 30);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
