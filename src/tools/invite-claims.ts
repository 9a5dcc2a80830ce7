/**
 * Which invites calls of this server have already taken as their own, per tenant. Two calls for
 * one email whose answers were both lost find the same invite in their lookups; only the first
 * may report it as its success (and a call may never claim an invite another call created with an
 * answer it did get). One process's memory: across replicas the time window and the grants still
 * have to match, and what could not be confirmed is said.
 */
export interface InviteClaims {
  /** Takes the invite for a call; false when another call already has it. */
  claim(tenantId: string, inviteId: string): boolean;
}

/** Long enough to outlive any call that could still look the invite up; bounded in size. */
const CLAIM_TTL_MS = 15 * 60_000;
const MAX_CLAIMS = 10_000;

export function createInviteClaims(now: () => number = () => Date.now()): InviteClaims {
  const claims = new Map<string, number>();
  return {
    claim(tenantId, inviteId) {
      const key = JSON.stringify([tenantId, inviteId]);
      const t = now();
      const until = claims.get(key);
      if (until !== undefined && until > t) return false;
      if (claims.size >= MAX_CLAIMS) {
        // Oldest first (Map keeps insertion order): expired ones, then the oldest live one.
        for (const [k, expires] of claims) {
          if (expires <= t || claims.size >= MAX_CLAIMS) claims.delete(k);
          else break;
        }
      }
      claims.delete(key);
      claims.set(key, t + CLAIM_TTL_MS);
      return true;
    },
  };
}
