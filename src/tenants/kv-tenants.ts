import { ConfigError, TenantLookupError } from '../errors.js';
import type { TenantLookup } from './resolve-tenant.js';
import { parseTenantEntry, type Tenant } from './tenant-table.js';

/** The part of a Workers KV namespace binding this uses. */
export interface KvNamespaceLike {
  get(key: string, type: 'text'): Promise<string | null>;
}

export interface KvTenantOptions {
  kv: KvNamespaceLike;
  /** Variables `{"env": "NAME"}` keys are read from (Worker secrets). */
  env: Record<string, string | undefined>;
  defaultBaseUrl: string;
  /** How long a looked-up entry (or its absence) is trusted in this isolate. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Tenants from Workers KV: key = tenant id, value = the same JSON entry as in TENANTS. Looked up
 * per request with a short in-isolate cache, so tenants can be added without a redeploy and a
 * hot tenant costs one KV read per TTL, not one per call.
 */
export function createKvTenantLookup(o: KvTenantOptions): TenantLookup {
  const ttlMs = o.ttlMs ?? 30_000;
  const maxEntries = o.maxEntries ?? 1000;
  // Read the clock through the global at each call (not a reference taken once), so a test's fake clock reaches it.
  const now = o.now ?? (() => Date.now());
  const cache = new Map<string, { tenant: Tenant | undefined; expires: number }>();

  return async (tenantId) => {
    const hit = cache.get(tenantId);
    if (hit && hit.expires > now()) return hit.tenant;
    let text: string | null;
    try {
      text = await o.kv.get(tenantId, 'text');
    } catch {
      throw new TenantLookupError('The tenant table (TENANTS_KV) could not be read just now; nothing was sent to Portkey. Try again shortly.');
    }
    let tenant: Tenant | undefined;
    if (text !== null) {
      let entry: unknown;
      try {
        entry = JSON.parse(text);
      } catch {
        throw new TenantLookupError(`Tenant ${JSON.stringify(tenantId)}'s entry in TENANTS_KV is not valid JSON; the server operator must fix it.`);
      }
      try {
        tenant = parseTenantEntry(tenantId, entry, o.env, o.defaultBaseUrl);
      } catch (err) {
        // parseTenantEntry's messages name the tenant and field, never a value.
        throw new TenantLookupError(`${err instanceof ConfigError ? err.message : 'Invalid tenant entry.'} (in TENANTS_KV; the server operator must fix it)`);
      }
    }
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(tenantId, { tenant, expires: now() + ttlMs });
    return tenant;
  };
}
