import { RateLimitedError, RateLimiterUnavailableError } from '../errors.js';
import type { InviteRateLimiters, RateLimiter } from './rate-limiter.js';

/**
 * Counts one invite against the caller's and the tenant's limits. The caller is checked first,
 * so one runaway caller does not also spend its whole tenant's budget.
 */
export async function enforceRateLimits(limiters: InviteRateLimiters, tenantId: string, subject: string | undefined): Promise<void> {
  const checks: [string, RateLimiter | undefined, string][] = [
    [`caller ${JSON.stringify(subject ?? '(no sub)')}`, subject === undefined ? undefined : limiters.caller, `caller:${tenantId}:${subject}`],
    [`tenant ${JSON.stringify(tenantId)}`, limiters.tenant, `tenant:${tenantId}`],
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
