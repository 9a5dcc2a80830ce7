import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryRateLimiter, createCloudflareRateLimiter } from '../../src/limits/rate-limiter.js';
import { enforceRateLimits } from '../../src/limits/enforce.js';
import { RateLimiterUnavailableError } from '../../src/errors.js';
import { SECRETS, connectClient, resultText, startTestServer, token, type TestServer } from './harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './portkey-double.js';

let portkey: PortkeyDouble;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterAll(() => portkey.close());

const invite = (email: string) => ({ name: 'invite_user', arguments: { email, role: 'member', workspaces: [] } });

async function callAs(server: TestServer, sub: string, emails: string[]) {
  const client = await connectClient(server.mcpUrl, await token({ sub }));
  const results = [];
  for (const email of emails) results.push(await client.callTool(invite(email)));
  await client.close();
  return results;
}

describe('rate limits on invite_user (in-process, Node)', () => {
  it('a caller over its limit gets isError saying when to retry, and nothing goes upstream', async () => {
    portkey.reset();
    const server = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url, RATE_LIMIT_CALLER_PER_MINUTE: '2' });
    const results = await callAs(server, 'runaway', ['a1@example.com', 'a2@example.com', 'a3@example.com']);
    await server.close(100);
    expect(results.map((r) => !!r.isError)).toEqual([false, false, true]);
    expect(resultText(results[2])).toMatch(/Too many invites for caller "runaway".*nothing was sent to Portkey\. Retry after \d+ s\./);
    expect(portkey.requests).toHaveLength(2);
    expect(server.events('audit.invite_user').map((l) => l.outcome)).toEqual(['invited', 'invited', 'rate_limited']);
  });

  it('the tenant limit holds across callers, while another caller is limited separately', async () => {
    portkey.reset();
    const server = await startTestServer({
      PORTKEY_API_KEY: SECRETS.portkeyKey,
      PORTKEY_BASE_URL: portkey.url,
      RATE_LIMIT_CALLER_PER_MINUTE: '2',
      RATE_LIMIT_TENANT_PER_MINUTE: '3',
    });
    const alice = await callAs(server, 'alice', ['b1@example.com', 'b2@example.com']);
    const bob = await callAs(server, 'bob', ['b3@example.com', 'b4@example.com']);
    await server.close(100);
    expect(alice.every((r) => !r.isError)).toBe(true);
    expect(bob.map((r) => !!r.isError)).toEqual([false, true]);
    expect(resultText(bob[1])).toMatch(/Too many invites for tenant "default"/);
    expect(portkey.requests).toHaveLength(3);
  });

  it('a broken limiter fails closed: isError, and no upstream call', async () => {
    portkey.reset();
    const broken = { check: async () => Promise.reject(new Error('limiter down')) };
    const server = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url }, { rateLimiters: { tenant: broken } });
    const [result] = await callAs(server, 'carol', ['c1@example.com']);
    await server.close(100);
    expect(result!.isError).toBe(true);
    expect(resultText(result)).toMatch(/rate limiter is unavailable.*fails closed/);
    expect(portkey.requests).toHaveLength(0);
  });
});

