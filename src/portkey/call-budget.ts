/**
 * How long one invite_user call may spend on Portkey. The POST has PORTKEY_TIMEOUT_MS; when its
 * outcome is unknown (or Portkey answers 409), one lookup follows with a short deadline of its own.
 * Both fit in one budget counted from the start of the call, so the time spent before the POST
 * (tenant lookup, rate limiter) comes out of the lookup's share, never the POST's.
 */

/** The longest the lookup may take, whatever PORTKEY_TIMEOUT_MS is. */
export const MAX_LOOKUP_MS = 3_000;

/** The lookup's deadline: short, and never longer than the POST's own. */
export function lookupTimeoutMs(postTimeoutMs: number): number {
  return Math.min(MAX_LOOKUP_MS, postTimeoutMs);
}

/** The most one call spends on Portkey, POST and lookup together; a shutdown deadline must cover it. */
export function callBudgetMs(postTimeoutMs: number): number {
  return postTimeoutMs + lookupTimeoutMs(postTimeoutMs);
}

/** Under this much time left, a lookup could not answer: it is skipped (and the caller told). */
export const MIN_LOOKUP_MS = 100;
