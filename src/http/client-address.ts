/**
 * The caller's address for the audit line. The socket's peer by default; behind reverse proxies
 * that the operator declares (TRUST_PROXY=<hops>), the X-Forwarded-For entry written by the
 * outermost trusted proxy. Each proxy appends the address it received the request from, so the
 * right-most `hops` entries are written by our proxies and the one at position length - hops is
 * the client as the first trusted proxy saw it. Entries left of it are whatever the client sent
 * and are never used (a caller could claim any address there).
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | undefined, trustedHops: number): string | undefined {
  if (trustedHops === 0 || !forwardedFor) return socketAddress;
  const entries = forwardedFor.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) return socketAddress;
  // Fewer entries than proxies: every entry was written by a trusted proxy; the left-most is the furthest out.
  const entry = entries[Math.max(0, entries.length - trustedHops)]!;
  // Bounded: a log line is no place for an arbitrarily long header value.
  return entry.slice(0, 64);
}
