import { describe, expect, it } from 'vitest';
import type { Caller } from '../src/auth/caller.js';
import { createVerifiedTokenCache } from '../src/auth/verified-tokens.js';

const T0 = 1_800_000_000_000; // ms
const caller = (claims: Record<string, unknown>): Caller => ({ subject: 'a', scopes: new Set(), tenantId: undefined, claims });
const cache = () => createVerifiedTokenCache({ maxEntries: 3, maxAgeMs: 60_000, clockToleranceSec: 60 });

describe('verified-token cache', () => {
  it('serves a verified token again while it is valid, for at most maxAgeMs', () => {
    const c = cache();
    const who = caller({ exp: T0 / 1000 + 3600 });
    c.set('t', who, T0);
    expect(c.get('t', T0 + 59_000)).toBe(who);
    expect(c.get('t', T0 + 60_000)).toBeUndefined(); // re-verified with jose after a minute
  });

  it('never serves a token past its exp plus the clock tolerance', () => {
    const c = createVerifiedTokenCache({ maxEntries: 3, maxAgeMs: 600_000, clockToleranceSec: 60 });
    c.set('t', caller({ exp: T0 / 1000 + 10 }), T0);
    expect(c.get('t', T0 + 69_000)).toBeDefined();
    expect(c.get('t', T0 + 70_000)).toBeUndefined();
  });

  it('does not cache a token whose nbf is still ahead (accepted only within the tolerance)', () => {
    const c = cache();
    c.set('t', caller({ exp: T0 / 1000 + 3600, nbf: T0 / 1000 + 30 }), T0);
    expect(c.get('t', T0 + 1000)).toBeUndefined();
  });

  it('stays bounded, forgetting the oldest entries first', () => {
    const c = cache();
    for (const t of ['a', 'b', 'c', 'd']) c.set(t, caller({ exp: T0 / 1000 + 3600 }), T0);
    expect(c.get('a', T0)).toBeUndefined();
    expect(c.get('d', T0)).toBeDefined();
  });
});
