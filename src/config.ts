import * as z from 'zod';
import { ConfigError } from './errors.js';
import { plainHttpUrl } from './config/urls.js';
import { keyHeaderProblem } from './config/header-safe.js';
import { INSECURE_HTTP_HOSTS, LOOPBACK_HOST, plainHttpProblem } from './config/plain-http.js';
import { parseTenantsJson, type TenantTable } from './tenants/tenant-table.js';
import { unknownVariableWarnings } from './config/unknown-variables.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { parseAllowedHosts, upstreamHosts } from './tenants/upstream-hosts.js';

export { ConfigError };

/**
 * Configuration: the only place that reads the environment. Each runtime entry hands us its
 * variables (Node: process.env plus .env; Workers: env bindings) once at start-up; everything
 * else receives the typed `Config`.
 */

export const DEFAULT_PORTKEY_BASE_URL = 'https://api.portkey.ai/v1';
export const MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_REQUIRED_SCOPES = ['portkey.invite'];
export const DEFAULT_ADMIN_SCOPE = 'portkey.invite.admin';
export { LOOPBACK_HOST };
/** jose refetches a JWKS at most once per cooldown for an unknown kid: below a second, every forged `kid` would be a fetch. */
export const MIN_JWKS_COOLDOWN_MS = 1_000;

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const;

export type KeySource =
  | { kind: 'secret'; secret: Uint8Array }
  | { kind: 'public-key'; key: string }
  | { kind: 'jwks'; url: URL; cooldownMs: number };

export interface AuthConfig {
  keySource: KeySource;
  algorithms: string[];
  issuer?: string;
  /** The audience a token must carry: AUTH_AUDIENCE, else the canonical resource URI. */
  audience: string;
  requiredScopes: string[];
  /** Scope needed to invite an org admin; undefined turns the check off. */
  adminScope?: string;
  /** RFC 9728 `authorization_servers`; empty means none is known. */
  authorizationServers: string[];
  tenantClaim: string;
  clockToleranceSec: number;
}

/** Every scope this server knows: the required ones and the admin scope (RFC 9728 scopes_supported). */
export function allScopes(auth: AuthConfig): string[] {
  return [...new Set([...auth.requiredScopes, ...(auth.adminScope ? [auth.adminScope] : [])])];
}

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  /** Canonical resource URI of the MCP endpoint (MCP authorization §2.5.1, RFC 8707 §2). */
  resource: string;
  /** True when no key source is configured: a throw-away secret signs a printed local token. */
  localMode: boolean;
  auth: AuthConfig;
  tenants: TenantTable;
  /** PORTKEY_BASE_URL: the base URL of tenants that name none. */
  portkeyBaseUrl: string;
  /** PORTKEY_ALLOWED_HOSTS as given (empty when unset); tenants/upstream-hosts.ts applies it. */
  portkeyAllowedHosts: string[];
  /** INSECURE_HTTP_HOSTS: non-loopback hosts plain http may reach (config/plain-http.ts). */
  insecureHttpHosts: string[];
  portkeyTimeoutMs: number;
  /** invite_user calls per minute; 0 turns a limit off. */
  rateLimits: { tenantPerMinute: number; callerPerMinute: number };
  allowedOrigins: string[];
  /** Extra Host names accepted besides PUBLIC_URL's (ALLOWED_HOSTS). */
  allowedHosts: string[];
  /** True when this server listens on a loopback address (HOST, on Node): loopback names and pages are its own. */
  loopback: boolean;
  /** Whether the Host header is checked (DNS-rebinding protection): on loopback, with ALLOWED_HOSTS, and always on a platform. */
  checkHost: boolean;
  maxBodyBytes: number;
  /** LOG_LEVEL: the least severe level written (audit lines are always written). */
  logLevel: LogLevel;
  /** TRUST_PROXY: how many reverse proxies in front append to X-Forwarded-For (0: ignore it). */
  trustProxyHops: number;
  /** Settings that are allowed but probably not meant (e.g. a misspelt name); the entry logs them. */
  warnings: string[];
  /** Node: after SIGTERM/SIGINT, how long to keep accepting while /readyz says 503 (load balancers). */
  shutdownDrainMs: number;
  /** Node: how long an idle keep-alive connection stays open; above a load balancer's idle timeout. */
  httpKeepAliveTimeoutMs: number;
  /** Node: most connections open at once; more are closed as soon as they are accepted. */
  httpMaxConnections: number;
  /** Node: most connections one remote address may hold; Infinity behind a trusted proxy (TRUST_PROXY), where every connection is the proxy's. */
  httpMaxConnectionsPerPeer: number;
  /** How long a tenant entry read from an external store (KV, Redis), or its absence, is trusted in this process. */
  tenantsCacheTtlMs: number;
  /** Node: shared state for several replicas (REDIS_URL); undefined when each process keeps its own. */
  redis?: RedisConfig;
}

