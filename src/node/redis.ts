/**
 * Node only: state shared by several replicas, in Redis (REDIS_URL). One client per process,
 * made here and handed to the core through the interfaces it already has: the invite rate
 * limiters (a fixed window counted by our own script, below) and the tenant lookup (the same
 * entry rules as Workers KV). The core never imports a Redis client.
 *
 * Outages, down or stalled, are one thing here:
 * - Down (refused, reset): commands fail at once (no offline queue) and the client reconnects.
 * - Stalled (a failover, a fork pause, a black-holed network: the connection stays up, nothing
 *   answers): a command that gets no answer by its call's deadline is the outage. The connection is
 *   dropped, which rejects everything queued on it (memory stays flat), and remade; until it is
 *   ready again, commands fail at once. Every increment carries its deadline in Redis's clock, so a
 *   command Redis only runs after the stall (it was already in its socket buffer) counts nothing.
 * Either way, the outage is logged once at warn when it starts (with Redis's own first word for a
 * reply error: NOPERM, READONLY, OOM, WRONGPASS…) and once at info when it ends, never per call and
 * never with the URL (it may hold a password).
 */
import { Redis, ReplyError } from 'ioredis';
import { ConfigError, type Config } from '../server-config.js';
import { REDIS_LIMIT_KEY_PREFIX, type RedisConfig } from '../config/redis-settings.js';
import { createMemoryRateLimiter, type InviteRateLimiters, type RateLimiter } from '../limits/rate-limiter.js';
import { storeStepDeadline } from '../limits/store-deadline.js';
import type { Logger } from '../log.js';
import type { TenantStore } from '../tenants/store-tenants.js';

/** The longest the client waits to connect, or for a handshake command; calls bound their own wait (STORE_STEP_MS). */
const COMMAND_TIMEOUT_MS = 1_000;
const WINDOW_MS = 60_000;

/**
 * Counts one call in a fixed window of ARGV[1] ms, unless Redis runs it after its deadline (ARGV[2],
 * in Redis's clock): then it counts nothing and answers -1. Returns {count, ms left in the window}.
 * A counter without an expiry (a new window) gets one.
 */
const LIMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[2]) then return {-1, 0} end
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

