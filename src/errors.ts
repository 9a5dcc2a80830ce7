/**
 * The error model. Tool handlers throw these; exactly one wrapper (tools/tool-result.ts) turns
 * them into `isError` results, and the HTTP layer turns auth failures into 401/403. Every message
 * is written for the caller: it says what went wrong and what to do, and never carries a secret.
 */

/**
 * Wrong settings found at start-up: every problem found at once, one per line, each naming the
 * variable and the fix (never its value: a value may be a key).
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string | string[]) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('\n'));
    this.problems = list;
  }
}

/** An error a tool call can end in. `code` is stable (logs and audit lines branch on it). */
/** Each subclass spells out its `name` (stack traces, logs): a minified bundle renames classes, so constructor.name would not do. */
export abstract class ToolError extends Error {

  abstract readonly code: string;
}

/** The tool's arguments do not match its input schema; nothing was sent upstream. */
export class InvalidInputError extends ToolError {
  override readonly name = 'InvalidInputError';
  readonly code = 'invalid_input';
}

/** The caller's token names no configured tenant. */
export class TenantError extends ToolError {
  override readonly name = 'TenantError';
  readonly code = 'tenant_not_configured';
}

/** The tenant's policy forbids what was asked. */
export class PolicyError extends ToolError {
  override readonly name = 'PolicyError';
  readonly code = 'refused_by_policy';
  constructor(violations: string[]) {
    super(`Refused by this tenant's policy, nothing was sent to Portkey:\n- ${violations.join('\n- ')}`);
  }
}

/** The caller lacks a scope this particular grant needs (the HTTP layer turns it into a 403 step-up when it can). */
export class ScopeError extends ToolError {
  override readonly name = 'ScopeError';
  readonly code = 'step_up_required';
}

/** The server is missing a setting this call needs (e.g. no Portkey key). */
export class ServerConfigurationError extends ToolError {
  override readonly name = 'ServerConfigurationError';
  readonly code = 'not_configured';
}

/** Portkey answered: its HTTP status and how long the exchange took, for the audit line. */
export interface UpstreamAnswer {
  status: number;
  latencyMs: number;
}

/** Portkey answered; the audit line records its status and latency, errors included. */
export abstract class PortkeyAnsweredError extends ToolError {
  readonly upstreamStatus: number;
  readonly upstreamLatencyMs: number;
  constructor(answer: UpstreamAnswer, message: string) {
    super(message);
    this.upstreamStatus = answer.status;
    this.upstreamLatencyMs = answer.latencyMs;
  }
}

/** Portkey answered with an error status. */
export class PortkeyRefusedError extends PortkeyAnsweredError {
  override readonly name = 'PortkeyRefusedError';
  readonly code: string;
  /**
   * @param happened what Portkey said, without the advice that `message` adds (a lookup that
   * learns more rewrites the advice).
   */
  constructor(answer: UpstreamAnswer, errorCode: string | undefined, message: string, readonly happened = message) {
    super(answer, message);
    this.code = errorCode ? `portkey_${errorCode}` : `portkey_http_${answer.status}`;
  }
}

/** Portkey answered 2xx with something that is not the documented shape. */
export class PortkeyBadResponseError extends PortkeyAnsweredError {
  override readonly name = 'PortkeyBadResponseError';
  readonly code = 'portkey_bad_response';
  /**
   * @param happened what was wrong with the answer, without advice (a reconciling lookup reuses it).
   * @param advice what to do about it.
   */
  constructor(answer: UpstreamAnswer, readonly happened: string, advice: string) {
    super(answer, advice ? `${happened} ${advice}` : happened);
  }
}

/** Portkey could not be reached; the request was never delivered. */
export class PortkeyUnreachableError extends ToolError {
  override readonly name = 'PortkeyUnreachableError';
  readonly code = 'portkey_unreachable';
}

/**
 * The request may have reached Portkey but no answer came back (timeout after sending, or the
 * connection dropped). The invite may or may not exist, so the caller must check, not retry.
 */
export class AmbiguousOutcomeError extends ToolError {
  override readonly name = 'AmbiguousOutcomeError';
  /**
   * @param happened what went wrong, without advice (a reconciling lookup reuses it).
   * @param advice what to do about it.
   */
  constructor(readonly code: 'timeout' | 'connection_lost', readonly happened: string, advice: string) {
    super(`${happened} ${advice}`);
  }
}

/**
 * The invite POST's outcome was unknown and a lookup right after found no invite that could be
 * this call's. Still not "nothing was created": Portkey may not have finished the request.
 */
export class InviteNotFoundError extends ToolError {
  override readonly name = 'InviteNotFoundError';
  constructor(readonly code: `not_found_after_${'timeout' | 'connection_lost' | 'bad_response'}`, message: string) {
    super(message);
  }
}

/** Portkey answered 409 (AB07): the email already has an invite or a membership; nothing new was created. */
export class AlreadyInvitedError extends PortkeyAnsweredError {
  override readonly name = 'AlreadyInvitedError';
  readonly code = 'already_invited';
}

/** Too many invite_user calls for a tenant or caller; nothing was sent upstream. */
export class RateLimitedError extends ToolError {
  override readonly name = 'RateLimitedError';
  readonly code = 'rate_limited';
  constructor(
    message: string,
    /** Which limit refused the call. */
    readonly limit: 'caller' | 'tenant' = 'tenant',
  ) {
    super(message);
  }
}

/**
 * The rate limiter could not answer. invite_user fails closed: an admin write tool must not run
 * unmetered because its brake is broken.
 */
export class RateLimiterUnavailableError extends ToolError {
  override readonly name = 'RateLimiterUnavailableError';
  readonly code = 'rate_limiter_unavailable';
}

/**
 * The server is shutting down and the call could not finish before in-flight responses are cut:
 * nothing was sent to Portkey, so a retry (which the load balancer sends to another instance) is safe.
 */
export class ShuttingDownError extends ToolError {
  override readonly name = 'ShuttingDownError';
  readonly code = 'shutting_down';
}

/** The tenant store could not be read, or holds a broken entry. */
export class TenantLookupError extends ToolError {
  override readonly name = 'TenantLookupError';
  readonly code = 'tenant_lookup_failed';
}

/** No invite with that id in the caller's organisation (Portkey answered 404 AB08). */
export class UnknownInviteError extends ToolError {
  override readonly name = 'UnknownInviteError';
  readonly code = 'invite_not_found';
}

/** The invite is in a state the call cannot act on (e.g. cancelling an accepted invite). */
export class InviteStatusError extends ToolError {
  override readonly name = 'InviteStatusError';
  readonly code = 'wrong_invite_status';
}
