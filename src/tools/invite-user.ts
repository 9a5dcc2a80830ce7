import type { Caller } from '../auth/caller.js';
import { TOOL } from '../tenants/tool-names.js';
import { inviteAuditFields } from './audit-line.js';
import type { ToolContext, ToolDefinition } from './tool.js';
import { PolicyError, ScopeError, ServerConfigurationError, ShuttingDownError } from '../errors.js';
import { callBudgetMs } from '../portkey/call-budget.js';
import { enforceRateLimits } from '../limits/enforce.js';
import { storeStepDeadline } from '../limits/store-deadline.js';
import { policyViolations } from '../policy/policy.js';
import type { CreateInvite, InviteCreated, PortkeyCallResult } from '../portkey/client.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import type { Tenant } from '../tenants/tenant-table.js';
import { inviteUserInput, inviteUserOutput, type InviteUserArgs, type InviteUserOutput } from './invite-user-schema.js';
import { confirmedMessage, reconcileInviteError, type ConfirmedInvite } from './reconcile-invite.js';

export const INVITE_USER = TOOL.inviteUser;

/** The tool's definition, built once at start-up and shared by every per-request server. */
export const inviteUserDefinition = {
  title: 'Invite a user to Portkey',
  description:
    'Invite a person into the Portkey organisation by email, with an organisation role, optional workspace memberships ' +
    'and an optional workspace API key. Portkey emails them an invitation link, which is also returned. ' +
    'Not idempotent: calling it twice for the same email fails the second time with "already invited", naming the existing invite. ' +
    "If Portkey's answer is lost (timeout, dropped connection), the server looks the invite up once: when it finds it, the call " +
    'succeeds without invite_link (Portkey emails the link) and with invite_status. ' +
    "What may be granted is limited by the server's policy for your organisation; a refusal names each rule broken.",
  inputSchema: inviteUserInput,
  outputSchema: inviteUserOutput,
  annotations: {
    title: 'Invite a user to Portkey',
    readOnlyHint: false,
    // It only adds an invite; it never changes or removes anything that exists.
    destructiveHint: false,
    idempotentHint: false,
    openWorldHint: true,
  },
} as const;

/** What inviteUser needs: a tool call's context, with the start optional for callers outside the wrapper. */
export type InviteUserDeps = Omit<ToolContext, 'requestId' | 'startedAt'> & { startedAt?: number };


/** Everything a call must pass before anything is sent upstream: tenant, policy, then the admin scope. */
export async function authorizeInvite(
  args: InviteUserArgs,
  caller: Caller,
  resolveTenant: TenantResolver,
  adminScope: string | undefined,
  storeDeadline?: number,
): Promise<Tenant> {
  const tenant = await resolveTenant(caller, storeDeadline);
  const broken = policyViolations(tenant.allow, args);
  if (broken.length) throw new PolicyError(broken);
  // Checked after the policy, so that a step-up is only asked for a grant that would be allowed.
  if (args.role === 'admin' && adminScope && !caller.scopes.has(adminScope)) {
    throw new ScopeError(
      `Inviting an organisation admin needs the "${adminScope}" scope, which your token lacks. ` +
        'Ask for a token with that scope, or invite the person as a member.',
    );
  }
  return tenant;
}

export async function inviteUser(args: InviteUserArgs, deps: InviteUserDeps) {
  // The call's start, before its tenant was resolved: the lookup's budget counts from there.
  const startedAt = deps.startedAt ?? Date.now();
  // One deadline for the tenant and the limits together: a stalled store costs a call STORE_STEP_MS at most.
  const storeDeadline = storeStepDeadline();
  const tenant = await authorizeInvite(args, deps.caller, deps.resolveTenant, deps.adminScope, storeDeadline);
  if (!tenant.apiKey) {
    throw new ServerConfigurationError(
      'No Portkey admin API key is configured on this server, so no invite can be sent. ' +
        'The operator must set PORTKEY_API_KEY (an organisation admin key from Portkey → Admin Settings → API Keys) and restart.',
    );
  }
  await enforceRateLimits(deps.rateLimiters, tenant.id, deps.caller.subject, storeDeadline);
  refuseIfCutBeforeAnswer(deps);
  const target = { baseUrl: tenant.baseUrl, apiKey: tenant.apiKey, label: deps.keyLabel(tenant) };
  let result: PortkeyCallResult<InviteCreated>;
  try {
    result = await deps.portkey.createInvite(target, toCreateInvite(args));
  } catch (err) {
    // Never a second POST: a lost answer or a 409 is settled by one read, or not at all.
    const ctx = { portkey: deps.portkey, target, args, tenantId: tenant.id, claims: deps.claims, startedAt, audit: deps.audit };
    return confirmedResult(args, await reconcileInviteError(err, ctx));
  }
  // This invite is this call's: a lookup by a concurrent call for the same email must not report it too.
  deps.claims.claim(tenant.id, result.value.id);
  deps.audit.upstreamStatus = result.status;
  deps.audit.upstreamLatencyMs = result.latencyMs;
  deps.audit.inviteId = result.value.id;

  const output: InviteUserOutput = {
    invite_id: result.value.id,
    invite_link: result.value.invite_link,
    email: args.email,
    role: args.role,
    workspaces: args.workspaces,
    api_key_requested: args.workspace_api_key_details !== undefined,
  };
  const text = {
    message: `Successfully invited ${args.email} as ${args.role}`,
    invite_id: output.invite_id,
    invite_link: output.invite_link,
  };
  return {
    content: [{ type: 'text' as const, text: JSON.stringify(text) }],
    structuredContent: output,
  };
}

