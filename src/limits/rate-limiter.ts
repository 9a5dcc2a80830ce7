/**
 * Rate limiting for invite_user, per tenant and per caller, so a runaway agent cannot flood an
 * organisation with invites. Two implementations behind one interface: an in-process limiter
 * (Node; per process, per Workers isolate) and Cloudflare's rate-limiting binding (Workers).
 */
export interface RateLimitDecision {
  allowed: boolean;
  /** Seconds until a retry can succeed (an upper bound where the backend does not say). */
  retryAfterSec: number;
}

export interface RateLimiter {
  /**
   * Counts one call against `key`. Throws when the limiter itself is broken, or a shared store
   * cannot decide by `deadline` (ms since the epoch; src/limits/store-deadline.ts).
   */
  check(key: string, deadline?: number): Promise<RateLimitDecision>;
  /**
   * Gives back one call counted against `key`. Limiters that can (in-process, Redis) are checked
   * together, a round trip saved (limits/enforce.ts); those that cannot (Cloudflare's binding), in turn.
   */
  refund?(key: string, deadline?: number): Promise<void>;
}

export interface MemoryRateLimiterOptions {
  limit: number;
  windowMs: number;
  now?: () => number;
  /** Keys kept at most; expired windows are dropped first. */
  maxKeys?: number;
}

/** Fixed windows per key, in this process's memory. */
export function createMemoryRateLimiter(o: MemoryRateLimiterOptions): RateLimiter {
  const now = o.now ?? Date.now;
  const maxKeys = o.maxKeys ?? 10_000;
  const windows = new Map<string, { count: number; resetAt: number }>();
  const prune = (t: number) => {
    for (const [key, w] of windows) if (w.resetAt <= t) windows.delete(key);
    // Still full: forget the oldest windows (Map keeps insertion order) rather than grow.
    for (const key of windows.keys()) {
      if (windows.size < maxKeys) break;
      windows.delete(key);
    }
  };
  return {
    async check(key) {
      const t = now();
      let w = windows.get(key);
      if (!w || w.resetAt <= t) {
        if (!w && windows.size >= maxKeys) prune(t);
        w = { count: 0, resetAt: t + o.windowMs };
        windows.set(key, w);
      }
      w.count += 1;
      const retryAfterSec = Math.max(1, Math.ceil((w.resetAt - t) / 1000));
      return { allowed: w.count <= o.limit, retryAfterSec };
    },
    async refund(key) {
      const w = windows.get(key);
      if (w && w.count > 0) w.count -= 1;
    },
  };
}

/** The shape of Cloudflare's rate-limiting binding (`[[ratelimits]]` in wrangler.toml). */
export interface CloudflareRateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** Cloudflare does not say when the window resets; its period (10 or 60 s) bounds it. */
export function createCloudflareRateLimiter(binding: CloudflareRateLimitBinding, periodSec: number): RateLimiter {
  return {
    async check(key) {
      const { success } = await binding.limit({ key });
      return { allowed: success, retryAfterSec: periodSec };
    },
  };
}

export interface InviteRateLimiters {
  tenant?: RateLimiter;
  caller?: RateLimiter;
}