/** Gives one call back, only before its deadline (ARGV[1]) and never below zero. */
const REFUND_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then return 0 end
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 1`;

type ScriptedRedis = Redis & {
  pimLimit(key: string, windowMs: number, deadline: number): Promise<[number, number]>;
  pimRefund(key: string, deadline: number): Promise<number>;
};

export interface RedisState {
  rateLimiters: InviteRateLimiters;
  /** Tenants at <TENANTS_REDIS_PREFIX><id>, when that is set. */
  tenantStore?: TenantStore;
  /**
   * Start-up check, bounded by `waitMs`: when Redis answers, the database REDIS_URL names must be
   * selectable (else a ConfigError); when it does not answer, the server starts and the outage is logged.
   */
  checkAtStart(waitMs?: number): Promise<void>;
  close(): Promise<void>;
}

export function createRedisState(config: Config, redis: RedisConfig, logger: Logger, env: Record<string, string | undefined>): RedisState {
  const client = new Redis(redis.url, {
    // Fail fast while disconnected instead of queueing calls behind a reconnect.
    enableOfflineQueue: false,
    connectTimeout: COMMAND_TIMEOUT_MS,
    // A backstop: calls bound their own wait (guard() below); this bounds the handshake's.
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    // Reconnect by itself, backing off to once a second.
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
    lazyConnect: false,
    // Commands issued in the same event-loop turn (the two limits of a call, and those of concurrent
    // calls) go out in one write: one round trip per call, fewer syscalls under load.
    enableAutoPipelining: true,
  }) as ScriptedRedis;
  client.defineCommand('pimLimit', { numberOfKeys: 1, lua: LIMIT_SCRIPT });
  client.defineCommand('pimRefund', { numberOfKeys: 1, lua: REFUND_SCRIPT });
  const health = watchOutages(client, logger, redis);

  /** Runs one Redis step of a call, failing at the call's deadline (a stall is an outage) or at once while Redis is out. */
  const guard = <T>(deadline: number, step: () => Promise<T>): Promise<T> => {
    if (!health.usable()) return Promise.reject(new Error('redis unavailable'));
    const wait = deadline - Date.now();
    if (wait <= 0) return Promise.reject(new Error('redis call deadline passed'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        health.stalled(wait);
        reject(new Error('redis stalled'));
      }, wait);
      step().then(
        (v) => { clearTimeout(timer); health.succeeded(); resolve(v); },
        (err: unknown) => { clearTimeout(timer); health.failed(err); reject(err); },
      );
    });
  };
  // A caller that names no deadline (the CLI, a test) gets a call's own.
  const deadlineOr = (deadline: number | undefined) => deadline ?? storeStepDeadline();

  const perMinute = (name: 'tenant' | 'caller', limit: number): RateLimiter | undefined => {
    if (limit <= 0) return undefined;
    const prefix = `${REDIS_LIMIT_KEY_PREFIX}${name}:`;
    const shared: RateLimiter = {
      async check(key, deadline) {
        const d = deadlineOr(deadline);
        const [count, ttl] = await guard(d, () => client.pimLimit(prefix + key, WINDOW_MS, health.toRedisClock(d)));
        // -1: Redis ran it past its deadline (we have already answered this call): nothing was counted.
        if (count < 0) throw new Error('redis answered past the deadline');
        return { allowed: count <= limit, retryAfterSec: Math.max(1, Math.ceil(ttl / 1000)) };
      },
      async refund(key, deadline) {
        const d = deadlineOr(deadline);
        await guard(d, () => client.pimRefund(prefix + key, health.toRedisClock(d)));
      },
    };
    if (redis.fallback !== 'memory') return shared;
    // RATE_LIMIT_REDIS_FALLBACK=memory: while Redis is out, count in this process (announced by the outage's warn line).
    const local = createMemoryRateLimiter({ limit, windowMs: WINDOW_MS });
    return {
      check: (key, deadline) => shared.check(key, deadline).catch(() => local.check(key)),
      refund: (key, deadline) => shared.refund!(key, deadline).catch(() => local.refund!(key)),
    };
  };
  const rateLimiters = { tenant: perMinute('tenant', config.rateLimits.tenantPerMinute), caller: perMinute('caller', config.rateLimits.callerPerMinute) };

  const tenantsPrefix = redis.tenantsPrefix;
  const tenantStore: TenantStore | undefined = tenantsPrefix
    ? {
        kv: { get: (id, _type, deadline) => guard(deadlineOr(deadline), () => client.get(`${tenantsPrefix}${id}`)) },
        env,
        name: `Redis (${tenantsPrefix}<tenant id>)`,
        addHint: 'Redis under TENANTS_REDIS_PREFIX (npm run tenants -- put <id> <file>)',
      }
    : undefined;

  return {
    rateLimiters,
    tenantStore,
    async checkAtStart(waitMs = 2 * COMMAND_TIMEOUT_MS) {
      const ready = await new Promise<boolean>((resolve) => {
        if (client.status === 'ready') return resolve(true);
        const timer = setTimeout(() => resolve(false), waitMs);
        client.once('ready', () => { clearTimeout(timer); resolve(true); });
      });
      if (!ready || redis.db === 0) return;
      // ioredis reports a refused SELECT only as an 'error' event and goes on in database 0, which
      // may hold another deployment's tenants: ask for it ourselves, and refuse to start without it.
      try {
        await client.select(redis.db);
      } catch (err) {
        const word = replyWord(err);
        if (!word) return;
        throw new ConfigError(
          `REDIS_URL names database ${redis.db}, but Redis refused to select it (${word}). ` +
            `Grant the ACL user SELECT on it (e.g. ACL SETUSER <user> +select), or use database 0.`,
        );
      }
    },
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/** Redis's own first word of a reply error (NOPERM, READONLY, OOM, WRONGPASS…): safe to show, it names the problem. */
function replyWord(err: unknown): string | undefined {
  if (!(err instanceof ReplyError) && !(err instanceof Error && err.name === 'ReplyError')) return undefined;
  const word = /^[A-Z][A-Z_-]{1,30}\b/.exec((err as Error).message)?.[0];
  return word ?? 'ReplyError';
}

interface Health {
  /** False while an outage lasts: calls fail at once instead of queueing. */
  usable(): boolean;
  /** A call got no answer within `waitedMs`: Redis stalls. */
  stalled(waitedMs: number): void;
  /** A command failed: a reply error names an outage of its own (NOPERM, READONLY, OOM…). */
  failed(err: unknown): void;
  /** A command was answered: an outage of reply errors is over. */
  succeeded(): void;
  /** A deadline in this process's clock, in Redis's (measured at each connection). */
  toRedisClock(deadline: number): number;
}

/** One warn line when Redis becomes unusable, one info line when it is back: never one per call. */
function watchOutages(client: Redis, logger: Logger, redis: RedisConfig): Health {
  let down = false;
  let everReady = false;
  const recovered = () => {
    if (!down) return;
    down = false;
    logger.info('redis.recovered', {});
  };
  let clockOffsetMs = 0;
  const effect =
    redis.fallback === 'memory'
      ? 'rate limits now count per process until Redis is back (RATE_LIMIT_REDIS_FALLBACK=memory); tenant entries from Redis are refused'
      : 'invite_user calls that need Redis are refused (fail closed) until it is back';
  const wentDown = (reason: string, fields: Record<string, unknown> = {}) => {
    if (down) return;
    down = true;
    logger.warn('redis.unavailable', { reason, ...fields, effect });
  };
  client.on('error', (err: NodeJS.ErrnoException) => {
    const word = replyWord(err);
    wentDown(word ? 'reply_error' : (err.code ?? err.name), word ? { redis_says: word, hint: REPLY_HINTS[word] } : {});
  });
  client.on('close', () => {
    if (everReady) wentDown('connection closed');
  });
  client.on('ready', () => {
    everReady = true;
    // Redis's clock against ours, for deadlines Redis checks itself (half the round trip is the error bar).
    const sent = Date.now();
    client.time().then(
      ([sec, usec]) => {
        const received = Date.now();
        clockOffsetMs = Number(sec) * 1000 + Math.floor(Number(usec) / 1000) - (sent + received) / 2;
      },
      () => {},
    );
    recovered();
  });
  return {
    // Not ready: down, or reconnecting after a stall (a stalled Redis never answers the ready check).
    usable: () => client.status === 'ready',
    succeeded: () => {
      if (client.status === 'ready') recovered();
    },
    stalled(waitedMs) {
      if (client.status !== 'ready') return;
      wentDown('stalled', { detail: `no answer within ${waitedMs} ms; reconnecting` });
      // Dropping the connection rejects every command queued on it and reconnects.
      client.disconnect(true);
    },
    failed(err) {
      const word = replyWord(err);
      if (word) wentDown('reply_error', { redis_says: word, hint: REPLY_HINTS[word] });
    },
    toRedisClock: (deadline) => Math.round(deadline + clockOffsetMs),
  };
}

/** What the operator can do about Redis's most common refusals. */
const REPLY_HINTS: Record<string, string> = {
  NOPERM: "the ACL user may not run a command this server needs: see the Redis ACL line in docs/replicas.md (and persist it with ACL SAVE)",
  NOAUTH: 'Redis wants a password: put it in REDIS_URL',
  WRONGPASS: 'the user or password in REDIS_URL is not accepted (a restarted Redis may have lost an ACL user that was never saved)',
  READONLY: 'this Redis is a replica (after a failover?): point REDIS_URL at the primary',
  OOM: 'Redis is out of memory (maxmemory): free memory or raise it',
  LOADING: 'Redis is loading its data set; it will answer when done',
  MASTERDOWN: 'the replica lost its primary',
};
