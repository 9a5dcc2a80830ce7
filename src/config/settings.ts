import { ConfigError } from '../errors.js';
import { parseAllowedHosts } from './allowed-hosts.js';
import { ASYMMETRIC_ALGORITHMS, buildKeySource, HMAC_ALGORITHMS, type AuthConfig } from './auth-settings.js';
import { keyHeaderProblem } from './header-safe.js';
import { checkOriginAndPath } from './origin-and-path.js';
import { INSECURE_HTTP_HOSTS, LOOPBACK_HOST, plainHttpProblem } from './plain-http.js';
import { redisSettings, type RedisConfig } from './redis-settings.js';
import { unknownVariableWarnings } from './unknown-variables.js';
import {
  DEFAULT_ADMIN_SCOPE,
  DEFAULT_PORTKEY_BASE_URL,
  DEFAULT_REQUIRED_SCOPES,
  KNOWN_VARIABLES,
  list,
  parseEachVariable,
  withoutEmpty,
  type Env,
  type EnvValues,
} from './variables.js';
import type { LogLevel } from '../log.js';

/**
 * Configuration, the bottom layer: the only place that reads the environment, and it imports no
 * domain code. Each runtime entry hands us its variables (Node: process.env plus .env; Workers:
 * env bindings) once at start-up; the tenant layer reads `tenantSource`, and everything else
 * receives the typed `Config` (src/server-config.ts).
 */

const MAX_BODY_BYTES = 1024 * 1024;

/** Where tenants come from. The tenant table itself is parsed by the tenant layer. */
export type TenantSource =
  | { mode: 'single'; apiKey?: string }
  | {
      mode: 'multi';
      /** The setting that made this multi-tenant, for messages. */
      store: 'TENANTS' | 'TENANTS_KV' | 'TENANTS_REDIS_PREFIX';
      /** TENANTS as given (the Node entry reads TENANTS_FILE into it). */
      json?: string;
      /** Where TENANTS came from, for messages. */
      sourceName: string;
      /** The variables a tenant's {"env": NAME} key may be read from. */
      env: Env;
    };

export interface SettingsResult {
  settings: Settings;
  /** Where tenants and their keys come from, for the tenant layer to read (src/server-config.ts). */
  tenantSource: TenantSource;
  problems: string[];
  warnings: string[];
}

