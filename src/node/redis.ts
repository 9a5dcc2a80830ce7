/**
 * Node only: state shared by several replicas, in Redis (REDIS_URL). One client per process,
 * made here and handed to the core through the interfaces it already has: the invite rate
 * limiters (rate-limiter-flexible's atomic Redis limiter) and the tenant lookup (the same entry
 * rules as Workers KV). The core never imports a Redis client.
 *
 * Redis down: commands fail at once (no offline queue) or within COMMAND_TIMEOUT_MS, so a call
 * that needs Redis gets a quick, retryable error; the client reconnects by itself. The outage is
 * logged once at warn when it starts and once at info when it ends, never per call, and never
 * with the URL (it may hold a password): only the error's code.
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { SERVER_VARIABLES, type Config, type RedisConfig } from '../config.js';
import type { InviteRateLimiters, RateLimiter } from '../limits/rate-limiter.js';
import type { Logger } from '../log.js';
import { createKvTenantLookup } from '../tenants/kv-tenants.js';
import type { TenantLookup } from '../tenants/resolve-tenant.js';

/** The longest a call waits on Redis (connect or command) before it is told to retry. */
export const COMMAND_TIMEOUT_MS = 1_000;
/** Bucket keys live under this prefix, so the limits share a Redis with other data safely. */
const LIMIT_KEY_PREFIX = 'pim:limit';

export interface RedisState {
  rateLimiters: InviteRateLimiters;
  /** Tenants at <TENANTS_REDIS_PREFIX><id>, when that is set. */
  tenantLookup?: TenantLookup;
  close(): Promise<void>;
}

export function createRedisState(config: Config, redis: RedisConfig, logger: Logger, env: Record<string, string | undefined>): RedisState {
  const client = new Redis(redis.url, {
    // Fail fast while disconnected instead of queueing calls behind a reconnect.
    enableOfflineQueue: false,
    connectTimeout: COMMAND_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    // Reconnect by itself, backing off to once a second.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    lazyConnect: false,
    // Commands issued in the same event-loop turn (the two limits of a call, and those of concurrent
    // calls) go out in one write: one round trip per call, fewer syscalls under load.
    enableAutoPipelining: true,
  });
  watchOutages(client, logger, redis.fallback);

  const perMinute = (name: 'tenant' | 'caller', limit: number): RateLimiter | undefined =>
    limit > 0 ? redisLimiter(client, `${LIMIT_KEY_PREFIX}:${name}`, limit, redis.fallback) : undefined;
  const rateLimiters = { tenant: perMinute('tenant', config.rateLimits.tenantPerMinute), caller: perMinute('caller', config.rateLimits.callerPerMinute) };

  const prefix = redis.tenantsPrefix;
  const tenantLookup = prefix
    ? createKvTenantLookup({
        kv: { get: (id) => client.get(`${prefix}${id}`) },
        env,
        defaultBaseUrl: config.portkeyBaseUrl,
        allowedHosts: config.portkeyAllowedHosts,
        insecureHttpHosts: config.insecureHttpHosts,
        serverVariables: SERVER_VARIABLES,
        logger,
        ttlMs: config.tenantsCacheTtlMs,
        storeName: `Redis (${prefix}<tenant id>)`,
      })
    : undefined;

  return {
    rateLimiters,
    tenantLookup,
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * A fixed window of `limit` calls a minute per key, counted atomically in Redis by
 * rate-limiter-flexible (INCR and PEXPIRE in one script), so every replica shares it. With the
 * memory fallback, calls are counted per process while Redis is unreachable.
 */
function redisLimiter(client: Redis, keyPrefix: string, limit: number, fallback: RedisConfig['fallback']): RateLimiter {
  const limiter = new RateLimiterRedis({
    storeClient: client,
    keyPrefix,
    points: limit,
    duration: 60,
    rejectIfRedisNotReady: true,
    insuranceLimiter: fallback === 'memory' ? new RateLimiterMemory({ keyPrefix, points: limit, duration: 60 }) : undefined,
  });
  return {
    check: (key) => consume(limiter, key),
    refund: async (key) => {
      await limiter.reward(key, 1);
    },
  };
}

async function consume(limiter: RateLimiterAbstract, key: string): Promise<{ allowed: boolean; retryAfterSec: number }> {
  try {
    const res = await limiter.consume(key, 1);
    return { allowed: true, retryAfterSec: Math.max(1, Math.ceil(res.msBeforeNext / 1000)) };
  } catch (rejection) {
    // Over the limit: a RateLimiterRes. Anything else (an Error) means the store failed.
    if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterSec: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    throw new Error('rate-limit store unavailable');
  }
}

/** One warn line when Redis becomes unreachable, one info line when it is back: never one per call. */
function watchOutages(client: Redis, logger: Logger, fallback: RedisConfig['fallback']): void {
  let down = false;
  let everReady = false;
  const wentDown = (reason: string) => {
    if (down) return;
    down = true;
    logger.warn('redis.unavailable', {
      reason,
      effect:
        fallback === 'memory'
          ? 'rate limits count per process until Redis is back (RATE_LIMIT_REDIS_FALLBACK=memory); tenant entries from Redis are refused'
          : 'invite_user calls that need Redis are refused (fail closed) until it is back',
    });
  };
  client.on('error', (err: NodeJS.ErrnoException) => wentDown(err.code ?? err.name));
  client.on('close', () => {
    if (everReady) wentDown('connection closed');
  });
  client.on('ready', () => {
    everReady = true;
    if (!down) return;
    down = false;
    logger.info('redis.recovered', {});
  });
}
