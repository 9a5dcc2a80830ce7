import type { EnvValues } from './variables.js';

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


/**
 * REDIS_URL: redis:// or rediss:// (TLS), with the user and password in the URL as Redis clients
 * take them, so it is exempt from the plain-URL rule and never repeated in a message.
 */
export function redisSettings(e: EnvValues, problems: string[]): RedisConfig | undefined {
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
