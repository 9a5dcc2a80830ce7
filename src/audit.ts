import type { Caller } from './auth/caller.js';
import type { Logger } from './log.js';
import type { InviteAudit } from './tools/invite-user.js';
import type { InviteUserArgs } from './tools/invite-user-schema.js';

export interface AuditEntry {
  requestId: string;
  caller: Caller;
  clientAddress?: string;
  args: Pick<InviteUserArgs, 'email' | 'role' | 'workspaces' | 'workspace_api_key_details'>;
  tenant: string | undefined;
  outcome: string;
  audit?: InviteAudit;
  durationMs?: number;
}

/** One audit line per invite_user call, refused ones included. Never a token or key. */
export function writeAuditLine(logger: Logger, e: AuditEntry): void {
  logger.audit('audit.invite_user', {
    request_id: e.requestId,
    tenant: e.tenant ?? null,
    sub: e.caller.subject ?? null,
    client_id: clientIdOf(e.caller),
    client_address: e.clientAddress ?? null,
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

/**
 * The OAuth client the token was issued to: `client_id` (RFC 9068 §2.2, JWT access tokens) or,
 * from OpenID providers, `azp` (OIDC Core §2). Null when the token names none.
 */
function clientIdOf(caller: Caller): string | null {
  const { client_id, azp } = caller.claims;
  if (typeof client_id === 'string' && client_id !== '') return client_id;
  if (typeof azp === 'string' && azp !== '') return azp;
  return null;
}
