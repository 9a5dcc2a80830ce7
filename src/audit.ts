import type { Caller } from './auth/caller.js';
import type { Logger } from './log.js';
import type { InviteAudit } from './tools/invite-user.js';
import type { InviteUserArgs } from './tools/invite-user-schema.js';

export interface AuditEntry {
  requestId: string;
  caller: Caller;
  args: Pick<InviteUserArgs, 'email' | 'role' | 'workspaces' | 'workspace_api_key_details'>;
  tenant: string | undefined;
  outcome: string;
  audit?: InviteAudit;
  durationMs?: number;
}

/** One audit line per invite_user call, refused ones included. Never a token or key. */
export function writeAuditLine(logger: Logger, e: AuditEntry): void {
  logger.info('audit.invite_user', {
    request_id: e.requestId,
    tenant: e.tenant ?? null,
    sub: e.caller.subject ?? null,
    invitee: e.args.email,
    org_role: e.args.role,
    workspaces: e.args.workspaces.map((w) => `${w.id}:${w.role}`),
    api_key_scopes: e.args.workspace_api_key_details?.scopes ?? null,
    outcome: e.outcome,
    invite_id: e.audit?.inviteId ?? null,
    upstream_status: e.audit?.upstreamStatus ?? null,
    upstream_latency_ms: e.audit?.upstreamLatencyMs ?? null,
    duration_ms: e.durationMs ?? null,
  });
}
