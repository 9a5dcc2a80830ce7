import * as z from 'zod';
import { LOG_LEVELS } from '../log.js';

/**
 * Every environment variable the server reads, each with its bound and, beside it, the hint a
 * wrong value is answered with (`.describe()`), so a bound and its wording cannot drift apart.
 */

export const DEFAULT_PORTKEY_BASE_URL = 'https://api.portkey.ai/v1';
export const DEFAULT_REQUIRED_SCOPES = ['portkey.invite'];
export const DEFAULT_ADMIN_SCOPE = 'portkey.invite.admin';
/** jose refetches a JWKS at most once per cooldown for an unknown kid: below a second, every forged `kid` would be a fetch. */
const MIN_JWKS_COOLDOWN_MS = 1_000;

export type Env = Record<string, string | undefined>;

/** List settings: comma- or space-separated. */
export const list = (value: string | undefined): string[] =>
  (value ?? '').split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

const httpUrl = z.url({ protocol: /^https?$/ });
const wholeNumber = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const envSchema = z.object({
  PORT: wholeNumber(0, 65535).default(8787).describe('a whole number from 0 to 65535'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: httpUrl.optional().describe('the public http(s) URL clients reach this server at, e.g. https://mcp.example.com'),
  AUTH_JWT_SECRET: z.string().optional(),
  AUTH_PUBLIC_KEY: z.string().optional(),
  AUTH_JWKS_URL: httpUrl.optional().describe("an http(s) URL of the issuer's JWKS, e.g. https://issuer.example.com/.well-known/jwks.json"),
  AUTH_JWKS_COOLDOWN_MS: z.coerce.number().int().min(MIN_JWKS_COOLDOWN_MS).default(30_000)
    .describe(`a whole number of milliseconds, at least ${MIN_JWKS_COOLDOWN_MS} (default 30000)`),
  AUTH_ALGORITHMS: z.string().optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_SERVERS: z.string().optional(),
  AUTH_REQUIRED_SCOPES: z.string().optional(),
  AUTH_ADMIN_SCOPE: z.string().optional(),
  AUTH_CONNECT_SCOPES: z.string().optional(),
  TENANT_CLAIM: z.string().min(1).default('org_id'),
  TENANTS: z.string().optional(),
  EXPOSED_TOOLS: z.string().optional(),
  PORTKEY_API_KEY: z.string().optional(),
  PORTKEY_BASE_URL: httpUrl.default(DEFAULT_PORTKEY_BASE_URL).describe('an http(s) URL such as https://api.portkey.ai/v1'),
  PORTKEY_ALLOWED_HOSTS: z.string().optional(),
  PORTKEY_SANDBOX: z.enum(['on', 'off']).optional()
    .describe('on (answer tool calls from the embedded Portkey sandbox; local mode only, its default there without a Portkey key) or off'),
  INSECURE_HTTP_HOSTS: z.string().optional(),
  PORTKEY_TIMEOUT_MS: wholeNumber(1, 120_000).default(10_000).describe('a whole number of milliseconds from 1 to 120000 (default 10000)'),
  ALLOWED_ORIGINS: z.string().optional(),
  ALLOWED_HOSTS: z.string().optional(),
  RATE_LIMIT_TENANT_PER_MINUTE: z.coerce.number().int().min(0).default(60).describe('a whole number of calls per minute, 0 for no limit (default 60)'),
  RATE_LIMIT_CALLER_PER_MINUTE: z.coerce.number().int().min(0).default(20).describe('a whole number of calls per minute, 0 for no limit (default 20)'),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info').describe(`one of ${LOG_LEVELS.join(', ')} (default info)`),
  TRUST_PROXY: wholeNumber(0, 16).default(0)
    .describe('the number of reverse proxies in front of this server that append to X-Forwarded-For, from 0 to 16 (default 0: the header is ignored)'),
  SHUTDOWN_DRAIN_MS: wholeNumber(0, 600_000).default(0)
    .describe('a whole number of milliseconds from 0 to 600000 (default 0; 10000-15000 behind a load balancer)'),
  // Above the usual load-balancer idle timeout (60 s): the balancer, not us, should close idle connections.
  HTTP_KEEP_ALIVE_TIMEOUT_MS: wholeNumber(1, 3_600_000).default(65_000)
    .describe("a whole number of milliseconds from 1 to 3600000, above your load balancer's idle timeout (default 65000)"),
  // Below the usual file-descriptor limit (1024 soft on many systems), with room for Portkey's pool and logs.
  HTTP_MAX_CONNECTIONS: wholeNumber(1, 1_000_000).default(900)
    .describe('a whole number of connections from 1 to 1000000, below the file-descriptor limit (ulimit -n) (default 900)'),
  // One address's share when no trusted proxy stands in front (TRUST_PROXY=0); a NAT of many users fits under it.
  HTTP_MAX_CONNECTIONS_PER_PEER: wholeNumber(1, 1_000_000).default(100)
    .describe('a whole number of connections one client address may hold open, from 1 to 1000000 (default 100; not applied with TRUST_PROXY)'),
  // REDIS_URL is checked by redisSettings(), which never echoes it: it may carry a password.
  REDIS_URL: z.string().optional(),
  TENANTS_REDIS_PREFIX: z.string().min(1).max(200).optional(),
  TENANTS_CACHE_TTL_MS: wholeNumber(0, 3_600_000).default(30_000).describe('a whole number of milliseconds from 0 to 3600000 (default 30000)'),
  RATE_LIMIT_REDIS_FALLBACK: z.enum(['none', 'memory']).default('none')
    .describe('none (refuse invite_user while Redis is unreachable, the default) or memory (count per process meanwhile)'),
  NODE_ENV: z.string().optional(),
});

export type EnvValues = z.infer<typeof envSchema>;

/**
 * Every variable name this server reads: the schema's, plus those read outside it (by an entry,
 * or as a binding). The one list unknown-variable warnings are checked against: add new names
 * to the schema, or here.
 */
export const KNOWN_VARIABLES: readonly string[] = [
  ...Object.keys(envSchema.shape),
  'TENANTS_FILE', // Node: read by the entry into TENANTS
  'TENANTS_KV', // Workers: a KV namespace binding
  'TENANT_RATE_LIMITER', // Workers: rate-limiting bindings
  'CALLER_RATE_LIMITER',
];

/**
 * The server's own settings. A tenant's `{"env": NAME}` may never name one of these, even one
 * that starts with PORTKEY_KEY_.
 */
export const SERVER_VARIABLES: ReadonlySet<string> = new Set(KNOWN_VARIABLES);

/** Empty strings count as unset, so `FOO=` in a .env file means "use the default". */
export function withoutEmpty(env: Env): Env {
  const out: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') out[k] = v.trim();
  return out;
}

/** Each variable parsed on its own, so one bad value does not hide the next. */
export function parseEachVariable(env: Env, problems: string[]): { e: EnvValues; invalid: Set<string> } {
  const invalid = new Set<string>();
  const valid: Env = {};
  for (const [name, schema] of Object.entries(envSchema.shape)) {
    if (env[name] === undefined) continue;
    const r = (schema as z.ZodType).safeParse(env[name]);
    if (r.success) {
      valid[name] = env[name];
      continue;
    }
    invalid.add(name);
    const hint = (schema as z.ZodType).description;
    problems.push(`Invalid ${name}: ${r.error.issues[0]!.message}.${hint ? ` Expected ${hint}.` : ''}`);
  }
  return { e: envSchema.parse(valid), invalid };
}
