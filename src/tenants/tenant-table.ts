import * as z from 'zod';
import { plainHttpUrl } from '../config/urls.js';
import { ConfigError } from '../errors.js';

/** What a tenant's callers may grant. An absent list means unrestricted. */
export interface TenantPolicy {
  orgRoles?: string[];
  workspaces?: string[];
  workspaceRoles?: string[];
  apiKeyScopes?: string[];
}

export interface Tenant {
  id: string;
  /** The tenant's Portkey admin API key. Never logged, never sent anywhere but Portkey. */
  apiKey: string | undefined;
  baseUrl: string;
  allow: TenantPolicy;
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
    })
    .optional(),
});

export type TenantEntry = z.infer<typeof tenantEntrySchema>;

const ALLOWED_FIELDS: Record<string, string> = {
  '': 'apiKey, baseUrl, allow',
  apiKey: 'env',
  allow: 'orgRoles, workspaces, workspaceRoles, apiKeyScopes',
};

/**
 * Parses the TENANTS document. Error messages name the tenant and the field; they never echo a
 * value, since a value may be a key.
 */
export function parseTenantsJson(
  json: string,
  env: Record<string, string | undefined>,
  defaultBaseUrl: string,
  source = 'TENANTS',
): Map<string, Tenant> {
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
    tenants.set(id, parseTenantEntry(id, entry, env, defaultBaseUrl));
  }
  if (tenants.size === 0) throw new ConfigError(`${source} has no tenants: add at least one entry, or use PORTKEY_API_KEY.`);
  return tenants;
}

export function parseTenantEntry(id: string, entry: unknown, env: Record<string, string | undefined>, defaultBaseUrl: string): Tenant {
  const parsed = tenantEntrySchema.safeParse(entry);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(entry)';
    const what =
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; allowed: ${ALLOWED_FIELDS[issue.path.join('.')] ?? 'see the README'}`
        : field === 'apiKey' && isMissing(entry, 'apiKey')
          ? 'missing; give the key as a string or as {"env": "VAR_NAME"}'
          : describeIssue(issue);
    throw new ConfigError(`Tenant ${JSON.stringify(id)}: ${field}: ${what}.`);
  }
  const { apiKey, baseUrl, allow } = parsed.data;
  if (baseUrl !== undefined) plainHttpUrl(baseUrl, `Tenant ${JSON.stringify(id)}: baseUrl`, 'https://portkey.example.com/v1');
  let key: string;
  if (typeof apiKey === 'string') {
    key = apiKey;
  } else {
    const fromEnv = env[apiKey.env]?.trim();
    if (!fromEnv) {
      throw new ConfigError(`Tenant ${JSON.stringify(id)}: apiKey: variable ${apiKey.env} is not set; set it to the tenant's Portkey admin API key.`);
    }
    key = fromEnv;
  }
  return { id, apiKey: key, baseUrl: baseUrl ?? defaultBaseUrl, allow: allow ?? {} };
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
      return 'expected a string or {"env": "VAR_NAME"}';
    default:
      return 'invalid value';
  }
}
