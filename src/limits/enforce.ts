import { RateLimitedError, RateLimiterUnavailableError } from '../errors.js';
import type { InviteRateLimiters, RateLimiter } from './rate-limiter.js';

/**
 * Bucket keys. JSON arrays, so no tenant id or subject can be built to land in another's bucket
 * (with `caller:${tenant}:${sub}`, tenant "a" + sub "b:c" and tenant "a:b" + sub "c" collided).
 * A token without `sub` is not unmetered: all such callers of one tenant share one bucket
 * (`null` as the subject, which no string subject can equal).
 */
export const callerBucket = (tenantId: string, subject: string | undefined): string => JSON.stringify(['caller', tenantId, subject ?? null]);
export const tenantBucket = (tenantId: string): string => JSON.stringify(['tenant', tenantId]);

/**
 * Counts one invite against the caller's and the tenant's limits. The caller is checked first,
 * so one runaway caller does not also spend its whole tenant's budget.
 */
export async function enforceRateLimits(limiters: InviteRateLimiters, tenantId: string, subject: string | undefined): Promise<void> {
  const caller = subject === undefined ? `callers without a "sub" claim in tenant ${JSON.stringify(tenantId)}` : `caller ${JSON.stringify(subject)}`;
  const checks: [string, RateLimiter | undefined, string][] = [
    [caller, limiters.caller, callerBucket(tenantId, subject)],
    [`tenant ${JSON.stringify(tenantId)}`, limiters.tenant, tenantBucket(tenantId)],
  ];
  for (const [label, limiter, key] of checks) {
    if (!limiter) continue;
    let decision;
    try {
      decision = await limiter.check(key);
    } catch {
      throw new RateLimiterUnavailableError(
        'The rate limiter is unavailable, so invite_user is refusing calls for now (it fails closed); nothing was sent to Portkey. Try again in a minute.',
      );
    }
    if (!decision.allowed) {
      throw new RateLimitedError(
        `Too many invites for ${label}: the rate limit was reached and nothing was sent to Portkey. Retry after ${decision.retryAfterSec} s.`,
      );
    }
  }
}
