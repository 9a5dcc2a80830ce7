import * as z from 'zod';
import { keyHeaderProblem } from '../config/header-safe.js';
import { plainHttpProblem } from '../config/plain-http.js';
import { checkOriginAndPath } from '../config/origin-and-path.js';
import { ConfigError } from '../errors.js';
import type { UpstreamHosts } from './upstream-hosts.js';
import { normaliseDomainRule } from './email-domains.js';
import { TOOL_NAMES, type ToolName } from './tool-names.js';

/** What a tenant's callers may grant. An absent list means unrestricted. */
export interface TenantPolicy {
  orgRoles?: string[];
  workspaces?: string[];
  workspaceRoles?: string[];
  apiKeyScopes?: string[];
  /** Invitee email domains, normalised (lowercase, IDN as punycode): `example.com`, or `*.example.com` for its subdomains. */
  emailDomains?: string[];
}

export interface Tenant {
  id: string;
  /** The tenant's Portkey admin API key. Never logged, never sent anywhere but Portkey. */
  apiKey: string | undefined;
  baseUrl: string;
  allow: TenantPolicy;
  /** The tools this tenant's callers see and may call; undefined: the server's default (EXPOSED_TOOLS). */
  tools?: readonly ToolName[];
}

export type TenantTable =
  | { mode: 'single'; tenant: Tenant }
  | { mode: 'multi'; tenants: ReadonlyMap<string, Tenant> };


const nonEmptyStrings = z.array(z.string().min(1)).min(1);

const tenantEntrySchema = z.strictObject({
  apiKey: z.union([z.string().min(1), z.strictObject({ env: z.string().min(1) })]),
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  allow: z
    .strictObject({
      orgRoles: z.array(z.enum(['admin', 'member'])).optional(),
      workspaces: nonEmptyStrings.optional(),
      workspaceRoles: z.array(z.enum(['admin', 'member', 'manager'])).optional(),
      apiKeyScopes: z.array(z.string().min(1)).optional(),
      emailDomains: z.array(z.string().min(1).max(253)).min(1).optional(),
    })
    .optional(),
  tools: z.array(z.enum(TOOL_NAMES as [ToolName, ...ToolName[]])).min(1).optional(),
});

export type TenantEntry = z.infer<typeof tenantEntrySchema>;

const ALLOWED_FIELDS: Record<string, string> = {
  '': 'apiKey, baseUrl, allow, tools',
  apiKey: 'env',
  allow: 'orgRoles, workspaces, workspaceRoles, apiKeyScopes, emailDomains',
};

/** What a tenant entry is read against: where `{"env"}` keys come from, and what baseUrl may be. */
export interface TenantContext {
  /** Variables `{"env": NAME}` is looked up in. Only tenant-key variables may be named (see keyVariableProblem). */
  env: Record<string, string | undefined>;
  /** The base URL of tenants that name none (PORTKEY_BASE_URL). */
  defaultBaseUrl: string;
  /** When set, a baseUrl's host must be one of these (PORTKEY_ALLOWED_HOSTS). */
  allowedHosts?: UpstreamHosts;
  /** Every variable the server reads as a setting: never a tenant key, whatever its name. */
  serverVariables: ReadonlySet<string>;
  /** INSECURE_HTTP_HOSTS: non-loopback hosts a baseUrl may reach over plain http. */
  insecureHttpHosts?: readonly string[];
  /**
   * An external tenant store (Workers KV, Redis): written by more hands than the environment, so
   * an entry may read only its own tenant's key variable (PORTKEY_KEY_<ID>), never another's.
   */
  external?: boolean;
}

/**
 * A tenant's `{"env": NAME}` may only name a variable meant to hold a tenant key: NAME starts with
 * this prefix. Without the rule, whoever writes a tenant entry (KV is written by more hands than
 * the environment) could point it at AUTH_JWT_SECRET, have it sent to an upstream, and mint
 * tokens for every tenant.
 */
