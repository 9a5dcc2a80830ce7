/**
 * Tenants from Workers KV and Cloudflare's rate-limiting binding, in workerd. The KV entry is
 * written by the test after the Worker started: tenants are added without a redeploy.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { KV_BINDINGS, PORTKEY_BASE_URL, SECRETS } from '../support/bindings.js';
import { installFakePortkey, type FakePortkey } from '../support/fake-portkey.js';
import { observed } from '../support/observed.js';
import { inviteCall, mintToken, postMcp, resultText, rpc } from '../support/mcp.js';

interface KvLike {
  put(key: string, value: string): Promise<void>;
}

let portkey: FakePortkey;
beforeEach(() => {
  portkey = installFakePortkey();
});
beforeAll(async () => {
  await (env.TENANTS_KV as KvLike).put('acme', JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_ACME' }, allow: { orgRoles: ['member'] } }));
});

const member = (email: string) => inviteCall({ email, role: 'member', workspaces: [] });

describe('workerd: tenants from TENANTS_KV', () => {
  it("a KV tenant's caller invites with that tenant's key", async () => {
    const res = await postMcp(member('kv@example.com'), await mintToken({ sub: 'kv-user-1', claims: { org_id: 'acme' } }));
    expect(res.json.result.isError).toBeFalsy();
    expect(portkey.requests).toHaveLength(1);
    expect(portkey.requests[0]!.url).toBe(`${PORTKEY_BASE_URL}/admin/users/invites`);
    expect(portkey.requests[0]!.headers['x-portkey-api-key']).toBe(SECRETS.kvTenantKey);
  });

  it("the KV entry's policy applies", async () => {
    const res = await postMcp(inviteCall({ email: 'boss@example.com', role: 'admin', workspaces: [] }), await mintToken({ sub: 'kv-user-2', claims: { org_id: 'acme' } }));
    expect(res.json.result.isError).toBe(true);
    expect(resultText(res.json.result)).toMatch(/role "admin" is not allowed; allowed org roles: "member"/);
    expect(portkey.requests).toHaveLength(0);
  });

  it('a tenant not in KV is refused without an upstream call', async () => {
    const res = await postMcp(member('x@example.com'), await mintToken({ sub: 'kv-user-3', claims: { org_id: 'initech' } }));
    expect(res.json.result.isError).toBe(true);
    expect(resultText(res.json.result)).toMatch(/Tenant "initech" .* is not configured/);
    expect(portkey.requests).toHaveLength(0);
  });
});

/**
 * Issue 10 item 2: whoever can write one KV entry must not be able to read the server's own
 * secrets through it, nor send a tenant key to a host of their choosing. The caller learns only
 * that the entry is broken; the operator's log says why.
 */