/** Issue 10 item 4: every caller is metered, and no two callers share a bucket by accident. */
describe('rate-limit buckets', () => {
  const tenants = () => JSON.stringify(Object.fromEntries(['a', 'a:b', 'acme', 'globex'].map((id) => [id, { apiKey: SECRETS.portkeyKey, baseUrl: portkey.url }])));

  async function callIn(server: TestServer, tenant: string, sub: string | null, email: string) {
    const client = await connectClient(server.mcpUrl, await token({ sub, claims: { org_id: tenant } }));
    const result = await client.callTool(invite(email));
    await client.close();
    return result;
  }

  it('tenant "a" with sub "b:c" and tenant "a:b" with sub "c" are different callers', async () => {
    portkey.reset();
    const server = await startTestServer({ TENANTS: tenants(), RATE_LIMIT_CALLER_PER_MINUTE: '1' });
    const first = await callIn(server, 'a', 'b:c', 'k1@example.com');
    const second = await callIn(server, 'a:b', 'c', 'k2@example.com');
    await server.close(100);
    expect(first.isError, resultText(first)).toBeFalsy();
    expect(second.isError, resultText(second)).toBeFalsy();
    expect(portkey.requests).toHaveLength(2);
  });

  it('callers without "sub" share one bucket per tenant: metered, not skipped', async () => {
    portkey.reset();
    const server = await startTestServer({ TENANTS: tenants(), RATE_LIMIT_CALLER_PER_MINUTE: '1' });
    const results = [
      await callIn(server, 'acme', null, 's1@example.com'),
      await callIn(server, 'acme', null, 's2@example.com'),
      await callIn(server, 'globex', null, 's3@example.com'), // another tenant's sub-less callers have their own bucket
      await callIn(server, 'acme', 'null', 's4@example.com'), // and a caller whose sub is the string "null" is not them
    ];
    await server.close(100);
    expect(results.map((r) => !!r.isError)).toEqual([false, true, false, false]);
    expect(resultText(results[1])).toMatch(/Too many invites for callers without a "sub" claim in tenant "acme".*Retry after \d+ s\./);
    expect(portkey.requests).toHaveLength(3);
    expect(server.events('audit.invite_user').map((l) => [l.sub, l.outcome])).toEqual([
      [null, 'invited'],
      [null, 'rate_limited'],
      [null, 'invited'],
      ['null', 'invited'],
    ]);
  });
});

describe('limiters', () => {
  it('the memory limiter opens a new window when the old one ends', async () => {
    let now = 1_000_000;
    const limiter = createMemoryRateLimiter({ limit: 1, windowMs: 60_000, now: () => now });
    expect(await limiter.check('k')).toEqual({ allowed: true, retryAfterSec: 60 });
    now += 15_000;
    expect(await limiter.check('k')).toEqual({ allowed: false, retryAfterSec: 45 });
    expect((await limiter.check('other')).allowed).toBe(true);
    now += 45_000;
    expect((await limiter.check('k')).allowed).toBe(true);
  });

  it('the memory limiter stays bounded in keys', async () => {
    const limiter = createMemoryRateLimiter({ limit: 1, windowMs: 60_000, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) await limiter.check(`k${i}`);
    expect((await limiter.check('k999')).allowed).toBe(false); // recent keys are still counted
  });

  it('the Cloudflare binding adapter passes the key and reports the period', async () => {
    const keys: string[] = [];
    const limiter = createCloudflareRateLimiter({ limit: async ({ key }) => (keys.push(key), { success: keys.length < 2 }) }, 60);
    expect(await limiter.check('tenant:acme')).toEqual({ allowed: true, retryAfterSec: 60 });
    expect(await limiter.check('tenant:acme')).toEqual({ allowed: false, retryAfterSec: 60 });
    expect(keys).toEqual(['tenant:acme', 'tenant:acme']);
  });
});

describe('both limits asked together (limiters that can give a call back)', () => {
  const failing = { check: async () => Promise.reject(new Error('store down')), refund: async () => {} };

  it("a call the caller's limiter cannot judge costs its tenant nothing, as when they were asked in turn", async () => {
    const tenant = createMemoryRateLimiter({ limit: 1, windowMs: 60_000 });
    await expect(enforceRateLimits({ caller: failing, tenant }, 'acme', 'alice')).rejects.toBeInstanceOf(RateLimiterUnavailableError);
    // The tenant's one call a minute is still there.
    await expect(tenant.check(JSON.stringify(['tenant', 'acme']))).resolves.toMatchObject({ allowed: true });
  });

  it("a call refused by the caller's limit costs its tenant nothing", async () => {
    const caller = createMemoryRateLimiter({ limit: 1, windowMs: 60_000 });
    const tenant = createMemoryRateLimiter({ limit: 2, windowMs: 60_000 });
    await enforceRateLimits({ caller, tenant }, 'acme', 'alice');
    await expect(enforceRateLimits({ caller, tenant }, 'acme', 'alice')).rejects.toMatchObject({ code: 'rate_limited', limit: 'caller' });
    // Bob still gets the tenant's second call.
    await expect(enforceRateLimits({ caller, tenant }, 'acme', 'bob')).resolves.toBeUndefined();
  });
});
