/**
 * Every `outcome` an `audit.invite_user` line can carry: docs/audit.md lists exactly
 * these, and test/audit-outcomes.test.ts checks both that list and that every ToolError code
 * lands in it. A new outcome is added here, in docs/audit.md, and (if it is a ToolError) in the test's
 * factories. `<…>` stands for a value Portkey supplies.
 */
export const AUDIT_OUTCOMES = [
  'invited',
  'invited_confirmed',
  'listed',
  'cancelled',
  'cancelled_confirmed',
  'already_cancelled',
  'resent',
  'invite_not_found',
  'wrong_invite_status',
  'invalid_input',
  'tenant_not_configured',
  'tenant_lookup_failed',
  'refused_by_policy',
  'step_up_required',
  'not_configured',
  'rate_limited',
  'rate_limiter_unavailable',
  'shutting_down',
  'already_invited',
  'portkey_<errorCode>',
  'portkey_http_<status>',
  'portkey_bad_response',
  'portkey_unreachable',
  'timeout',
  'connection_lost',
  'not_found_after_timeout',
  'not_found_after_connection_lost',
  'not_found_after_bad_response',
  'internal_error',
] as const;

export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** The listed outcome a concrete code is an instance of (`portkey_AB07` → `portkey_<errorCode>`), if any. */
export function listedOutcome(code: string): AuditOutcome | undefined {
  if ((AUDIT_OUTCOMES as readonly string[]).includes(code)) return code as AuditOutcome;
  if (/^portkey_http_\d{3}$/.test(code)) return 'portkey_http_<status>';
  // Portkey's errorCode as the client accepts it (src/portkey/error-body.ts).
  if (/^portkey_[A-Za-z0-9_.-]{1,40}$/.test(code)) return 'portkey_<errorCode>';
  return undefined;
}