/** Time to answer the caller and write the audit line once Portkey has answered. */
const ANSWER_MS = 1_000;

/**
 * During shutdown, a POST that could not get its answer (and its lookup) back to the caller before
 * the responses are cut is never started: an invite Portkey created but whose caller was cut off
 * is the one outcome that must not happen. Refused before anything is sent, it is safe to retry.
 */
function refuseIfCutBeforeAnswer(deps: InviteUserDeps): void {
  const cutAt = deps.responsesCutAt?.();
  if (cutAt === undefined || Date.now() + callBudgetMs(deps.portkey.timeoutMs) + ANSWER_MS <= cutAt) return;
  throw new ShuttingDownError(
    'This server is shutting down (a restart or deploy), too close to its deadline to send the invite to Portkey and return the answer. ' +
      'Nothing was sent: no invite was created. Retry the same call now; another instance will take it.',
  );
}

/** Success for an invite whose POST answer was lost but which a lookup found: no link, its status instead. */
function confirmedResult(args: InviteUserArgs, confirmed: ConfirmedInvite) {
  const output: InviteUserOutput = {
    invite_id: confirmed.invite.id,
    invite_status: confirmed.invite.status,
    ...(confirmed.unconfirmed.length ? { unconfirmed_grants: confirmed.unconfirmed } : {}),
    email: args.email,
    role: args.role,
    workspaces: args.workspaces,
    api_key_requested: args.workspace_api_key_details !== undefined,
  };
  const text = {
    message: confirmedMessage(confirmed, args),
    invite_id: output.invite_id,
    invite_status: output.invite_status,
    ...(output.unconfirmed_grants ? { unconfirmed_grants: output.unconfirmed_grants } : {}),
  };
  return {
    content: [{ type: 'text' as const, text: JSON.stringify(text) }],
    structuredContent: output,
  };
}

/** Exactly the fields the caller gave: optional ones are omitted, never sent as null. */
export function toCreateInvite(args: InviteUserArgs): CreateInvite {
  const body: CreateInvite = {
    email: args.email,
    role: args.role,
    workspaces: args.workspaces.map((w) => ({ id: w.id, role: w.role })),
  };
  if (args.first_name !== undefined) body.first_name = args.first_name;
  if (args.last_name !== undefined) body.last_name = args.last_name;
  const d = args.workspace_api_key_details;
  if (d) {
    const details: NonNullable<CreateInvite['workspace_api_key_details']> = { scopes: [...d.scopes] };
    if (d.name !== undefined) details.name = d.name;
    if (d.expiry !== undefined) details.expiry = d.expiry;
    // A null-prototype copy: keys such as "__proto__" stay plain data.
    if (d.metadata !== undefined) details.metadata = Object.assign(Object.create(null), d.metadata);
    body.workspace_api_key_details = details;
  }
  return body;
}

/** invite_user as the wrapper runs it (src/mcp/run-tool.ts). */
export const inviteUserTool: ToolDefinition<typeof inviteUserInput> = {
  name: INVITE_USER,
  ...inviteUserDefinition,
  annotations: { ...inviteUserDefinition.annotations },
  auditFields: inviteAuditFields,
  async run(args, ctx) {
    const result = await inviteUser(args, ctx);
    return { ...result, outcome: ctx.audit.reconcile === 'matched' ? 'invited_confirmed' : 'invited' };
  },
};