describe('workerd: a KV entry cannot reach the server\'s secrets or send a key elsewhere', () => {
  const kv = () => env.TENANTS_KV as KvLike;
  const outbound = () => vi.mocked(fetch).mock.calls.map(([input]) => new Request(input as RequestInfo).url);

  async function refused(tenant: string, entry: unknown, hidden: string[]) {
    await kv().put(tenant, JSON.stringify(entry));
    const logsBefore = observed.logLines.length;
    const res = await postMcp(member(`${tenant}@example.com`), await mintToken({ sub: `kv-${tenant}`, claims: { org_id: tenant } }));
    expect(res.json.result.isError).toBe(true);
    const text = resultText(res.json.result);
    expect(text).toMatch(new RegExp(`Tenant "${tenant}"'s entry in the tenant store is invalid, so nothing was sent to Portkey`));
    for (const name of hidden) expect(text).not.toContain(name);
    expect(text).not.toMatch(/AUTH_|PORTKEY_/);
    expect(outbound()).toEqual([]);
    const warnings = observed.logLines.slice(logsBefore).map((l) => JSON.parse(l)).filter((l) => l.event === 'tenants.store_entry_invalid');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', tenant });
    return warnings[0].problem as string;
  }

  it.each(['AUTH_JWT_SECRET', 'PORTKEY_BASE_URL', 'PUBLIC_URL', 'ACME_PORTKEY_KEY', 'PORTKEY_KEY_ACME'])('a key read from %s is refused; only the log names it', async (name) => {
    // Ids whose key variable maps one-to-one (src/tenants/tenant-table.ts), so the variable rule itself is what refuses.
    const tenant = `evil_${name.toLowerCase()}`;
    const problem = await refused(tenant, { apiKey: { env: name } }, [name]);
    expect(problem).toContain(`{"env": "${name}"}`);
  });

  it('a key variable that is not set is not named to the caller', async () => {
    const problem = await refused('missing_key', { apiKey: { env: 'PORTKEY_KEY_MISSING_KEY' } }, ['PORTKEY_KEY_MISSING_KEY']);
    expect(problem).toMatch(/variable PORTKEY_KEY_MISSING_KEY is not set/);
  });

  it('a baseUrl on a host not allowed is refused before the key goes anywhere', async () => {
    const problem = await refused('exfil', { apiKey: { env: 'PORTKEY_KEY_ACME' }, baseUrl: 'https://collector.evil.test/v1' }, ['collector.evil.test']);
    expect(problem).toMatch(/host "collector.evil.test" is not in PORTKEY_ALLOWED_HOSTS \(allowed: https:\/\/portkey.test\)/);
  });

  it('a baseUrl over plain http, or on another port of the allowed host, is refused', async () => {
    expect(await refused('plain', { apiKey: { env: 'PORTKEY_KEY_PLAIN' }, baseUrl: 'http://portkey.test/v1' }, [])).toMatch(/baseUrl uses plain http to "portkey.test"/);
    expect(await refused('port', { apiKey: { env: 'PORTKEY_KEY_PORT' }, baseUrl: 'https://portkey.test:8080/v1' }, [])).toMatch(/host "portkey.test:8080" is not in PORTKEY_ALLOWED_HOSTS/);
  });

  it('a baseUrl with a query, fragment or credentials is refused', async () => {
    for (const [n, baseUrl] of ['http://portkey.test/v1?x=1', 'http://portkey.test/v1#frag', 'http://u:p@portkey.test/v1'].entries()) {
      await refused(`odd-url-${n}`, { apiKey: { env: 'PORTKEY_KEY_ACME' }, baseUrl }, []);
    }
  });

  it("a baseUrl on PORTKEY_BASE_URL's host is served", async () => {
    await kv().put('own_path', JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_OWN_PATH' }, baseUrl: 'https://portkey.test/v1' }));
    const res = await postMcp(member('own@example.com'), await mintToken({ sub: 'kv-own', claims: { org_id: 'own_path' } }));
    expect(res.json.result.isError).toBeFalsy();
    expect(portkey.requests.map((r) => r.url)).toEqual([`${PORTKEY_BASE_URL}/admin/users/invites`]);
  });
});

describe('workerd: Cloudflare rate-limiting binding', () => {
  it('the third call of a caller within the period is refused, saying when to retry, with no upstream call', async () => {
    const bearer = await mintToken({ sub: 'runaway-agent', claims: { org_id: 'acme' } });
    const results = [];
    for (const n of [1, 2, 3]) results.push((await postMcp(member(`r${n}@example.com`), bearer)).json.result);
    expect(results.map((r) => !!r.isError)).toEqual([false, false, true]);
    expect(resultText(results[2])).toMatch(/Too many invites for caller "runaway-agent".*Retry after 60 s/);
    expect(portkey.requests).toHaveLength(2);
  });
});

describe('workerd: tools/list follows the KV entry', () => {
  /** KV entries are trusted in an isolate for TENANTS_CACHE_TTL_MS, set to 5 s for this project (not the 30 s default). */
  const KV_TTL_MS = Number(KV_BINDINGS.TENANTS_CACHE_TTL_MS);
  const listTool = async (bearer: string) => (await postMcp(rpc('tools/list'), bearer)).json.result.tools[0];

  it("a KV tenant's listing is narrowed to its entry, and a changed entry gives a new listing once TENANTS_CACHE_TTL_MS (5 s here) has passed", async () => {
    const put = (allow: unknown) => (env.TENANTS_KV as KvLike).put('wayne', JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_WAYNE' }, allow }));
    await put({ orgRoles: ['member'], workspaces: ['ws-gotham-*'] });
    const bearer = await mintToken({ sub: 'kv-lister', claims: { org_id: 'wayne' } });

    const first = await listTool(bearer);
    expect(first.inputSchema.properties.role.enum).toEqual(['member']);
    expect(first.inputSchema.properties.workspaces.items.properties.id.anyOf).toEqual([{ pattern: '^ws-gotham-' }]);
    expect(first.description).toMatch(/allows only: org role "member"; workspaces "ws-gotham-\*" \(at least one\)\.$/);

    await put({ orgRoles: ['admin', 'member'], workspaces: ['ws-metropolis'] });
    // Within the TTL the cached entry, and so its listing, still holds.
    expect(await listTool(bearer)).toEqual(first);

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + KV_TTL_MS + 1_000 });
    try {
      const second = await listTool(bearer);
      expect(second.inputSchema.properties.role.enum).toEqual(['admin', 'member']);
      expect(second.inputSchema.properties.workspaces.items.properties.id.enum).toEqual(['ws-metropolis']);
      expect(second.description).toMatch(/allows only: org roles "admin", "member"; workspaces "ws-metropolis" \(at least one\)\.$/);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a caller whose tenant is not in KV still lists the tool, with the full schema', async () => {
    const tool = await listTool(await mintToken({ sub: 'kv-lister-2', claims: { org_id: 'initech' } }));
    expect(tool.inputSchema.properties.role.enum).toEqual(['admin', 'member']);
    expect(tool.description).not.toMatch(/This organisation's policy allows/);
  });
});
