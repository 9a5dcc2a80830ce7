/**
 * Tenants from Workers KV and Cloudflare's rate-limiting binding, in workerd. The KV entry is
 * written by the test after the Worker started: tenants are added without a redeploy.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PORTKEY_BASE_URL, SECRETS } from '../support/bindings.js';
import { installFakePortkey, type FakePortkey } from '../support/fake-portkey.js';
import { inviteCall, mintToken, postMcp, resultText, rpc } from '../support/mcp.js';

interface KvLike {
  put(key: string, value: string): Promise<void>;
}

let portkey: FakePortkey;
beforeEach(() => {
  portkey = installFakePortkey();
});
beforeAll(async () => {
  await (env.TENANTS_KV as KvLike).put('acme', JSON.stringify({ apiKey: { env: 'ACME_PORTKEY_KEY' }, allow: { orgRoles: ['member'] } }));
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
  /** KV entries are trusted for 30 s in an isolate (src/tenants/kv-tenants.ts). */
  const KV_TTL_MS = 30_000;
  const listTool = async (bearer: string) => (await postMcp(rpc('tools/list'), bearer)).json.result.tools[0];

  it("a KV tenant's listing is narrowed to its entry, and a changed entry gives a new listing once the KV TTL has passed", async () => {
    const put = (allow: unknown) => (env.TENANTS_KV as KvLike).put('wayne', JSON.stringify({ apiKey: { env: 'ACME_PORTKEY_KEY' }, allow }));
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