/** Where the Redis limits keep their counters; TENANTS_REDIS_PREFIX may not overlap it. */
export const REDIS_LIMIT_KEY_PREFIX = 'pim:limit:';

export interface RedisConfig {
  /** REDIS_URL: redis:// or rediss://, credentials allowed. A secret: never logged or echoed, in whole or part. */
  url: string;
  /** The database index REDIS_URL names (its path), 0 when none. */
  db: number;
  /** TENANTS_REDIS_PREFIX: tenants not in TENANTS are looked up at <prefix><tenant id>; undefined: not at all. */
  tenantsPrefix?: string;
  /** RATE_LIMIT_REDIS_FALLBACK: while Redis is unreachable, refuse calls (fail closed) or count per process. */
  fallback: 'none' | 'memory';
}


type Env = Record<string, string | undefined>;

const list = (value: string | undefined): string[] =>
  (value ?? '').split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

const httpUrl = z.url({ protocol: /^https?$/ });

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_URL: httpUrl.optional(),
  AUTH_JWT_SECRET: z.string().optional(),
  AUTH_PUBLIC_KEY: z.string().optional(),
  AUTH_JWKS_URL: httpUrl.optional(),
  AUTH_JWKS_COOLDOWN_MS: z.coerce.number().int().min(MIN_JWKS_COOLDOWN_MS).default(30_000),
  AUTH_ALGORITHMS: z.string().optional(),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_SERVERS: z.string().optional(),
  AUTH_REQUIRED_SCOPES: z.string().optional(),
  AUTH_ADMIN_SCOPE: z.string().optional(),
  TENANT_CLAIM: z.string().min(1).default('org_id'),
  TENANTS: z.string().optional(),
  PORTKEY_API_KEY: z.string().optional(),
  PORTKEY_BASE_URL: httpUrl.default(DEFAULT_PORTKEY_BASE_URL),
  PORTKEY_ALLOWED_HOSTS: z.string().optional(),
  INSECURE_HTTP_HOSTS: z.string().optional(),
  PORTKEY_TIMEOUT_MS: z.coerce.number().int().min(1).max(120_000).default(10_000),
  ALLOWED_ORIGINS: z.string().optional(),
  ALLOWED_HOSTS: z.string().optional(),
  RATE_LIMIT_TENANT_PER_MINUTE: z.coerce.number().int().min(0).default(60),
  RATE_LIMIT_CALLER_PER_MINUTE: z.coerce.number().int().min(0).default(20),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
  TRUST_PROXY: z.coerce.number().int().min(0).max(16).default(0),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  // Above the usual load-balancer idle timeout (60 s): the balancer, not us, should close idle connections.
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1).max(3_600_000).default(65_000),
  // Below the usual file-descriptor limit (1024 soft on many systems), with room for Portkey's pool and logs.
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(1_000_000).default(900),
  // One address's share when no trusted proxy stands in front (TRUST_PROXY=0); a NAT of many users fits under it.
  HTTP_MAX_CONNECTIONS_PER_PEER: z.coerce.number().int().min(1).max(1_000_000).default(100),
  // REDIS_URL is checked by redisConfig(), which never echoes it: it may carry a password.
  REDIS_URL: z.string().optional(),
  TENANTS_REDIS_PREFIX: z.string().min(1).max(200).optional(),
  TENANTS_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
  RATE_LIMIT_REDIS_FALLBACK: z.enum(['none', 'memory']).default('none'),
  NODE_ENV: z.string().optional(),
});

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

