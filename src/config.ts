import * as z from 'zod';
import { ConfigError } from './errors.js';
import { parseTenantsJson, type TenantTable } from './tenants/tenant-table.js';

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
export const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i;

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
  portkeyTimeoutMs: number;
  /** invite_user calls per minute; 0 turns a limit off. */
  rateLimits: { tenantPerMinute: number; callerPerMinute: number };
  allowedOrigins: string[];
  /** Extra Host names accepted besides PUBLIC_URL's (ALLOWED_HOSTS). */
  allowedHosts: string[];
  /** True when HOST is a loopback address: DNS-rebinding protection checks Host too. */
  loopback: boolean;
  maxBodyBytes: number;
  /** Node: after SIGTERM/SIGINT, how long to keep accepting while /readyz says 503 (load balancers). */
  shutdownDrainMs: number;
  /** Node: how long an idle keep-alive connection stays open; above a load balancer's idle timeout. */
  httpKeepAliveTimeoutMs: number;
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
  AUTH_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
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
  PORTKEY_TIMEOUT_MS: z.coerce.number().int().min(1).max(120_000).default(10_000),
  ALLOWED_ORIGINS: z.string().optional(),
  ALLOWED_HOSTS: z.string().optional(),
  RATE_LIMIT_TENANT_PER_MINUTE: z.coerce.number().int().min(0).default(60),
  RATE_LIMIT_CALLER_PER_MINUTE: z.coerce.number().int().min(0).default(20),
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(600_000).default(0),
  // Above the usual load-balancer idle timeout (60 s): the balancer, not us, should close idle connections.
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1).max(3_600_000).default(65_000),
});

const HINTS: Record<string, string> = {
  PORT: 'a whole number from 0 to 65535',
  PUBLIC_URL: 'the public http(s) URL clients reach this server at, e.g. https://mcp.example.com',
  AUTH_JWKS_URL: "an http(s) URL of the issuer's JWKS, e.g. https://issuer.example.com/.well-known/jwks.json",
  AUTH_JWKS_COOLDOWN_MS: 'a whole number of milliseconds (default 30000)',
  PORTKEY_BASE_URL: 'an http(s) URL such as https://api.portkey.ai/v1',
  PORTKEY_TIMEOUT_MS: 'a whole number of milliseconds from 1 to 120000 (default 10000)',
  RATE_LIMIT_TENANT_PER_MINUTE: 'a whole number of calls per minute, 0 for no limit (default 60)',
  RATE_LIMIT_CALLER_PER_MINUTE: 'a whole number of calls per minute, 0 for no limit (default 20)',
  SHUTDOWN_DRAIN_MS: 'a whole number of milliseconds from 0 to 600000 (default 0; 10000-15000 behind a load balancer)',
  HTTP_KEEP_ALIVE_TIMEOUT_MS: "a whole number of milliseconds from 1 to 3600000, above your load balancer's idle timeout (default 65000)",
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
}