export const TENANT_KEY_PREFIX = 'PORTKEY_KEY_';
const TENANT_KEY_VARIABLE = /^PORTKEY_KEY_[A-Za-z0-9_]+$/;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * Parses the TENANTS document. Error messages name the tenant and the field; they never echo a
 * value, since a value may be a key.
 */
export function parseTenantsJson(json: string, context: TenantContext, source = 'TENANTS'): Map<string, Tenant> {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new ConfigError(`${source} is not valid JSON: expected {"<tenant id>": {"apiKey": ... }, ...}.`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`${source} must be a JSON object mapping tenant ids to {"apiKey": ...} entries.`);
  }
  const tenants = new Map<string, Tenant>();
  for (const [id, entry] of Object.entries(doc as Record<string, unknown>)) {
    tenants.set(id, parseTenantEntry(id, entry, context));
  }
  if (tenants.size === 0) throw new ConfigError(`${source} has no tenants: add at least one entry, or use PORTKEY_API_KEY.`);
  return tenants;
}

/** Parses one tenant entry. The messages are for the operator: they may name variables, never values. */
export function parseTenantEntry(id: string, entry: unknown, context: TenantContext): Tenant {
  const parsed = tenantEntrySchema.safeParse(entry);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(entry)';
    const what =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${ALLOWED_FIELDS[issue.path.join('.')] ?? 'see docs/auth.md#tenants'}`
        : field === 'apiKey' && isMissing(entry, 'apiKey')
          ? `missing; give the key as a string or as {"env": "${TENANT_KEY_PREFIX}..."}`
          : describeIssue(issue);
    throw new ConfigError(`Tenant ${JSON.stringify(id)}: ${field}: ${what}.`);
  }
  const { apiKey, baseUrl, allow, tools } = parsed.data;
  if (baseUrl !== undefined) {
    checkOriginAndPath(baseUrl, `Tenant ${JSON.stringify(id)}: baseUrl`, 'https://portkey.example.com/v1');
    const plain = plainHttpProblem(baseUrl, `Tenant ${JSON.stringify(id)}: baseUrl`, context.insecureHttpHosts ?? []);
    if (plain) throw new ConfigError(plain);
    if (context.allowedHosts && !context.allowedHosts.allows(baseUrl)) {
      const url = new URL(baseUrl);
      throw new ConfigError(
        `Tenant ${JSON.stringify(id)}: baseUrl: host ${JSON.stringify(url.host)} is not in PORTKEY_ALLOWED_HOSTS ` +
          `(allowed: ${context.allowedHosts.names.join(', ')}); add ${url.port ? 'it, with its port,' : 'it'} there if this tenant's keys may be sent to it.`,
      );
    }
  }
  let key: string;
  if (typeof apiKey === 'string') {
    key = apiKey;
  } else {
    const problem = keyVariableProblem(id, apiKey.env, context.serverVariables) ?? (context.external ? notOwnKeyProblem(id, apiKey.env, context.serverVariables) : undefined);
    if (problem) throw new ConfigError(`Tenant ${JSON.stringify(id)}: apiKey: ${problem}`);
    const fromEnv = context.env[apiKey.env]?.trim();
    if (!fromEnv) {
      throw new ConfigError(`Tenant ${JSON.stringify(id)}: apiKey: variable ${apiKey.env} is not set; set it to the tenant's Portkey admin API key.`);
    }
    key = fromEnv;
  }
  const unsendable = keyHeaderProblem(key);
  if (unsendable) {
    const where = typeof apiKey === 'string' ? 'apiKey' : `apiKey (variable ${apiKey.env})`;
    throw new ConfigError(`Tenant ${JSON.stringify(id)}: ${where}: ${unsendable}`);
  }
  let policy: TenantPolicy = allow ?? {};
  if (policy.emailDomains) {
    const rules = policy.emailDomains.map(normaliseDomainRule);
    const bad = policy.emailDomains.filter((_, i) => rules[i] === undefined);
    if (bad.length) {
      throw new ConfigError(
        `Tenant ${JSON.stringify(id)}: allow.emailDomains has ${bad.length} entr${bad.length > 1 ? 'ies' : 'y'} that ${bad.length > 1 ? 'are' : 'is'} not a domain: write example.com, or *.example.com for its subdomains.`,
      );
    }
    policy = { ...policy, emailDomains: rules as string[] };
  }
  return { id, apiKey: key, baseUrl: baseUrl ?? context.defaultBaseUrl, allow: policy, ...(tools ? { tools } : {}) };
}