const HINTS: Record<string, string> = {
  PORT: 'a whole number from 0 to 65535',
  PUBLIC_URL: 'the public http(s) URL clients reach this server at, e.g. https://mcp.example.com',
  AUTH_JWKS_URL: "an http(s) URL of the issuer's JWKS, e.g. https://issuer.example.com/.well-known/jwks.json",
  AUTH_JWKS_COOLDOWN_MS: `a whole number of milliseconds, at least ${MIN_JWKS_COOLDOWN_MS} (default 30000)`,
  PORTKEY_BASE_URL: 'an http(s) URL such as https://api.portkey.ai/v1',
  PORTKEY_TIMEOUT_MS: 'a whole number of milliseconds from 1 to 120000 (default 10000)',
  RATE_LIMIT_TENANT_PER_MINUTE: 'a whole number of calls per minute, 0 for no limit (default 60)',
  RATE_LIMIT_CALLER_PER_MINUTE: 'a whole number of calls per minute, 0 for no limit (default 20)',
  LOG_LEVEL: `one of ${LOG_LEVELS.join(', ')} (default info)`,
  TRUST_PROXY: 'the number of reverse proxies in front of this server that append to X-Forwarded-For, from 0 to 16 (default 0: the header is ignored)',
  SHUTDOWN_DRAIN_MS: 'a whole number of milliseconds from 0 to 600000 (default 0; 10000-15000 behind a load balancer)',
  HTTP_KEEP_ALIVE_TIMEOUT_MS: "a whole number of milliseconds from 1 to 3600000, above your load balancer's idle timeout (default 65000)",
  TENANTS_CACHE_TTL_MS: 'a whole number of milliseconds from 0 to 3600000 (default 30000)',
  RATE_LIMIT_REDIS_FALLBACK: 'none (refuse invite_user while Redis is unreachable, the default) or memory (count per process meanwhile)',
  HTTP_MAX_CONNECTIONS: 'a whole number of connections from 1 to 1000000, below the file-descriptor limit (ulimit -n) (default 900)',
  HTTP_MAX_CONNECTIONS_PER_PEER: 'a whole number of connections one client address may hold open, from 1 to 1000000 (default 100; not applied with TRUST_PROXY)',
};

/** Empty strings count as unset, so `FOO=` in a .env file means "use the default". */
function withoutEmpty(env: Env): Env {
  const out: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') out[k] = v.trim();
  return out;
}

/** Lowercase scheme and host, no trailing slash (MCP authorization: canonical server URI). */
export function canonicalBase(url: string): string {
  // WHATWG URL parsing already lowercases the scheme and host and drops a default port.
  const u = new URL(url);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

export interface LoadOptions {
  /** Tenants can also come from a store looked up per request (Workers KV). */
  externalTenants?: boolean;
  /** Where TENANTS came from, for messages (the Node entry reads it from TENANTS_FILE). */
  tenantsSource?: string;
  /** Local mode's signing secret (Node keeps it in .local-secret); a fresh random one when absent. */
  localSecret?: Uint8Array;
  /** Problems the entry already found reading its sources, reported with the rest. */
  problems?: string[];
  /**
   * Who accepts connections. 'socket' (Node, the default): this process listens on HOST.
   * 'platform' (Workers): the platform does, on the Worker's routes; HOST means nothing, loopback
   * rules never apply, and the Host header must name PUBLIC_URL's host or an ALLOWED_HOSTS entry.
   */
  listener?: 'socket' | 'platform';
}

/** Each variable parsed on its own, so one bad value does not hide the next. */
function parseEachVariable(env: Env, problems: string[]): { e: z.infer<typeof envSchema>; invalid: Set<string> } {
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
    const hint = HINTS[name] ? ` Expected ${HINTS[name]}.` : '';
    problems.push(`Invalid ${name}: ${r.error.issues[0]!.message}.${hint}`);
  }
  return { e: envSchema.parse(valid), invalid };
}

/**
 * Reads and checks the whole configuration. Every problem is collected and reported at once
 * (one ConfigError, one problem per line); things that are allowed but probably not meant come
 * back as `warnings` for the entry to log.
 */
