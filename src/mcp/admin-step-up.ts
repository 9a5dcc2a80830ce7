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
 * Whether the client that sent these headers acts on a 403 `insufficient_scope` (steps up). No
 * Claude client does (claude-code#68720 and #73712, claude-ai-mcp#931): Claude Code reports
 * "requires re-authorization" and drops the reason; claude.ai, Claude Desktop and Cowork ask the
 * user to reconnect, which asks for the same connect-time scopes again. Claude Code names itself in
 * its User-Agent (`claude-code/<version> (cli)`) or sends `X-Claude-Code-Session-Id`; claude.ai's
 * connectors send no User-Agent at all (claude-ai-mcp#923). Every HTTP library an agent platform
 * uses sends one (Node's fetch: `node`, httpx: `python-httpx/…`), and the SDKs' OAuth clients step up.
 */
function stepsUpOn403(headers: Headers): boolean {
  const agent = headers.get('user-agent');
  return agent !== null && agent.trim() !== '' && !/claude/i.test(agent) && !headers.has('x-claude-code-session-id');
}

/**
 * What the person behind the call reads when an admin invite is refused for want of the admin
 * scope: which scope, whether reconnecting can help on this server, and what to do instead.
 */
function adminScopeAdvice(config: Config, adminScope: string): string {
  const atConnect = config.auth.connectScopes.includes(adminScope);
  return (
    `Inviting an organisation admin needs the "${adminScope}" scope, which your token lacks, so nothing was sent to Portkey. ` +
    (atConnect
      ? 'This server asks for that scope when a client connects: disconnect and reconnect (sign in again) to get it, if your account may hold it; your authorization server leaves it out of tokens for accounts that may not. '
      : `Reconnecting will not help: this server does not ask for that scope when a client connects (its operator can add it to AUTH_CONNECT_SCOPES, and must grant it only to accounts that may invite admins). `) +
    'Meanwhile, invite the person as a member (role "member"), or ask someone who may invite admins.'
  );
}

/**
 * MCP authorization "scope challenge": inviting an org admin needs an extra scope. An HTTP 403
 * with `insufficient_scope` lets an OAuth client re-authorize with it (step-up), which a tool
 * result cannot, so the check runs on the parsed message, before the MCP server. It asks only for
 * a grant the tenant and its policy would allow; any other refusal it found is handed to the tool
 * (`settled`), which answers it as an `isError` result. A client that never steps up
 * (stepsUpOn403 false: Claude's) gets the same refusal as a tool result instead, which it shows.
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
  /** The request's headers: whether the client acts on a 403 (stepsUpOn403), read only for a refusal. */
  headers: Headers;
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
    const advice = adminScopeAdvice(o.config, adminScope);
    // The tool writes the audit line of a refusal it answers.
    if (!stepsUpOn403(o.headers)) return { settled: { args: args.data, refusal: new ScopeError(advice) } };
    writeAuditLine(o.logger, {
      requestId: o.requestId,
      caller: o.caller,
      clientAddress: o.clientAddress,
      args: args.data,
      tenant: o.tenantId ?? o.caller.tenantId,
      outcome: err.code,
    });
    return { stepUp: { scopes: [...o.config.auth.requiredScopes, adminScope], description: advice } };
  }
}
