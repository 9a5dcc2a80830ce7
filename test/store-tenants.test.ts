import { describe, expect, it } from 'vitest';
import { createStoreTenantLookup } from '../src/tenants/store-tenants.js';
import { TenantLookupError } from '../src/errors.js';
import { SERVER_VARIABLES } from '../src/config/variables.js';
import { createLogger } from '../src/log.js';

const logs: string[] = [];
const base = { serverVariables: SERVER_VARIABLES, logger: createLogger((line) => logs.push(line)) };

function fakeKv(entries: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    kv: {
      async get(key: string) {
        reads.push(key);
        return Object.hasOwn(entries, key) ? entries[key]! : null;
      },
    },
  };
}

const KEY = 'pk-kv-SECRET-1234';

describe('tenants from Workers KV', () => {
  it('reads an entry in the TENANTS format, resolving {"env"} keys from the Worker secrets', async () => {
    const { kv } = fakeKv({ acme: JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_ACME' }, allow: { orgRoles: ['member'] } }) });
    const lookup = createStoreTenantLookup({ ...base, kv, env: { PORTKEY_KEY_ACME: KEY }, defaultBaseUrl: 'https://api.portkey.ai/v1' });
    expect(await lookup('acme')).toEqual({ id: 'acme', apiKey: KEY, baseUrl: 'https://api.portkey.ai/v1', allow: { orgRoles: ['member'] } });
    expect(await lookup('nobody')).toBeUndefined();
  });

  it('caches hits and misses for the TTL, then reads again', async () => {
    let now = 0;
    const { kv, reads } = fakeKv({ acme: JSON.stringify({ apiKey: KEY }) });
    const lookup = createStoreTenantLookup({ ...base, kv, env: {}, defaultBaseUrl: 'https://x.example/v1', ttlMs: 1000, now: () => now });
    await lookup('acme');
    await lookup('acme');
    await lookup('ghost');
    await lookup('ghost');
    expect(reads).toEqual(['acme', 'ghost']);
    now = 1500;
    await lookup('acme');
    expect(reads).toEqual(['acme', 'ghost', 'acme']);
  });

  it('a broken entry: the caller is told it is broken, the operator log says why, neither shows the key', async () => {
    const { kv } = fakeKv({ acme: JSON.stringify({ apiKey: KEY, colour: 'blue' }), bad: '{not json' });
    const lookup = createStoreTenantLookup({ ...base, kv, env: {}, defaultBaseUrl: 'https://x.example/v1' });
    logs.length = 0;
    const err = await lookup('acme').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TenantLookupError);
    expect((err as Error).message).toMatch(/Tenant "acme"'s entry in the tenant store is invalid.*server operator must fix it/);
    expect((err as Error).message).not.toContain(KEY);
    await expect(lookup('bad')).rejects.toThrow(/"bad"'s entry in the tenant store is invalid/);
    const warnings = logs.map((l) => JSON.parse(l));
    expect(warnings.map((w) => [w.level, w.event, w.tenant])).toEqual([
      ['warn', 'tenants.store_entry_invalid', 'acme'],
      ['warn', 'tenants.store_entry_invalid', 'bad'],
    ]);
    expect(warnings[0].problem).toMatch(/unknown field\(s\) "colour".*TENANTS_KV/);
    expect(warnings[1].problem).toMatch(/not valid JSON/);
    expect(logs.join('\n')).not.toContain(KEY);
  });

  it('a KV outage is a retryable error, not a crash', async () => {
    const lookup = createStoreTenantLookup({ ...base, kv: { get: () => Promise.reject(new Error('kv down')) }, env: {}, defaultBaseUrl: 'https://x.example/v1' });
    await expect(lookup('acme')).rejects.toThrow(/could not be read just now/);
  });
});

describe('external entries and the key variables they may read (issue 26)', () => {
  // Each of these upper-cases (or folds) onto PORTKEY_KEY_ACME, PORTKEY_KEY_IBM, … : another tenant's variable.
  it.each(['acme\u200b', 'acmeé', '-acme', 'Acme', 'acme-', 'ıbm', 'oﬃce', 'glaß', 'acme__x', 'a'.repeat(65)])(
    'tenant id %j may not read a key variable from the store: it must carry its key inline',
    async (id) => {
      const own = `PORTKEY_KEY_${id.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 64)}`;
      const { kv } = fakeKv({ [id]: JSON.stringify({ apiKey: { env: own } }) });
      const lookup = createStoreTenantLookup({ ...base, kv, env: { [own]: KEY }, defaultBaseUrl: 'https://x.example/v1' });
      logs.length = 0;
      await expect(lookup(id)).rejects.toBeInstanceOf(TenantLookupError);
      expect(JSON.parse(logs[0]!).problem).toMatch(/only for tenant ids made of lowercase letters, digits and single underscores.*inline/);
    },
  );

  it('ids that map one-to-one still read their own variable', async () => {
    const { kv } = fakeKv({ acme_corp: JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_ACME_CORP' } }), ibm2: JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_IBM2' } }) });
    const lookup = createStoreTenantLookup({ ...base, kv, env: { PORTKEY_KEY_ACME_CORP: KEY, PORTKEY_KEY_IBM2: KEY }, defaultBaseUrl: 'https://x.example/v1' });
    expect((await lookup('acme_corp'))?.apiKey).toBe(KEY);
    expect((await lookup('ibm2'))?.apiKey).toBe(KEY);
  });

  it('a broken entry is cached like an absent one: one store read and one warn line per TTL, however many calls', async () => {
    const { kv, reads } = fakeKv({ bad: '{not json' });
    let now = 0;
    const lookup = createStoreTenantLookup({ ...base, kv, env: {}, defaultBaseUrl: 'https://x.example/v1', ttlMs: 1000, now: () => now });
    logs.length = 0;
    for (let i = 0; i < 50; i++) await expect(lookup('bad')).rejects.toThrow(/"bad"'s entry in the tenant store is invalid/);
    expect(reads).toEqual(['bad']);
    expect(logs.filter((l) => l.includes('tenants.store_entry_invalid'))).toHaveLength(1);
    now = 1500;
    await expect(lookup('bad')).rejects.toThrow(TenantLookupError);
    expect(reads).toEqual(['bad', 'bad']);
  });
});
