import type { ListToolsResult } from '@modelcontextprotocol/sdk/types.js';
import type { TenantPolicy } from '../tenants/tenant-table.js';
import { INVITE_USER } from './invite-user.js';

/**
 * tools/list for one tenant: the seed listing (JSON Schema built once from zod at start-up) with
 * `invite_user`'s input narrowed to the values the tenant's policy allows, and one sentence saying
 * so in words for clients that ignore enums. Pure: the same policy always gives the same listing,
 * so a caller caches it (src/mcp/tools-listing.ts).
 *
 * Only values narrow; the shape, field names and required fields stay the seed's, and every seed
 * constraint (type, length, id pattern) is kept beside the narrowing. The policy is still checked on
 * every call (policy/policy.ts): a client may ignore the schema.
 */

type Schema = Record<string, unknown>;
type Tool = ListToolsResult['tools'][number];

export function hasPolicyRules(allow: TenantPolicy): boolean {
  return (
    allow.orgRoles !== undefined ||
    allow.workspaces !== undefined ||
    allow.workspaceRoles !== undefined ||
    allow.apiKeyScopes !== undefined ||
    allow.emailDomains !== undefined
  );
}

export function narrowListing(seed: ListToolsResult, allow: TenantPolicy): ListToolsResult {
  if (!hasPolicyRules(allow)) return seed;
  return { ...seed, tools: seed.tools.map((tool) => (tool.name === INVITE_USER ? narrowInviteUser(tool, allow) : tool)) };
}

function narrowInviteUser(tool: Tool, allow: TenantPolicy): Tool {
  const input = structuredClone(tool.inputSchema) as Schema;
  const workspaces = node(input, 'properties', 'workspaces');
  const scopes = node(input, 'properties', 'workspace_api_key_details', 'properties', 'scopes');
  const allows: string[] = [];
  const blockers: string[] = [];

  if (allow.emailDomains) allows.push(`invitee email ${allow.emailDomains.length === 1 ? 'domain' : 'domains'} ${words(allow.emailDomains)}`);

  if (allow.orgRoles) {
    const roles = narrowEnum(node(input, 'properties', 'role'), allow.orgRoles);
    allows.push(`org ${roles.length === 1 ? 'role' : 'roles'} ${words(roles)}`);
    if (!roles.length) blockers.push('no organisation role may be granted');
  }

  let workspaceRoles: string[] | undefined;
  if (allow.workspaceRoles) {
    workspaceRoles = narrowEnum(node(workspaces, 'items', 'properties', 'role'), allow.workspaceRoles);
    // No role may be granted in any workspace, so the only grantable list is the empty one.
    if (!workspaceRoles.length) workspaces.maxItems = 0;
  }

  if (allow.workspaces) {
    const ids = narrowStrings(node(workspaces, 'items', 'properties', 'id'), allow.workspaces);
    // The policy refuses an empty list (Portkey would pick the shared workspace, which the policy
    // does not name): a value narrowing of the same field, so it is stated as minItems.
    workspaces.minItems = Math.max(1, typeof workspaces.minItems === 'number' ? workspaces.minItems : 0);
    workspaces.description = `${String(workspaces.description ?? '')} This organisation's policy overrides that: at least one workspace is required.`.trim();
    allows.push(`workspaces ${words(ids)} (at least one)`);
    if (!ids.length) blockers.push('none of its allowed workspaces is a valid workspace id, and at least one is required');
    else if (workspaceRoles?.length === 0) blockers.push('no workspace role may be granted, and at least one workspace is required');
  }

  if (workspaceRoles) {
    allows.push(workspaceRoles.length ? `workspace ${workspaceRoles.length === 1 ? 'role' : 'roles'} ${words(workspaceRoles)}` : 'no workspace roles (workspaces must be empty)');
  }

  if (allow.apiKeyScopes) {
    const granted = narrowStrings(node(scopes, 'items'), allow.apiKeyScopes);
    allows.push(granted.length ? `API key ${granted.length === 1 ? 'scope' : 'scopes'} ${words(granted)}` : 'no API key (omit workspace_api_key_details)');
  }

  const sentence = blockers.length
    ? `This organisation's policy allows no invites at all (${blockers.join('; ')}): do not call this tool; ask the server operator to change the policy.`
    : `This organisation's policy allows only: ${allows.join('; ')}.`;
  return { ...tool, description: `${tool.description ?? ''} ${sentence}`.trim(), inputSchema: input as Tool['inputSchema'] };
}

/** Keeps the seed's enum values the policy allows, in the seed's order; returns them. */
function narrowEnum(target: Schema, allowed: readonly string[]): string[] {
  const values = (Array.isArray(target.enum) ? target.enum : []).filter((v): v is string => typeof v === 'string' && allowed.includes(v));
  allowOnly(target, values);
  return values;
}

/**
 * `enum` of the values, or, when there are none, `not: {}` (matches nothing): JSON Schema allows an
 * empty enum (draft-07 §6.1.2 says it SHOULD have an element), but Ajv, which many clients use,
 * refuses to compile one, and the listing must stay usable for every client.
 */
function allowOnly(target: Schema, values: string[]): void {
  if (values.length) {
    target.enum = values;
  } else {
    delete target.enum;
    target.not = {};
  }
}

/**
 * Narrows a string field to policy rules: exact values become an `enum`, trailing-`*` rules an
 * anchored `pattern` on the escaped prefix, both under `anyOf` when mixed. The seed's own keywords
 * (type, lengths, pattern) stay on the field, so every alternative must also meet them; an exact
 * value that cannot is dropped. Returns the rules that are left, in the policy's words.
 */
function narrowStrings(target: Schema, rules: readonly string[]): string[] {
  const unique = [...new Set(rules)];
  const exact = unique.filter((r) => !r.endsWith('*') && meetsSeed(target, r));
  const prefixes = unique.filter((r) => r.endsWith('*')).map((r) => r.slice(0, -1));
  if (prefixes.includes('')) return ['*']; // "*" allows any value: nothing to narrow
  if (!prefixes.length) {
    allowOnly(target, exact);
  } else {
    target.anyOf = [...(exact.length ? [{ enum: exact }] : []), ...prefixes.map((p) => ({ pattern: `^${escapeRegExp(p)}` }))];
  }
  return [...exact, ...prefixes.map((p) => `${p}*`)];
}

/** Whether `value` meets the seed field's own string constraints (JSON Schema counts code points). */
function meetsSeed(target: Schema, value: string): boolean {
  const length = [...value].length;
  if (typeof target.minLength === 'number' && length < target.minLength) return false;
  if (typeof target.maxLength === 'number' && length > target.maxLength) return false;
  if (typeof target.pattern === 'string') {
    try {
      // JSON Schema §6.3.3 / ECMA-262 patterns are unanchored; the `u` flag as validators use it.
      return new RegExp(target.pattern, 'u').test(value);
    } catch {
      return true;
    }
  }
  return true;
}

/** Escapes ECMA-262 syntax characters only: `\-` and the like are invalid under the `u` flag validators use. */
function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

const words = (values: readonly string[]) => (values.length ? values.map((v) => JSON.stringify(v)).join(', ') : 'none');

/** The sub-schema at `path`; the seed is ours, so a missing node is a programming error. */
function node(schema: Schema, ...path: string[]): Schema {
  let at: unknown = schema;
  for (const key of path) {
    at = (at as Schema | undefined)?.[key];
    if (!at || typeof at !== 'object') throw new Error(`invite_user input schema has no ${path.join('.')}`);
  }
  return at as Schema;
}
