import type { Caller } from '../auth/caller.js';
import { TenantError } from '../errors.js';
import type { Tenant, TenantTable } from './tenant-table.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** `deadline` (ms since the epoch): by when a shared store must have answered (src/limits/store-deadline.ts). */
export type TenantResolver = (caller: Caller, deadline?: number) => Promise<Tenant>;

/** A further source of tenants looked up by id (Workers KV, Redis); undefined when it has none. */
export type TenantLookup = (tenantId: string, deadline?: number) => Promise<Tenant | undefined>;

/**
 * Maps a verified caller to its tenant. A caller only ever reaches the tenant its own token
 * names: there is no argument or header through which another tenant can be chosen.
 */
export function createTenantResolver(table: TenantTable, tenantClaim: string, lookup?: TenantLookup, storeName?: string): TenantResolver {
  // Where the operator adds a tenant on this runtime: TENANTS, and the external store in use.
  const storeHint = storeName ? `TENANTS or ${storeName}` : 'TENANTS';
  if (table.mode === 'single') {
    const tenant = table.tenant;
    return async () => tenant;
  }
  const tenants = table.tenants;
  return async (caller, deadline) => {
    if (caller.tenantId === undefined) {
      throw new TenantError(
        `Your token has no "${tenantClaim}" claim (a non-empty string naming your tenant), so this server cannot tell which Portkey organisation to use. ` +
          'Ask your administrator for a token that carries it.',
      );
    }
    // Text with an unpaired surrogate is not text: stores re-encode it (Redis, KV: two such ids share
    // one entry) while limits keep it apart. No tenant has such an id.
    if (LONE_SURROGATE.test(caller.tenantId)) {
      throw new TenantError(
        `Your token's "${tenantClaim}" claim is not well-formed text (it holds an unpaired UTF-16 surrogate), so it names no tenant. ` +
          'Ask your administrator for a token whose claim is the tenant id as plain text.',
      );
    }
    // A Map, not an object: a claim such as "__proto__" cannot reach Object.prototype.
    const tenant = tenants.get(caller.tenantId) ?? (await lookup?.(caller.tenantId, deadline));
    if (!tenant) {
      throw new TenantError(
        `Tenant ${JSON.stringify(caller.tenantId)} (from the "${tenantClaim}" claim) is not configured on this server. ` +
          `Ask the server operator to add it to ${storeHint}.`,
      );
    }
    return tenant;
  };
}

/** How messages name a tenant's key without showing it. */
export function keyLabel(table: TenantTable, tenant: Tenant): string {
  return table.mode === 'single' ? 'this server (PORTKEY_API_KEY)' : `tenant ${JSON.stringify(tenant.id)}`;
}