/** Lowercase scheme and host, no trailing slash (MCP authorization: canonical server URI). */
function canonicalBase(url: string): string {
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

export interface Settings {
  port: number;
  host: string;
  publicUrl: string;
  /** Canonical resource URI of the MCP endpoint (MCP authorization §2.5.1, RFC 8707 §2). */
  resource: string;
  /** True when no key source is configured: a throw-away secret signs a printed local token. */
  localMode: boolean;
  auth: AuthConfig;
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
  /** EXPOSED_TOOLS as given (names are checked against the tools in src/server-config.ts); undefined: the default. */
  exposedTools?: string[];
  /** PORTKEY_SANDBOX resolved: tool calls are answered by the embedded Portkey sandbox (local mode only). */
  sandbox: boolean;
}

/**
 * Reads and checks every setting. Problems are collected, not thrown, so that the caller
 * (src/server-config.ts) reports them with the tenant table's at once, one per line; things
 * that are allowed but probably not meant come back as `warnings` for the entry to log.
 */
export function readSettings(rawEnv: Env, options: LoadOptions = {}): SettingsResult {
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
  const connectScopes = e.AUTH_CONNECT_SCOPES === undefined ? [...requiredScopes] : list(e.AUTH_CONNECT_SCOPES);
  checkConnectScopes(connectScopes, requiredScopes, adminScope, problems);

  const multi = e.TENANTS ? 'TENANTS' : options.externalTenants ? 'TENANTS_KV' : e.TENANTS_REDIS_PREFIX ? 'TENANTS_REDIS_PREFIX' : undefined;
  const redis = redisSettings(e, problems);
  if (e.TENANTS_REDIS_PREFIX && e.REDIS_URL === undefined) problems.push('TENANTS_REDIS_PREFIX is set without REDIS_URL: set REDIS_URL to the Redis that holds the tenant entries.');
  if (e.NODE_ENV === 'production' && e.REDIS_URL === undefined && options.listener !== 'platform') {
    warnings.push(
      'NODE_ENV is production and REDIS_URL is not set: rate limits count per process, so with several replicas a tenant can send ' +
        'the limit times the number of replicas. Set REDIS_URL to share them (see docs/replicas.md).',
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
  const tenantSource: TenantSource = multi
    ? { mode: 'multi', store: multi, json: e.TENANTS, sourceName: options.tenantsSource ?? 'TENANTS', env: rawEnv }
    : { mode: 'single', apiKey: e.PORTKEY_API_KEY };
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

  const sandbox = sandboxSetting(e, localMode, multi, problems);

  const loopback = options.listener !== 'platform' && LOOPBACK_HOST.test(e.HOST);
  const allowedHosts = list(e.ALLOWED_HOSTS);

  const settings: Settings = {
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    resource,
    localMode,
    auth: {
      keySource,
      algorithms,
      issuer: e.AUTH_ISSUER,
      audiences: e.AUTH_AUDIENCE ? list(e.AUTH_AUDIENCE) : [resource],
      requiredScopes,
      connectScopes,
      adminScope,
      authorizationServers: e.AUTH_SERVERS ? list(e.AUTH_SERVERS) : e.AUTH_ISSUER ? [e.AUTH_ISSUER] : [],
      tenantClaim: e.TENANT_CLAIM,
      clockToleranceSec: 60,
    },
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
    sandbox,
    exposedTools: e.EXPOSED_TOOLS === undefined ? undefined : list(e.EXPOSED_TOOLS),
  };
  return { settings, tenantSource, problems, warnings };
}


/**
 * AUTH_CONNECT_SCOPES names only scopes this server knows, and every required one: the token a
 * client gets at connect time must be able to call the tool.
 */
function checkConnectScopes(connect: string[], required: string[], adminScope: string | undefined, problems: string[]): void {
  const known = [...required, ...(adminScope ? [adminScope] : [])];
  const unknown = connect.filter((s) => !known.includes(s));
  if (unknown.length) {
    problems.push(
      `AUTH_CONNECT_SCOPES names ${unknown.map((s) => JSON.stringify(s)).join(', ')}, which this server does not know: ` +
        `use scopes from AUTH_REQUIRED_SCOPES and AUTH_ADMIN_SCOPE (${known.join(' ') || 'none set'}).`,
    );
  }
  const missing = required.filter((s) => !connect.includes(s));
  if (missing.length) {
    problems.push(
      `AUTH_CONNECT_SCOPES leaves out the required scope(s) ${missing.join(' ')}: a client that connects with it gets a token that can call nothing. ` +
        `Add them, e.g. AUTH_CONNECT_SCOPES="${[...new Set([...required, ...connect])].join(' ')}".`,
    );
  }
}

/**
 * PORTKEY_SANDBOX: in local mode without a Portkey key, tool calls are answered by an embedded
 * sandbox (on by default there), so the first command shows a real invite. Outside local mode it
 * can never be on: a deployment must never answer "invited" for an invite Portkey never saw.
 */
function sandboxSetting(e: EnvValues, localMode: boolean, multi: string | undefined, problems: string[]): boolean {
  if (e.PORTKEY_SANDBOX === 'on') {
    if (!localMode) {
      problems.push(
        'PORTKEY_SANDBOX=on is only allowed in local mode (no AUTH_JWT_SECRET, AUTH_PUBLIC_KEY or AUTH_JWKS_URL): ' +
          'a deployment must reach the real Portkey. Remove PORTKEY_SANDBOX.',
      );
      return false;
    }
    return true;
  }
  return e.PORTKEY_SANDBOX === undefined && localMode && !multi && !e.PORTKEY_API_KEY;
}

/** Every configured URL is a plain origin plus a path (config/urls.ts), named by its variable. */
function checkUrls(e: EnvValues, insecureHttpHosts: readonly string[], problems: string[], warnings: string[]): void {
  // Where this server sends a secret or trusts what it fetches, plain http is refused; where it only
  // advertises a URL (PUBLIC_URL, AUTH_SERVERS: a TLS-terminating proxy may stand in front), warned.
  const check = (value: string, name: string, example: string, plainHttp: string[]) => {
    try {
      checkOriginAndPath(value, name, example);
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