/** Why `{"env": name}` may not be used, with the exact rename; undefined when it may. */
function keyVariableProblem(tenantId: string, name: string, serverVariables: ReadonlySet<string>): string | undefined {
  if (TENANT_KEY_VARIABLE.test(name) && !serverVariables.has(name)) return undefined;
  const suggested = suggestedKeyVariable(tenantId, serverVariables);
  const fix = `put the key in a variable named ${suggested} and write {"env": "${suggested}"}`;
  // A value that is not a variable name might be a key pasted in the wrong place: never echo it.
  if (!VARIABLE_NAME.test(name)) return `{"env"} must name a variable (letters, digits, _) starting with ${TENANT_KEY_PREFIX}: ${fix}.`;
  if (serverVariables.has(name)) {
    return `{"env": "${name}"} names one of this server's own settings, which a tenant entry may never read: ${fix}.`;
  }
  return (
    `{"env": "${name}"} is not allowed: a tenant key may only be read from a variable whose name starts with ${TENANT_KEY_PREFIX} ` +
    `(so no tenant entry can read the server's own secrets). Rename the variable ${name} to ${suggested} and write {"env": "${suggested}"}.`
  );
}

/**
 * Tenant ids whose key variable is theirs alone: lowercase letters and digits, single underscores
 * between them. Upper-casing them is one-to-one; for any other id it is not ("Acme", "acme-",
 * "ıbm", "oﬃce", "glaß", "acme" + a zero-width space all map onto another id's variable).
 */
const ONE_TO_ONE_ID = /^[a-z0-9]+(?:_[a-z0-9]+)*$/;

/** An external store's entry naming another tenant's key variable: "evil" may not read PORTKEY_KEY_ACME. */
function notOwnKeyProblem(tenantId: string, name: string, serverVariables: ReadonlySet<string>): string | undefined {
  if (!ONE_TO_ONE_ID.test(tenantId) || tenantId.length > 64) {
    return (
      `{"env"} is allowed in the tenant store only for tenant ids made of lowercase letters, digits and single underscores (up to 64), ` +
      `whose key variable PORTKEY_KEY_<ID> belongs to them alone; this id is not one. Carry the key inline ("apiKey": "<key>") in this entry.`
    );
  }
  const own = suggestedKeyVariable(tenantId, serverVariables);
  if (name === own) return undefined;
  return (
    `{"env": "${name}"} is not this tenant's key variable: an entry in the tenant store may read only its own, ` +
    `${own} (PORTKEY_KEY_ and the tenant id in capitals, other characters as _), or carry the key inline. ` +
    `Set ${own} and write {"env": "${own}"}.`
  );
}

/** PORTKEY_KEY_<TENANT ID in capitals>, e.g. PORTKEY_KEY_ACME for "acme". */
function suggestedKeyVariable(tenantId: string, serverVariables: ReadonlySet<string>): string {
  const stem = tenantId.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64);
  const name = `${TENANT_KEY_PREFIX}${stem || 'TENANT'}`;
  return serverVariables.has(name) ? `${name}_KEY` : name;
}

/** zod 4 reports an absent union field as `invalid_union` and omits the input, so look at the entry itself. */
function isMissing(entry: unknown, key: string): boolean {
  return typeof entry === 'object' && entry !== null && !Array.isArray(entry) && !Object.hasOwn(entry, key);
}

/** A zod issue in words, without the offending value (it might be a secret). */
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${issue.expected}`;
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return `expected ${issue.format === 'url' ? 'an http(s) URL' : issue.format}`;
    case 'too_small':
      return 'must not be empty';
    case 'invalid_union':
      return `expected a string or {"env": "${TENANT_KEY_PREFIX}..."}`;
    default:
      return 'invalid value';
  }
}