export function loadConfig(rawEnv: Env, options: LoadOptions = {}): Config {
  const problems: string[] = [...(options.problems ?? [])];
  const warnings = unknownVariableWarnings(Object.keys(rawEnv), KNOWN_VARIABLES);
  const env = withoutEmpty(rawEnv);
  const { e, invalid } = parseEachVariable(env, problems);
  let insecureHttpHosts: string[] = [];
  try {
    insecureHttpHosts = parseAllowedHosts(list(e.INSECURE_HTTP_HOSTS), INSECURE_HTTP_HOSTS);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  checkUrls(e, insecureHttpHosts, problems, warnings);
  if (e.PORTKEY_API_KEY !== undefined) {
    const unsendable = keyHeaderProblem(e.PORTKEY_API_KEY);
    if (unsendable) problems.push(`PORTKEY_API_KEY: ${unsendable}`);
  }

  const publicUrl = canonicalBase(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);
  const resource = `${publicUrl}/mcp`;

  const sources = (['AUTH_JWT_SECRET', 'AUTH_PUBLIC_KEY', 'AUTH_JWKS_URL'] as const).filter((k) => env[k] !== undefined);
  if (sources.length > 1) {
    problems.push(`Set only one of AUTH_JWT_SECRET, AUTH_PUBLIC_KEY, AUTH_JWKS_URL (found ${sources.join(', ')}).`);
  }
  const localMode = sources.length === 0;
  const keySource = buildKeySource(e, options.localSecret, problems);

  const family: readonly string[] = keySource.kind === 'secret' ? HMAC_ALGORITHMS : ASYMMETRIC_ALGORITHMS;
  const algorithms = e.AUTH_ALGORITHMS ? list(e.AUTH_ALGORITHMS) : [...family];
  for (const alg of algorithms) {
    if (sources.length <= 1 && !family.includes(alg)) {
      problems.push(
        `AUTH_ALGORITHMS contains ${JSON.stringify(alg)}, which cannot be used with ${sources[0] ?? 'the local secret'}. ` +
          `Allowed: ${family.join(', ')}.`,
      );
    }
  }

  if ((keySource.kind === 'public-key' || keySource.kind === 'jwks') && !e.AUTH_ISSUER) {
    problems.push(`AUTH_ISSUER is required with ${sources[0]}: set it to the issuer ("iss") your tokens carry.`);
  }

  // A token's audience is <PUBLIC_URL>/mcp: on a non-loopback address the default
  // (http://localhost:PORT) is never the URL clients use, so every real token would fail.
  if (!localMode && !LOOPBACK_HOST.test(e.HOST) && e.PUBLIC_URL === undefined && !invalid.has('PUBLIC_URL') && !invalid.has('HOST')) {
    problems.push(
      `PUBLIC_URL is required when HOST (${e.HOST}) is not a loopback address: set it to the URL clients reach this server at ` +
        '(e.g. https://mcp.example.com); tokens must carry the audience <PUBLIC_URL>/mcp.',
    );
  }

  const adminScope = e.AUTH_ADMIN_SCOPE === undefined ? (rawEnv.AUTH_ADMIN_SCOPE === undefined ? DEFAULT_ADMIN_SCOPE : undefined) : e.AUTH_ADMIN_SCOPE;
  const requiredScopes = rawEnv.AUTH_REQUIRED_SCOPES === undefined ? [...DEFAULT_REQUIRED_SCOPES] : list(e.AUTH_REQUIRED_SCOPES);

  const multi = e.TENANTS ? 'TENANTS' : options.externalTenants ? 'TENANTS_KV' : e.TENANTS_REDIS_PREFIX ? 'TENANTS_REDIS_PREFIX' : undefined;
  const redis = redisConfig(e, problems);
  if (e.TENANTS_REDIS_PREFIX && e.REDIS_URL === undefined) problems.push('TENANTS_REDIS_PREFIX is set without REDIS_URL: set REDIS_URL to the Redis that holds the tenant entries.');
  if (e.NODE_ENV === 'production' && e.REDIS_URL === undefined && options.listener !== 'platform') {
    warnings.push(
      'NODE_ENV is production and REDIS_URL is not set: rate limits count per process, so with several replicas a tenant can send ' +
        'the limit times the number of replicas. Set REDIS_URL to share them (see "Several replicas" in README.md).',
    );
  }
  if (multi && e.PORTKEY_API_KEY) {
    problems.push(`Both PORTKEY_API_KEY and ${multi} are set: choose one (PORTKEY_API_KEY for one tenant, ${multi} for several).`);
  }
  let portkeyAllowedHosts: string[] = [];
  try {
    portkeyAllowedHosts = parseAllowedHosts(list(e.PORTKEY_ALLOWED_HOSTS));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  // TENANTS is the operator's own writing: its baseUrls are held to PORTKEY_ALLOWED_HOSTS only when it is set.
  const tenantContext = {
    env: rawEnv,
    defaultBaseUrl: e.PORTKEY_BASE_URL,
    allowedHosts: portkeyAllowedHosts.length ? upstreamHosts(portkeyAllowedHosts, e.PORTKEY_BASE_URL) : undefined,
    serverVariables: SERVER_VARIABLES,
    insecureHttpHosts,
  };
  let tenants: TenantTable = { mode: 'single', tenant: { id: 'default', apiKey: e.PORTKEY_API_KEY, baseUrl: e.PORTKEY_BASE_URL, allow: {} } };
  if (multi) {
    try {
      const table = e.TENANTS ? parseTenantsJson(e.TENANTS, tenantContext, options.tenantsSource ?? 'TENANTS') : new Map();
      tenants = { mode: 'multi', tenants: table };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (!localMode && !multi && !e.PORTKEY_API_KEY) {
    warnings.push(
      'No Portkey key is configured (neither PORTKEY_API_KEY nor TENANTS, TENANTS_FILE, TENANTS_REDIS_PREFIX (Node) or TENANTS_KV (Workers) is set): ' +
        'every invite_user call will fail with "not configured" until one is.',
    );
  }

  const allowedOrigins = list(e.ALLOWED_ORIGINS);
  for (const origin of allowedOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/]+$/i.test(origin)) {
      problems.push(`ALLOWED_ORIGINS entry ${JSON.stringify(origin)} is not an origin: use scheme://host[:port], e.g. https://app.example.com.`);
    }
  }

  if (problems.length) throw new ConfigError(problems);

  const loopback = options.listener !== 'platform' && LOOPBACK_HOST.test(e.HOST);
  const allowedHosts = list(e.ALLOWED_HOSTS);

  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    resource,
    localMode,
    auth: {
      keySource,
      algorithms,
      issuer: e.AUTH_ISSUER,
      audience: e.AUTH_AUDIENCE ?? resource,
      requiredScopes,
      adminScope,
      authorizationServers: e.AUTH_SERVERS ? list(e.AUTH_SERVERS) : e.AUTH_ISSUER ? [e.AUTH_ISSUER] : [],
      tenantClaim: e.TENANT_CLAIM,
      clockToleranceSec: 60,
    },
    tenants,
    portkeyBaseUrl: e.PORTKEY_BASE_URL,
    portkeyAllowedHosts,
    insecureHttpHosts,
    portkeyTimeoutMs: e.PORTKEY_TIMEOUT_MS,
    rateLimits: { tenantPerMinute: e.RATE_LIMIT_TENANT_PER_MINUTE, callerPerMinute: e.RATE_LIMIT_CALLER_PER_MINUTE },
    allowedOrigins,
    allowedHosts,
    loopback,
    checkHost: loopback || allowedHosts.length > 0 || options.listener === 'platform',
    maxBodyBytes: MAX_BODY_BYTES,
    logLevel: e.LOG_LEVEL,
    trustProxyHops: e.TRUST_PROXY,
    warnings,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    httpKeepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    httpMaxConnections: e.HTTP_MAX_CONNECTIONS,
    httpMaxConnectionsPerPeer: e.TRUST_PROXY > 0 ? Infinity : e.HTTP_MAX_CONNECTIONS_PER_PEER,
    tenantsCacheTtlMs: e.TENANTS_CACHE_TTL_MS,
    redis,
  };
}

/**
 * REDIS_URL: redis:// or rediss:// (TLS), with the user and password in the URL as Redis clients
 * take them, so it is exempt from the plain-URL rule and never repeated in a message.
 */
function redisConfig(e: z.infer<typeof envSchema>, problems: string[]): RedisConfig | undefined {
  if (e.REDIS_URL === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(e.REDIS_URL);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    problems.push('REDIS_URL is not a redis:// or rediss:// URL (its value is not shown: it may hold a password): expected e.g. rediss://user:password@redis.internal:6380/0.');
    return undefined;
  }
  // The client percent-decodes the user and password: a bare % (not followed by two hex digits) stops it with "URI malformed".
  for (const [part, value] of [['user', url.username], ['password', url.password]] as const) {
    try {
      decodeURIComponent(value);
    } catch {
      problems.push(
        `REDIS_URL: the ${part} holds a "%" that is not followed by two hex digits (the value is not shown). ` +
          'Characters such as % @ : / in a user or password must be percent-encoded: write % as %25, @ as %40, : as %3A, / as %2F.',
      );
      return undefined;
    }
  }
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^(0|[1-9]\d{0,4})$/.test(dbText)) {
    problems.push('REDIS_URL: the path must be a database index (e.g. /0 or /1), or be left out for database 0.');
    return undefined;
  }
  const prefix = e.TENANTS_REDIS_PREFIX;
  if (prefix !== undefined && (prefix.startsWith(REDIS_LIMIT_KEY_PREFIX) || REDIS_LIMIT_KEY_PREFIX.startsWith(prefix))) {
    problems.push(
      `TENANTS_REDIS_PREFIX ${JSON.stringify(prefix)} overlaps the keys the rate limits keep in Redis (${REDIS_LIMIT_KEY_PREFIX}…): ` +
        'a tenant entry could then overwrite a limit counter, or a counter be read as a tenant. Use a prefix of its own, e.g. "pim:tenant:".',
    );
  }
  return { url: e.REDIS_URL, db: dbText === '' ? 0 : Number(dbText), tenantsPrefix: prefix, fallback: e.RATE_LIMIT_REDIS_FALLBACK };
}

