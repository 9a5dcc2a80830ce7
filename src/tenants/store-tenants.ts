import { SERVER_VARIABLES } from '../config/variables.js';
import type { Settings as Config } from '../config/settings.js';
import { ConfigError, TenantLookupError } from '../errors.js';
import type { Logger } from '../log.js';
import { createTenantResolver, type TenantLookup, type TenantResolver } from './resolve-tenant.js';
import { parseTenantEntry, type Tenant, type TenantTable } from './tenant-table.js';
import { upstreamHosts } from './upstream-hosts.js';

/** The part of a Workers KV namespace binding this uses; any key-value store with a text get fits (Redis on Node). */
export interface KvNamespaceLike {
  /** `deadline` (ms since the epoch): a store that can honour it fails by then. */
  get(key: string, type: 'text', deadline?: number): Promise<string | null>;
}

export interface StoreTenantOptions {
  kv: KvNamespaceLike;
  /** Variables `{"env": "PORTKEY_KEY_…"}` keys are read from (Worker secrets). */
  env: Record<string, string | undefined>;
  defaultBaseUrl: string;
  /** PORTKEY_ALLOWED_HOSTS entries; the default base URL's host is always allowed. */
  allowedHosts?: string[];
  /** Names a tenant entry may never read a key from (config.ts SERVER_VARIABLES). */
  serverVariables: ReadonlySet<string>;
  /** INSECURE_HTTP_HOSTS: non-loopback hosts a baseUrl may reach over plain http. */
  insecureHttpHosts?: readonly string[];
  /** Where a broken entry is reported in full, for the operator. */
  logger: Logger;
  /** How long a looked-up entry (or its absence) is trusted in this isolate. */
  ttlMs?: number;
  /** The store's name in the operator's messages (default TENANTS_KV; the Node entry's Redis store names its prefix). */
  storeName?: string;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Tenants from Workers KV: key = tenant id, value = the same JSON entry as in TENANTS. Looked up
 * per request with a short in-isolate cache, so tenants can be added without a redeploy and a
 * hot tenant costs one KV read per TTL, not one per call.
 *
 * KV is written by more hands than the environment, so its entries are held to the strictest
 * rules: a key inline or from the tenant's own variable (PORTKEY_KEY_<ID>) only, a key that can be
 * sent in a header, a baseUrl only on an allowed origin (PORTKEY_ALLOWED_HOSTS, else
 * PORTKEY_BASE_URL's origin alone) whether or not the list is set, and plain http only to
 * loopback or INSECURE_HTTP_HOSTS.
 */
export function createStoreTenantLookup(o: StoreTenantOptions): TenantLookup {
  const ttlMs = o.ttlMs ?? 30_000;
  const storeName = o.storeName ?? 'TENANTS_KV';
  const maxEntries = o.maxEntries ?? 1000;
  // Read the clock through the global at each call (not a reference taken once), so a test's fake clock reaches it.
  const now = o.now ?? (() => Date.now());
  // Absent and broken entries are cached like good ones: a tenant's callers cannot make every call
  // (tools/list included) a store read and a warn line; the operator sees one warning per TTL.
  const cache = new Map<string, { tenant: Tenant | undefined; broken?: TenantLookupError; expires: number }>();
  const remember = (tenantId: string, entry: { tenant: Tenant | undefined; broken?: TenantLookupError }) => {
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(tenantId, { ...entry, expires: now() + ttlMs });
  };
  const context = {
    env: o.env,
    defaultBaseUrl: o.defaultBaseUrl,
    allowedHosts: upstreamHosts(o.allowedHosts ?? [], o.defaultBaseUrl),
    serverVariables: o.serverVariables,
    insecureHttpHosts: o.insecureHttpHosts ?? [],
    external: true,
  };
  // The caller learns that the entry is broken, never why: the details name server variables.
  const broken = (tenantId: string, problem: string) => {
    o.logger.warn('tenants.store_entry_invalid', { tenant: tenantId, problem });
    return new TenantLookupError(
      `Tenant ${JSON.stringify(tenantId)}'s entry in the tenant store is invalid, so nothing was sent to Portkey. ` +
        'The server operator must fix it (the server log says what is wrong).',
    );
  };

  return async (tenantId, deadline) => {
    const hit = cache.get(tenantId);
    if (hit && hit.expires > now()) {
      if (hit.broken) throw hit.broken;
      return hit.tenant;
    }
    let text: string | null;
    try {
      text = await o.kv.get(tenantId, 'text', deadline);
    } catch {
      throw new TenantLookupError('The tenant store could not be read just now; nothing was sent to Portkey. Try again shortly.');
    }
    let tenant: Tenant | undefined;
    if (text !== null) {
      let entry: unknown;
      try {
        entry = JSON.parse(text);
      } catch {
        const error = broken(tenantId, `the entry in ${storeName} is not valid JSON`);
        remember(tenantId, { tenant: undefined, broken: error });
        throw error;
      }
      try {
        tenant = parseTenantEntry(tenantId, entry, context);
      } catch (err) {
        // parseTenantEntry's messages name the tenant, field and variable, never a value.
        const error = broken(tenantId, `${err instanceof ConfigError ? err.message : 'invalid entry'} (in ${storeName})`);
        remember(tenantId, { tenant: undefined, broken: error });
        throw error;
      }
    }
    remember(tenantId, { tenant });
    return tenant;
  };
}

/** A store of tenant entries beyond TENANTS (Workers KV, Redis on Node), as a runtime entry hands it to the app. */
export interface TenantStore {
  kv: KvNamespaceLike;
  /** Variables `{"env": "PORTKEY_KEY_…"}` keys are read from. */
  env: Record<string, string | undefined>;
  /** The store's name in the operator's messages about a broken entry, e.g. `Redis (pim:tenant:<tenant id>)`. */
  name: string;
  /** Where the operator adds a tenant there, for callers' messages, e.g. `TENANTS_KV`. */
  addHint: string;
}

/**
 * The one place a tenant resolver is built, for every runtime and store: TENANTS (or the single
 * key), then the external store with its rules and cache TTL taken from the configuration, so
 * every store holds entries to exactly the same rules.
 */
export function createConfiguredTenantResolver(
  config: Pick<Config, 'portkeyBaseUrl' | 'portkeyAllowedHosts' | 'insecureHttpHosts' | 'tenantsCacheTtlMs' | 'auth'> & { tenants: TenantTable },
  store: TenantStore | undefined,
  logger: Logger,
): TenantResolver {
  const lookup = store
    ? createStoreTenantLookup({
        kv: store.kv,
        env: store.env,
        logger,
        storeName: store.name,
        defaultBaseUrl: config.portkeyBaseUrl,
        allowedHosts: config.portkeyAllowedHosts,
        insecureHttpHosts: config.insecureHttpHosts,
        serverVariables: SERVER_VARIABLES,
        ttlMs: config.tenantsCacheTtlMs,
      })
    : undefined;
  return createTenantResolver(config.tenants, config.auth.tenantClaim, lookup, store?.addHint);
}
