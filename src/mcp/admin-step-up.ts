import type { Caller } from '../auth/caller.js';
import type { Config } from '../server-config.js';
import { ScopeError } from '../errors.js';
import type { Logger } from '../log.js';
import { writeAuditLine } from '../tools/audit-line.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import { authorizeInvite, INVITE_USER } from '../tools/invite-user.js';
import { inviteUserInput, type InviteUserArgs } from '../tools/invite-user-schema.js';

/** An admin invite refused for want of the admin scope: answered with HTTP 403 so an OAuth client can step up. */
export interface StepUp {
  scopes: string[];
  description: string;
}

/** An admin invite the check already parsed and refused for another reason: the tool answers with this refusal, without parsing or resolving again. */
export interface SettledInvite {
  args: InviteUserArgs;
  refusal: unknown;
}

/**
 * MCP authorization "scope challenge": inviting an org admin needs an extra scope. An HTTP 403
 * with `insufficient_scope` lets an OAuth client re-authorize with it (step-up), which a tool
 * result cannot, so the check runs on the parsed message, before the MCP server. It asks only for
 * a grant the tenant and its policy would allow; any other refusal it found is handed to the tool
 * (`settled`), which answers it as an `isError` result.
 */
export async function checkAdminStepUp(o: {
  config: Config;
  caller: Caller;
  message: unknown;
  resolveTenant: TenantResolver;
  logger: Logger;
  requestId: string;
  /** For the audit line: the tenant id the request line names, and the caller's address. */
  tenantId?: string;
  clientAddress?: string;
}): Promise<{ stepUp: StepUp } | { settled: SettledInvite } | undefined> {
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
    if (!(err instanceof ScopeError)) return { settled: { args: args.data, refusal: err } };
    writeAuditLine(o.logger, {
      requestId: o.requestId,
      caller: o.caller,
      clientAddress: o.clientAddress,
      args: args.data,
      tenant: o.tenantId ?? o.caller.tenantId,
      outcome: err.code,
    });
    return { stepUp: { scopes: [...o.config.auth.requiredScopes, adminScope], description: err.message } };
  }
}