/** Every configured URL is a plain origin plus a path (config/urls.ts), named by its variable. */
function checkUrls(e: z.infer<typeof envSchema>, insecureHttpHosts: readonly string[], problems: string[], warnings: string[]): void {
  // Where this server sends a secret or trusts what it fetches, plain http is refused; where it only
  // advertises a URL (PUBLIC_URL, AUTH_SERVERS: a TLS-terminating proxy may stand in front), warned.
  const check = (value: string, name: string, example: string, plainHttp: string[]) => {
    try {
      plainHttpUrl(value, name, example);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
      return;
    }
    const plain = plainHttpProblem(value, name, insecureHttpHosts);
    if (plain) plainHttp.push(plain);
  };
  if (e.PUBLIC_URL !== undefined) check(e.PUBLIC_URL, 'PUBLIC_URL', 'https://mcp.example.com', warnings);
  if (e.AUTH_JWKS_URL !== undefined) check(e.AUTH_JWKS_URL, 'AUTH_JWKS_URL', 'https://issuer.example.com/.well-known/jwks.json', problems);
  check(e.PORTKEY_BASE_URL, 'PORTKEY_BASE_URL', DEFAULT_PORTKEY_BASE_URL, problems);
  for (const server of list(e.AUTH_SERVERS)) check(server, 'AUTH_SERVERS entry', 'https://issuer.example.com', warnings);
}

