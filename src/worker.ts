/**
 * Cloudflare Workers entry: builds the config from the Worker's env bindings (the same variable
 * names as on Node; keys as Workers secrets) and the app once per isolate, not per request.
 * Optional bindings: TENANTS_KV (tenants looked up per request), TENANT_RATE_LIMITER and
 * CALLER_RATE_LIMITER (Cloudflare rate limiting; otherwise limits hold per isolate).
 */
import { createApp, type InviteServer } from './app.js';
import { ConfigError, loadConfig } from './server-config.js';
import { createLogger } from './log.js';
import { createCloudflareRateLimiter, type CloudflareRateLimitBinding, type InviteRateLimiters } from './limits/rate-limiter.js';
import { createFetchTransport } from './portkey/fetch-transport.js';
import type { KvNamespaceLike } from './tenants/store-tenants.js';

type WorkerEnv = Record<string, unknown>;

/** Cloudflare's `[[ratelimits]]` bindings count per period; wrangler.toml sets it to 60 s. */
const RATE_LIMIT_PERIOD_SEC = 60;

let built: { server: InviteServer } | { error: string } | undefined;

const isKv = (v: unknown): v is KvNamespaceLike => typeof (v as KvNamespaceLike | undefined)?.get === 'function';
const isRateLimit = (v: unknown): v is CloudflareRateLimitBinding => typeof (v as CloudflareRateLimitBinding | undefined)?.limit === 'function';

function build(env: WorkerEnv): { server: InviteServer } | { error: string } {
  // Only string bindings are configuration; KV namespaces and other bindings are objects.
  const vars: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') vars[name] = value;
  const kv = isKv(env.TENANTS_KV) ? env.TENANTS_KV : undefined;
  try {
    const config = loadConfig(vars, { externalTenants: kv !== undefined, listener: 'platform' });
    if (config.localMode) {
      throw new ConfigError(
        'No AUTH_JWT_SECRET, AUTH_PUBLIC_KEY or AUTH_JWKS_URL is set. Local mode exists only on Node; on Workers set one ' +
          '(e.g. `wrangler secret put AUTH_JWT_SECRET`, or AUTH_JWT_SECRET in .dev.vars for wrangler dev).',
      );
    }
    const logger = createLogger((line) => console.log(line), config.logLevel);
    // Once per isolate: the configuration is read once per isolate.
    for (const message of config.warnings) logger.warn('config.warning', { message });
    const rateLimiters: InviteRateLimiters | undefined =
      isRateLimit(env.TENANT_RATE_LIMITER) || isRateLimit(env.CALLER_RATE_LIMITER)
        ? {
            tenant: isRateLimit(env.TENANT_RATE_LIMITER) ? createCloudflareRateLimiter(env.TENANT_RATE_LIMITER, RATE_LIMIT_PERIOD_SEC) : undefined,
            caller: isRateLimit(env.CALLER_RATE_LIMITER) ? createCloudflareRateLimiter(env.CALLER_RATE_LIMITER, RATE_LIMIT_PERIOD_SEC) : undefined,
          }
        : undefined;
    return {
      server: createApp(config, {
        logger,
        // Cloudflare sets CF-Connecting-IP to the client's address; a client cannot forge it.
        socketAddress: (c) => c.req.header('cf-connecting-ip'),
        // Only the key and type reach the binding.
        tenantStore: kv ? { kv: { get: (key, type) => kv.get(key, type) }, env: vars, name: 'TENANTS_KV', addHint: 'TENANTS_KV' } : undefined,
        rateLimiters,
        // fetch is the native HTTP client on Workers; the transport bounds answers by decoded size.
        transport: createFetchTransport(),
      }),
    };
  } catch (err) {
    if (err instanceof ConfigError) {
      createLogger((line) => console.error(line)).error('config.invalid', { problems: err.problems });
      return { error: err.message };
    }
    throw err;
  }
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: unknown): Response | Promise<Response> {
    built ??= build(env);
    if ('error' in built) {
      return Response.json({ error: 'server_misconfigured', error_description: `Configuration error: ${built.error}` }, { status: 503 });
    }
    return built.server.fetch(request, env, ctx);
  },
};
