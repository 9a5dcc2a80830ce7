import type { Caller } from '../auth/caller.js';
import type { Config } from '../config.js';
import { ScopeError } from '../errors.js';
import type { Logger } from '../log.js';
import { writeAuditLine } from '../audit.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import { authorizeInvite, INVITE_USER } from '../tools/invite-user.js';
import { inviteUserInput } from '../tools/invite-user-schema.js';

export interface StepUp {
  scopes: string[];
  description: string;
}

/**
 * MCP authorization "scope challenge": inviting an org admin needs an extra scope. An HTTP 403
 * with `insufficient_scope` lets an OAuth client re-authorize with it (step-up), which a tool
 * result cannot, so the check runs here, on the parsed message, before the MCP server. It asks
 * only for a grant the tenant and its policy would allow; every other refusal is left to the
 * tool, which answers it as an `isError` result.
 */
export async function stepUpForAdminInvite(o: {
  config: Config;
  caller: Caller;
  message: unknown;
  resolveTenant: TenantResolver;
  logger: Logger;
  requestId: string;
  /** For the audit line: the tenant id the request line names, and the caller's address. */
  tenantId?: string;
  clientAddress?: string;
}): Promise<StepUp | undefined> {
  const adminScope = o.config.auth.adminScope;
  if (!adminScope || o.caller.scopes.has(adminScope)) return undefined;
  const m = o.message as { method?: unknown; params?: { name?: unknown; arguments?: { role?: unknown } } } | null;
  if (!m || m.method !== 'tools/call' || m.params?.name !== INVITE_USER || m.params.arguments?.role !== 'admin') return undefined;
  const args = inviteUserInput.safeParse(m.params.arguments);
  if (!args.success) return undefined;
  try {
    await authorizeInvite(args.data, o.caller, o.resolveTenant, adminScope);
    return undefined;
  } catch (err) {
    if (!(err instanceof ScopeError)) return undefined;
    writeAuditLine(o.logger, {
      requestId: o.requestId,
      caller: o.caller,
      clientAddress: o.clientAddress,
      args: args.data,
      tenant: o.tenantId ?? o.caller.tenantId,
      outcome: err.code,
    });
    return { scopes: [...o.config.auth.requiredScopes, adminScope], description: err.message };
  }
}