export function loadConfig(rawEnv: Env, options: LoadOptions = {}): Config {
  const env = withoutEmpty(rawEnv);
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    const hint = HINTS[name] ? ` Expected ${HINTS[name]}.` : '';
    throw new ConfigError(`Invalid ${name}: ${issue.message}.${hint}`);
  }
  const e = parsed.data;

  const publicUrl = canonicalBase(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`);
  const resource = `${publicUrl}/mcp`;

  const sources = (['AUTH_JWT_SECRET', 'AUTH_PUBLIC_KEY', 'AUTH_JWKS_URL'] as const).filter((k) => e[k]);
  if (sources.length > 1) {
    throw new ConfigError(`Set only one of AUTH_JWT_SECRET, AUTH_PUBLIC_KEY, AUTH_JWKS_URL (found ${sources.join(', ')}).`);
  }
  const localMode = sources.length === 0;
  const keySource = buildKeySource(e);

  const family: readonly string[] = keySource.kind === 'secret' ? HMAC_ALGORITHMS : ASYMMETRIC_ALGORITHMS;
  const algorithms = e.AUTH_ALGORITHMS ? list(e.AUTH_ALGORITHMS) : [...family];
  for (const alg of algorithms) {
    if (!family.includes(alg)) {
      throw new ConfigError(
        `AUTH_ALGORITHMS contains ${JSON.stringify(alg)}, which cannot be used with ${sources[0] ?? 'the local secret'}. ` +
          `Allowed: ${family.join(', ')}.`,
      );
    }
  }

  if ((keySource.kind === 'public-key' || keySource.kind === 'jwks') && !e.AUTH_ISSUER) {
    throw new ConfigError(`AUTH_ISSUER is required with ${sources[0]}: set it to the issuer ("iss") your tokens carry.`);
  }

  const adminScope = e.AUTH_ADMIN_SCOPE === undefined ? (rawEnv.AUTH_ADMIN_SCOPE === undefined ? DEFAULT_ADMIN_SCOPE : undefined) : e.AUTH_ADMIN_SCOPE;
  const requiredScopes = rawEnv.AUTH_REQUIRED_SCOPES === undefined ? [...DEFAULT_REQUIRED_SCOPES] : list(e.AUTH_REQUIRED_SCOPES);

  const multi = e.TENANTS ? 'TENANTS' : options.externalTenants ? 'TENANTS_KV' : undefined;
  if (multi && e.PORTKEY_API_KEY) {
    throw new ConfigError(`Both PORTKEY_API_KEY and ${multi} are set: choose one (PORTKEY_API_KEY for one tenant, ${multi} for several).`);
  }
  const tenants: TenantTable = multi
    ? { mode: 'multi', tenants: e.TENANTS ? parseTenantsJson(e.TENANTS, rawEnv, e.PORTKEY_BASE_URL, options.tenantsSource ?? 'TENANTS') : new Map() }
    : { mode: 'single', tenant: { id: 'default', apiKey: e.PORTKEY_API_KEY, baseUrl: e.PORTKEY_BASE_URL, allow: {} } };

  const allowedOrigins = list(e.ALLOWED_ORIGINS);
  for (const origin of allowedOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/]+$/i.test(origin)) {
      throw new ConfigError(`ALLOWED_ORIGINS entry ${JSON.stringify(origin)} is not an origin: use scheme://host[:port], e.g. https://app.example.com.`);
    }
  }

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
    portkeyTimeoutMs: e.PORTKEY_TIMEOUT_MS,
    rateLimits: { tenantPerMinute: e.RATE_LIMIT_TENANT_PER_MINUTE, callerPerMinute: e.RATE_LIMIT_CALLER_PER_MINUTE },
    allowedOrigins,
    allowedHosts: list(e.ALLOWED_HOSTS),
    loopback: LOOPBACK_HOST.test(e.HOST),
    maxBodyBytes: MAX_BODY_BYTES,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    httpKeepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
  };
}

function buildKeySource(e: z.infer<typeof envSchema>): KeySource {
  if (e.AUTH_JWT_SECRET) {
    const secret = new TextEncoder().encode(e.AUTH_JWT_SECRET);
    if (secret.byteLength < 32) {
      // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
      throw new ConfigError(
        `AUTH_JWT_SECRET is too short (${secret.byteLength} bytes): use at least 32 bytes, e.g. the output of \`openssl rand -base64 48\`.`,
      );
    }
    return { kind: 'secret', secret };
  }
  if (e.AUTH_PUBLIC_KEY) {
    const key = e.AUTH_PUBLIC_KEY.replace(/\\n/g, '\n');
    const looksLikePem = key.includes('-----BEGIN PUBLIC KEY-----');
    let looksLikeJwk = false;
    try {
      const jwk = JSON.parse(key) as { kty?: unknown; d?: unknown };
      looksLikeJwk = typeof jwk.kty === 'string';
      if (jwk.kty === 'oct') {
        throw new ConfigError('AUTH_PUBLIC_KEY is a symmetric JWK (kty "oct"): use AUTH_JWT_SECRET for shared secrets.');
      }
      if (looksLikeJwk && jwk.d !== undefined) {
        throw new ConfigError('AUTH_PUBLIC_KEY is a private JWK (it has "d"): give the public key only.');
      }
    } catch (err) {
      if (err instanceof ConfigError) throw err;
    }
    if (!looksLikePem && !looksLikeJwk) {
      throw new ConfigError('AUTH_PUBLIC_KEY must be a PEM SPKI public key ("-----BEGIN PUBLIC KEY-----") or a public JWK as JSON.');
    }
    return { kind: 'public-key', key };
  }
  if (e.AUTH_JWKS_URL) return { kind: 'jwks', url: new URL(e.AUTH_JWKS_URL), cooldownMs: e.AUTH_JWKS_COOLDOWN_MS };
  // Local mode: a throw-away secret for this run only (Web Crypto exists on both runtimes).
  return { kind: 'secret', secret: crypto.getRandomValues(new Uint8Array(32)) };
}
