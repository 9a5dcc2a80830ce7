import { toJsonSchemaCompat } from '@modelcontextprotocol/sdk/server/zod-json-schema-compat.js';
import type { ListToolsResult } from '@modelcontextprotocol/sdk/types.js';
import type { Caller } from '../auth/caller.js';
import type { Logger } from '../log.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import type { TenantPolicy } from '../tenants/tenant-table.js';
import { INVITE_USER, inviteUserDefinition } from '../tools/invite-user.js';
import { hasPolicyRules, narrowListing } from '../tools/narrow-listing.js';

type Tool = ListToolsResult['tools'][number];

/** tools/list as McpServer would build it (same conversion, same options), computed once. */
export function seedToolsListing(): ListToolsResult {
  const { inputSchema, outputSchema, ...rest } = inviteUserDefinition;
  return {
    tools: [
      {
        name: INVITE_USER,
        ...rest,
        inputSchema: toJsonSchemaCompat(inputSchema, { strictUnions: true, pipeStrategy: 'input' }) as Tool['inputSchema'],
        outputSchema: toJsonSchemaCompat(outputSchema, { strictUnions: true, pipeStrategy: 'output' }) as Tool['outputSchema'],
      },
    ],
  };
}

/**
 * The tools/list answer for a caller: the seed, narrowed to its tenant's policy. A listing is built
 * once per policy object and kept in a WeakMap keyed by it: a tenant from TENANTS keeps one policy
 * object for the process's life, and a KV tenant gets a new one each time its entry is re-read
 * (src/tenants/store-tenants.ts), so a changed entry gets a new listing and old ones go with their
 * entry. The cache is thus bounded by the tenants alive in memory, and a warm call costs the
 * resolver plus one WeakMap lookup.
 *
 * Listing tools never fails because of the tenant: a caller whose tenant cannot be resolved (no
 * claim, unknown, the store unreadable) gets the seed; invite_user then names the problem.
 */
export function createToolsListing(o: { seed: ListToolsResult; resolveTenant: TenantResolver; logger: Logger }): (caller: Caller) => Promise<ListToolsResult> {
  const byPolicy = new WeakMap<TenantPolicy, ListToolsResult>();
  return async (caller) => {
    let allow: TenantPolicy;
    try {
      allow = (await o.resolveTenant(caller)).allow;
    } catch {
      return o.seed;
    }
    if (!hasPolicyRules(allow)) return o.seed;
    let listing = byPolicy.get(allow);
    if (!listing) {
      try {
        listing = narrowListing(o.seed, allow);
      } catch (err) {
        // A seed that lost a field the narrowing expects: still list the tool, with the full schema.
        o.logger.error('tools_list.narrowing_failed', { tenant: caller.tenantId ?? null, error: err instanceof Error ? err.message : typeof err });
        listing = o.seed;
      }
      byPolicy.set(allow, listing);
    }
    return listing;
  };
}
