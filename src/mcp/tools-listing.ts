import { toJsonSchemaCompat } from '@modelcontextprotocol/sdk/server/zod-json-schema-compat.js';
import type { ListToolsResult } from '@modelcontextprotocol/sdk/types.js';
import type { Caller } from '../auth/caller.js';
import type { Logger } from '../log.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import type { Tenant } from '../tenants/tenant-table.js';
import { ALL_TOOLS } from '../tools/all-tools.js';
import { hasPolicyRules, narrowListing } from '../tools/narrow-listing.js';

type Tool = ListToolsResult['tools'][number];

/** tools/list as McpServer would build it (same conversion, same options) for every tool, computed once. */
export function seedToolsListing(): ListToolsResult {
  return {
    tools: ALL_TOOLS.map(({ name, title, description, annotations, inputSchema, outputSchema }) => ({
      name,
      title,
      description,
      annotations,
      inputSchema: toJsonSchemaCompat(inputSchema, { strictUnions: true, pipeStrategy: 'input' }) as Tool['inputSchema'],
      outputSchema: toJsonSchemaCompat(outputSchema, { strictUnions: true, pipeStrategy: 'output' }) as Tool['outputSchema'],
    })),
  };
}

/** The listing with only the tools in `exposed`. */
function exposedOnly(listing: ListToolsResult, exposed: readonly string[]): ListToolsResult {
  const tools = listing.tools.filter((t) => exposed.includes(t.name));
  return tools.length === listing.tools.length ? listing : { ...listing, tools };
}

/**
 * The tools/list answer for a caller: the tools its tenant exposes, narrowed to its policy. A
 * listing is built once per tenant object and kept in a WeakMap keyed by it: a tenant from TENANTS
 * keeps one object for the process's life, and a KV tenant gets a new one each time its entry is re-read
 * (src/tenants/store-tenants.ts), so a changed entry gets a new listing and old ones go with their
 * entry. The cache is thus bounded by the tenants alive in memory, and a warm call costs the
 * resolver plus one WeakMap lookup.
 *
 * Listing tools never fails because of the tenant: a caller whose tenant cannot be resolved (no
 * claim, unknown, the store unreadable) gets the default tools, unnarrowed; a call then names the problem.
 */
export function createToolsListing(o: {
  seed: ListToolsResult;
  resolveTenant: TenantResolver;
  logger: Logger;
  /** The tools a tenant exposes unless its entry lists its own. */
  defaultTools?: readonly string[];
}): (caller: Caller) => Promise<ListToolsResult> {
  const defaults = o.defaultTools ?? o.seed.tools.map((t) => t.name);
  const fallback = exposedOnly(o.seed, defaults);
  const byTenant = new WeakMap<Tenant, ListToolsResult>();
  return async (caller) => {
    let tenant: Tenant;
    try {
      tenant = await o.resolveTenant(caller);
    } catch {
      return fallback;
    }
    let listing = byTenant.get(tenant);
    if (!listing) {
      const exposed = exposedOnly(o.seed, tenant.tools ?? defaults);
      try {
        listing = hasPolicyRules(tenant.allow) ? narrowListing(exposed, tenant.allow) : exposed;
      } catch (err) {
        // A seed that lost a field the narrowing expects: still list the tools, with the full schemas.
        o.logger.error('tools_list.narrowing_failed', { tenant: caller.tenantId ?? null, error: err instanceof Error ? err.message : typeof err });
        listing = exposed;
      }
      byTenant.set(tenant, listing);
    }
    return listing;
  };
}
