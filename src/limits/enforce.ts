import { RateLimitedError, RateLimiterUnavailableError } from '../errors.js';
import type { InviteRateLimiters, RateLimitDecision, RateLimiter } from './rate-limiter.js';

/**
 * Bucket keys. JSON arrays, so no tenant id or subject can be built to land in another's bucket
 * (with `caller:${tenant}:${sub}`, tenant "a" + sub "b:c" and tenant "a:b" + sub "c" collided).
 * A token without `sub` is not unmetered: all such callers of one tenant share one bucket
 * (`null` as the subject, which no string subject can equal).
 */
const callerBucket = (tenantId: string, subject: string | undefined): string => JSON.stringify(['caller', tenantId, subject ?? null]);
const tenantBucket = (tenantId: string): string => JSON.stringify(['tenant', tenantId]);

/**
 * Counts one invite against the caller's and the tenant's limits. The caller's limit comes first:
 * one runaway caller must not also spend its whole tenant's budget. Limiters that can give a call
 * back (in-process, Redis) are asked together, in one round trip to a shared store, and the
 * tenant's count is given back when the caller is refused; others are asked in turn.
 */
export async function enforceRateLimits(limiters: InviteRateLimiters, tenantId: string, subject: string | undefined, deadline?: number): Promise<void> {
  const caller = subject === undefined ? `callers without a "sub" claim in tenant ${JSON.stringify(tenantId)}` : `caller ${JSON.stringify(subject)}`;
  const checks: Check[] = [];
  if (limiters.caller) checks.push({ kind: 'caller', label: caller, limiter: limiters.caller, key: callerBucket(tenantId, subject) });
  if (limiters.tenant) checks.push({ kind: 'tenant', label: `tenant ${JSON.stringify(tenantId)}`, limiter: limiters.tenant, key: tenantBucket(tenantId) });
  if (checks.length === 2 && checks.every((c) => c.limiter.refund)) {
    const [callerCheck, tenantCheck] = checks as [Check, Check];
    const [callerDecision, tenantDecision] = await Promise.allSettled([decide(callerCheck, deadline), decide(tenantCheck, deadline)]);
    // As if asked in turn: a call the caller's limit stops (or could not judge) costs its tenant nothing.
    const callerStops = callerDecision.status === 'rejected' || !callerDecision.value.allowed;
    if (callerStops && tenantDecision.status === 'fulfilled' && tenantDecision.value.allowed) {
      await tenantCheck.limiter.refund!(tenantCheck.key, deadline).catch(() => {});
    }
    settle(callerCheck, callerDecision);
    settle(tenantCheck, tenantDecision);
    return;
  }
  for (const check of checks) {
    const [decision] = await Promise.allSettled([decide(check, deadline)]);
    settle(check, decision!);
  }
}

interface Check {
  kind: 'caller' | 'tenant';
  label: string;
  limiter: RateLimiter;
  key: string;
}

const decide = (c: Check, deadline: number | undefined) => c.limiter.check(c.key, deadline);

function settle({ kind, label }: Check, decision: PromiseSettledResult<RateLimitDecision>): void {
  if (decision.status === 'rejected') {
    throw new RateLimiterUnavailableError(
      'The rate limiter is unavailable, so invite_user is refusing calls for now (it fails closed); nothing was sent to Portkey. Try again in a minute.',
    );
  }
  if (!decision.value.allowed) {
    throw new RateLimitedError(
      `Too many invites for ${label}: the rate limit was reached and nothing was sent to Portkey. Retry after ${decision.value.retryAfterSec} s.`,
      kind,
    );
  }
}
