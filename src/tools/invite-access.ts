import type { Caller } from '../auth/caller.js';
import { ServerConfigurationError } from '../errors.js';
import { matchesPattern } from '../policy/policy.js';
import type { ListedInvite } from '../portkey/invite-list.js';
import type { PortkeyTarget } from '../portkey/client.js';
import { emailDomainAllowed } from '../tenants/email-domains.js';
import type { Tenant, TenantPolicy } from '../tenants/tenant-table.js';
import type { ToolContext } from './tool.js';

/**
 * What list_invites, cancel_invite and resend_invite share: the tenant's Portkey target, the
 * workspace slugs behind the UUIDs Portkey lists, and the rule that bounds them all: a caller sees,
 * cancels or resends only an invite it could have made itself (docs/tool.md#what-a-caller-may-see-cancel-and-resend).
 */

/** Workspaces looked up per call: a page of invites names a handful. */
const MAX_WORKSPACE_LOOKUPS = 20;
const WORKSPACE_LOOKUP_MS = 3_000;

export async function tenantTarget(ctx: ToolContext): Promise<{ tenant: Tenant; target: PortkeyTarget }> {
  const tenant = await ctx.resolveTenant(ctx.caller);
  if (!tenant.apiKey) {
    throw new ServerConfigurationError(
      'No Portkey admin API key is configured on this server, so invites cannot be read or changed. ' +
        'The operator must set PORTKEY_API_KEY (an organisation admin key from Portkey → Admin Settings → API Keys) and restart.',
    );
  }
  return { tenant, target: { baseUrl: tenant.baseUrl, apiKey: tenant.apiKey, label: ctx.keyLabel(tenant) } };
}

/** UUID → slug for the workspaces these invites name, read once each; a workspace that cannot be read maps to undefined. */
export async function workspaceSlugs(ctx: ToolContext, target: PortkeyTarget, invites: ListedInvite[]): Promise<Map<string, string | undefined>> {
  const ids = [...new Set(invites.flatMap((i) => (i.workspaces ?? []).map((w) => w.id)))].slice(0, MAX_WORKSPACE_LOOKUPS);
  const timeoutMs = Math.min(WORKSPACE_LOOKUP_MS, ctx.portkey.timeoutMs);
  const entries = await Promise.all(
    ids.map(async (id) => {
      try {
        return [id, (await ctx.portkey.getWorkspace(target, id, timeoutMs)).value.slug] as const;
      } catch {
        return [id, undefined] as const;
      }
    }),
  );
  return new Map(entries);
}

/** An invite's workspaces by the slugs the caller uses where the server can tell, else as Portkey lists them. */
function shownWorkspaces(invite: ListedInvite, slugs: Map<string, string | undefined>): { id: string; role: string }[] | undefined {
  return invite.workspaces?.map((w) => ({ id: slugs.get(w.id) ?? w.id, role: w.role }));
}

/**
 * Why the caller's policy does not cover this invite, or undefined when it does: the invitee's
 * email domain, the org role (an org admin also needs the admin scope), and every workspace grant,
 * as they would be checked had the caller sent the invite. Grants the listing does not show count
 * against the invite when the policy restricts them (the server cannot tell they are allowed).
 */
export function notCovered(
  invite: ListedInvite,
  allow: TenantPolicy,
  caller: Caller,
  adminScope: string | undefined,
  slugs: Map<string, string | undefined>,
): string | undefined {
  if (allow.emailDomains && !emailDomainAllowed(invite.email, allow.emailDomains)) return "its invitee's email domain is not among your organisation's allowed domains";
  if (!invite.role) return 'Portkey does not show its org role';
  if (allow.orgRoles && !allow.orgRoles.includes(invite.role)) return `it grants the org role "${invite.role}", which your organisation's policy does not allow`;
  if (invite.role === 'admin' && adminScope && !caller.scopes.has(adminScope)) return `it is an org-admin invite, which needs the "${adminScope}" scope`;
  if (allow.workspaces || allow.workspaceRoles) {
    if (!invite.workspaces) return 'Portkey does not show its workspaces, which your organisation\'s policy restricts';
    for (const w of invite.workspaces) {
      const slug = slugs.get(w.id) ?? (slugs.has(w.id) ? undefined : w.id);
      if (allow.workspaces && (slug === undefined || !allow.workspaces.some((p) => matchesPattern(slug, p)))) return 'it grants a workspace your organisation\'s policy does not allow';
      if (allow.workspaceRoles && !allow.workspaceRoles.includes(w.role)) return `it grants the workspace role "${w.role}", which your organisation's policy does not allow`;
    }
  }
  return undefined;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** One invite as the tools answer with it. */
export function inviteEntry(invite: ListedInvite, slugs: Map<string, string | undefined>) {
  return {
    invite_id: invite.id,
    email: invite.email,
    role: invite.role ?? 'unknown',
    workspaces: shownWorkspaces(invite, slugs) ?? null,
    status: invite.status ?? 'unknown',
    ...(invite.createdAt !== undefined ? { created_at: iso(invite.createdAt) } : {}),
    ...(invite.expiresAt !== undefined ? { expires_at: iso(invite.expiresAt) } : {}),
  };
}
