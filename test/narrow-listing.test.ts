/**
 * The per-tenant listing as a pure function, and its cache. The central property: for any policy
 * and any arguments, the narrowed input schema accepts exactly what the seed schema accepts AND the
 * policy allows (policy/policy.ts, the check the server runs on every call), under both JSON
 * Schema validators a client is likely to use (Ajv, which the SDK client uses, and @cfworker, which
 * this server uses). The integration side (real server, SDK client, KV) is in tenant-listing.test.ts
 * and test/workers/kv/.
 */
import fc from 'fast-check';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import type { ListToolsResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../src/auth/caller.js';
import { createLogger } from '../src/log.js';
import { createToolsListing, seedToolsListing } from '../src/mcp/tools-listing.js';
import { policyViolations, type Grant } from '../src/policy/policy.js';
import { TenantError } from '../src/errors.js';
import type { Tenant, TenantPolicy } from '../src/tenants/tenant-table.js';
import { narrowListing } from '../src/tools/narrow-listing.js';

const NUM_RUNS = Number(process.env.PROPERTY_RUNS) || 150;
const seed = seedToolsListing();
const inputOf = (l: ListToolsResult) => l.tools[0]!.inputSchema as Record<string, any>;
const validators = { ajv: new AjvJsonSchemaValidator(), cfworker: new CfWorkerJsonSchemaValidator() };
const accepts = (v: keyof typeof validators, schema: Record<string, unknown>, args: unknown) => validators[v].getValidator(schema as any)(args).valid;

// Pools mixing values that match, miss, or break the seed's own id/scope formats, and rules with
// regex syntax characters in their prefixes.
const WS_IDS = ['ws-eng', 'ws-eng-web', 'ws-engx', 'ws-data-', 'ws-data-lake', 'ws-fin', 'ws.a', 'wsXa', 'a(b', 'bad id', 'WS-ENG'];
const WS_RULES = ['ws-eng', 'ws-eng*', 'ws-data-*', 'ws.*', 'a(*', 'bad id', 'ws-fin', '*', 'bad id*'];
const SCOPES = ['logs.view', 'logs.write', 'logs.*', 'completions.write', 'completions.', 'keys.delete', '.view', 'x'];
const SCOPE_RULES = ['logs.view', 'logs.*', 'completions.*', 'keys.delete', '.*', 'a b', '*', 'logs.view*'];

const subset = <T>(pool: T[]) => fc.subarray(pool);
const policyArb: fc.Arbitrary<TenantPolicy> = fc.record(
  {
    orgRoles: subset(['admin', 'member']),
    workspaces: fc.array(fc.constantFrom(...WS_RULES), { minLength: 1, maxLength: 4 }),
    workspaceRoles: subset(['admin', 'member', 'manager']),
    apiKeyScopes: fc.array(fc.constantFrom(...SCOPE_RULES), { maxLength: 4 }),
  },
  { requiredKeys: [] },
);
const argsArb = fc.record(
  {
    email: fc.constant('jane@example.com'),
    role: fc.constantFrom('admin', 'member'),
    workspaces: fc.array(fc.record({ id: fc.constantFrom(...WS_IDS), role: fc.constantFrom('admin', 'member', 'manager') }), { maxLength: 3 }),
    workspace_api_key_details: fc.record({ scopes: fc.array(fc.constantFrom(...SCOPES), { minLength: 1, maxLength: 3 }) }),
  },
  { requiredKeys: ['email', 'role', 'workspaces'] },
);

describe('narrowListing', () => {
  it.each(Object.keys(validators) as (keyof typeof validators)[])(
    'accepts exactly what the seed accepts and the policy allows (%s)',
    (v) => {
      fc.assert(
        fc.property(policyArb, argsArb, (allow, args) => {
          const narrowed = inputOf(narrowListing(seed, allow));
          const expected = accepts(v, inputOf(seed), args) && policyViolations(allow, args as Grant).length === 0;
          expect(accepts(v, narrowed, args)).toBe(expected);
        }),
        { numRuns: NUM_RUNS },
      );
    },
  );

  it('only narrows values: the shape, field names, required fields and output schema stay the seed\'s', () => {
    fc.assert(
      fc.property(policyArb, (allow) => {
        const tool = narrowListing(seed, allow).tools[0]!;
        const seedTool = seed.tools[0]!;
        const shape = (s: any): unknown =>
          s && typeof s === 'object' && !Array.isArray(s)
            ? Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, p]) => [k, shape((p as any).items ?? p)]).concat([['required', s.required ?? []]]))
            : s;
        expect(shape(tool.inputSchema)).toEqual(shape(seedTool.inputSchema));
        expect(tool.outputSchema).toBe(seedTool.outputSchema);
        expect(tool.annotations).toEqual(seedTool.annotations);
        expect(tool.description!.startsWith(seedTool.description!)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('returns the seed itself for a policy without rules, and never changes the seed', () => {
    const before = structuredClone(seed);
    expect(narrowListing(seed, {})).toBe(seed);
    narrowListing(seed, { orgRoles: [], workspaces: ['ws-*'], workspaceRoles: ['member'], apiKeyScopes: ['logs.*'] });
    expect(seed).toEqual(before);
  });

  it('escapes a prefix for a u-flag regex and anchors it; keeps the seed id pattern beside it', () => {
    const id = inputOf(narrowListing(seed, { workspaces: ['ws.a(b-*', 'ws-eng'] })).properties.workspaces.items.properties.id;
    expect(id.anyOf).toEqual([{ enum: ['ws-eng'] }, { pattern: '^ws\\.a\\(b-' }]);
    expect(id.pattern).toBe(inputOf(seed).properties.workspaces.items.properties.id.pattern);
    expect(() => new RegExp(id.anyOf[1].pattern, 'u')).not.toThrow();
  });

  it.each([
    [{ orgRoles: [] }, /allows no invites at all \(no organisation role may be granted\)/],
    [{ workspaces: ['not a workspace id'] }, /allows no invites at all \(none of its allowed workspaces is a valid workspace id, and at least one is required\)/],
    [{ workspaces: ['ws-eng'], workspaceRoles: [] }, /allows no invites at all \(no workspace role may be granted, and at least one workspace is required\)/],
  ] as [TenantPolicy, RegExp][])('a policy that leaves nothing says the tenant cannot invite at all: %j', (allow, sentence) => {
    expect(narrowListing(seed, allow).tools[0]!.description).toMatch(sentence);
  });

  it('says in words what is left when only part of a grant is impossible', () => {
    const listing = narrowListing(seed, { workspaceRoles: [], apiKeyScopes: [] });
    const description = listing.tools[0]!.description;
    expect(inputOf(listing).properties.workspaces.maxItems).toBe(0);
    expect(description).toMatch(/allows only: no workspace roles \(workspaces must be empty\); no API key \(omit workspace_api_key_details\)\.$/);
  });
});

describe('createToolsListing', () => {
  const caller = (tenantId?: string): Caller => ({ subject: 'alice', scopes: new Set(), tenantId, claims: {} });
  const tenant = (allow: TenantPolicy): Tenant => ({ id: 'acme', apiKey: 'k', baseUrl: 'http://x', allow });
  const logs: string[] = [];
  const logger = createLogger((line) => logs.push(line));

  it('builds a listing once per policy object, and anew for a new object (a re-read KV entry)', async () => {
    let current = tenant({ orgRoles: ['member'] });
    const list = createToolsListing({ seed, resolveTenant: async () => current, logger });
    const first = await list(caller('acme'));
    expect(inputOf(first).properties.role.enum).toEqual(['member']);
    expect(await list(caller('acme'))).toBe(first);
    current = tenant({ orgRoles: ['admin', 'member'] });
    const second = await list(caller('acme'));
    expect(second).not.toBe(first);
    expect(inputOf(second).properties.role.enum).toEqual(['admin', 'member']);
  });

  it('gives the seed when the tenant has no rules or cannot be resolved', async () => {
    expect(await createToolsListing({ seed, resolveTenant: async () => tenant({}), logger })(caller('acme'))).toBe(seed);
    const failing = createToolsListing({ seed, resolveTenant: () => Promise.reject(new TenantError('unknown')), logger });
    expect(await failing(caller('nope'))).toBe(seed);
  });

  it('lists the seed, and logs once, if the seed lacks a field the narrowing needs', async () => {
    const broken: ListToolsResult = { tools: [{ ...seed.tools[0]!, inputSchema: { type: 'object', properties: {} } }] };
    const policy = tenant({ orgRoles: ['member'] });
    const list = createToolsListing({ seed: broken, resolveTenant: async () => policy, logger });
    expect(await list(caller('acme'))).toBe(broken);
    expect(await list(caller('acme'))).toBe(broken);
    expect(logs.filter((l) => l.includes('tools_list.narrowing_failed'))).toHaveLength(1);
  });
});
