import type { Caller } from './caller.js';

/**
 * Remembers tokens jose has already verified, so an agent that sends the same bearer token on
 * every call pays for one signature check per minute rather than one per call. An entry is used
 * only while the token is still within its own validity (`exp` plus the clock tolerance) and for
 * at most `maxAgeMs` after it was verified, so key rotation and expiry still take effect. Only
 * successfully verified tokens are stored; a forged token never enters.
 */
export interface VerifiedTokenCache {
  get(token: string, nowMs: number): Caller | undefined;
  set(token: string, caller: Caller, nowMs: number): void;
}

export function createVerifiedTokenCache(o: { maxEntries: number; maxAgeMs: number; clockToleranceSec: number }): VerifiedTokenCache {
  const entries = new Map<string, { caller: Caller; until: number }>();
  return {
    get(token, nowMs) {
      const hit = entries.get(token);
      if (!hit) return undefined;
      if (nowMs >= hit.until) {
        entries.delete(token);
        return undefined;
      }
      return hit.caller;
    },
    set(token, caller, nowMs) {
      const exp = caller.claims.exp;
      const nbf = caller.claims.nbf;
      // Not-yet-valid tokens (inside the tolerance) are not cached: their nbf is re-checked each time.
      if (typeof exp !== 'number' || (typeof nbf === 'number' && nbf * 1000 > nowMs)) return;
      const until = Math.min((exp + o.clockToleranceSec) * 1000, nowMs + o.maxAgeMs);
      if (entries.size >= o.maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(token, { caller, until });
    },
  };
}