function buildKeySource(e: z.infer<typeof envSchema>, localSecret: Uint8Array | undefined, problems: string[]): KeySource {
  if (e.AUTH_JWT_SECRET) {
    const secret = new TextEncoder().encode(e.AUTH_JWT_SECRET);
    if (secret.byteLength < 32) {
      // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
      problems.push(
        `AUTH_JWT_SECRET is too short (${secret.byteLength} bytes): use at least 32 bytes, e.g. the output of \`openssl rand -base64 48\`.`,
      );
    }
    return { kind: 'secret', secret };
  }
  if (e.AUTH_PUBLIC_KEY) {
    const key = e.AUTH_PUBLIC_KEY.replace(/\\n/g, '\n');
    const looksLikePem = key.includes('-----BEGIN PUBLIC KEY-----');
    let jwk: { kty?: unknown; d?: unknown } | undefined;
    try {
      jwk = JSON.parse(key) as { kty?: unknown; d?: unknown };
    } catch {
      jwk = undefined;
    }
    const looksLikeJwk = typeof jwk?.kty === 'string';
    if (jwk?.kty === 'oct') {
      problems.push('AUTH_PUBLIC_KEY is a symmetric JWK (kty "oct"): use AUTH_JWT_SECRET for shared secrets.');
    } else if (looksLikeJwk && jwk?.d !== undefined) {
      problems.push('AUTH_PUBLIC_KEY is a private JWK (it has "d"): give the public key only.');
    } else if (!looksLikePem && !looksLikeJwk) {
      problems.push('AUTH_PUBLIC_KEY must be a PEM SPKI public key ("-----BEGIN PUBLIC KEY-----") or a public JWK as JSON.');
    }
    return { kind: 'public-key', key };
  }
  if (e.AUTH_JWKS_URL) return { kind: 'jwks', url: new URL(e.AUTH_JWKS_URL), cooldownMs: e.AUTH_JWKS_COOLDOWN_MS };
  // Local mode: the entry's local secret, or a throw-away one (Web Crypto exists on both runtimes).
  return { kind: 'secret', secret: localSecret ?? crypto.getRandomValues(new Uint8Array(32)) };
}
