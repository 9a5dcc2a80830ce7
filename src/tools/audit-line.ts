import type { Caller } from '../auth/caller.js';
import type { LogFields, Logger } from '../log.js';
import type { ReconcileResult } from './reconcile-invite.js';

/** What a call learns as it proceeds, for its audit line: filled in by the tool and by the lookup after a lost answer. */
export interface AuditRecord {
  tenant?: string;
  inviteId?: string;
  upstreamStatus?: number;
  upstreamLatencyMs?: number;
  reconcile?: ReconcileResult;
  reconcileStatus?: number;
  reconcileLatencyMs?: number;
  /** For an invite confirmed by lookup: the requested grants Portkey's listing did not show. */
  unconfirmedGrants?: string[];
  /** list_invites: how many listed invites the caller's policy did not let it see. */
  leftOut?: number;
}

/**
 * The arguments as the call gave them. Validated ones for most outcomes; for `invalid_input`
 * whatever arrived, so every field is read defensively and bounded as the schema would bound it.
 */
export interface AuditedArgs {
  email?: unknown;
  role?: unknown;
  workspaces?: unknown;
  workspace_api_key_details?: unknown;
}

export interface AuditEntry {
  requestId: string;
  caller: Caller;
  clientAddress?: string;
  args: AuditedArgs;
  tenant: string | undefined;
  outcome: string;
  audit?: AuditRecord;
  durationMs?: number;
  /** For `invalid_input`: the paths of the fields that failed validation. */
  invalidFields?: string[];
  /** The tool called (default invite_user), and what its line records of the arguments (default: invite_user's fields). */
  tool?: string;
  fields?: LogFields;
}

const text = (value: unknown, max: number): string | null => (typeof value === 'string' ? value.slice(0, max) : null);
const field = (value: unknown, key: string): unknown => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined);

/** What an invite_user audit line records of its arguments. */
export function inviteAuditFields(args: AuditedArgs): LogFields {
  const scopes = field(args.workspace_api_key_details, 'scopes');
  return {
    invitee: text(args.email, 254),
    org_role: text(args.role, 32),
    workspaces: Array.isArray(args.workspaces)
      ? args.workspaces.slice(0, 50).map((w) => `${text(field(w, 'id'), 128) ?? '?'}:${text(field(w, 'role'), 32) ?? '?'}`)
      : [],
    api_key_scopes: Array.isArray(scopes) ? scopes.slice(0, 100).map((s) => text(s, 128) ?? '?') : null,
  };
}

/** One audit line per tool call (`audit.<tool>`), refused ones included. Never a token or key. */
export function writeAuditLine(logger: Logger, e: AuditEntry): void {
  const tool = e.tool ?? 'invite_user';
  logger.audit(`audit.${tool}`, {
    request_id: e.requestId,
    tenant: e.tenant ?? null,
    sub: e.caller.subject ?? null,
    client_id: clientIdOf(e.caller),
    client_address: e.clientAddress ?? null,
    ...(e.fields ?? inviteAuditFields(e.args)),
    outcome: e.outcome,
    ...(e.invalidFields ? { invalid_fields: e.invalidFields } : {}),
    invite_id: e.audit?.inviteId ?? null,
    upstream_status: e.audit?.upstreamStatus ?? null,
    upstream_latency_ms: e.audit?.upstreamLatencyMs ?? null,
    ...(tool === 'invite_user'
      ? {
          // The one lookup after a lost answer or a 409 (src/tools/reconcile-invite.ts); null when none ran.
          reconcile: e.audit?.reconcile ?? null,
          reconcile_status: e.audit?.reconcileStatus ?? null,
          reconcile_latency_ms: e.audit?.reconcileLatencyMs ?? null,
          // invited_confirmed: the requested grants Portkey's listing did not show, so not confirmed (null otherwise).
          unconfirmed_grants: e.outcome === 'invited_confirmed' ? (e.audit?.unconfirmedGrants ?? []) : null,
        }
      : { left_out: e.audit?.leftOut ?? null }),
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
