/**
 * When Portkey's answer to the invite POST is lost (timeout, dropped connection, an unreadable
 * 2xx) or is 409 "already exists", one read settles what the caller cannot: is there a pending
 * invite for this email, and could it be this call's? The POST is never repeated; the read is
 * `GET /admin/users/invites?email=…&status=pending`, at most once per call, within the call's
 * budget (src/portkey/call-budget.ts).
 */
import {
  AlreadyInvitedError,
  AmbiguousOutcomeError,
  InviteNotFoundError,
  PortkeyAnsweredError,
  PortkeyBadResponseError,
  PortkeyRefusedError,
} from '../errors.js';
import { callBudgetMs, lookupTimeoutMs, MIN_LOOKUP_MS } from '../portkey/call-budget.js';
import type { PortkeyClient, PortkeyTarget } from '../portkey/client.js';
import type { ListedInvite } from '../portkey/invite-list.js';
import type { InviteUserArgs } from './invite-user-schema.js';

/** Clocks differ: an invite stamped up to this long before the call started may still be its own. */
export const CLOCK_SKEW_MS = 2 * 60_000;
/** An existing invite this recent that matches the request is most likely the caller's own earlier attempt. */
export const RECENT_MS = 15 * 60_000;

/*
 * Audit outcomes (src/audit-outcomes.ts): `invited_confirmed` (src/mcp/mcp-handler.ts, when the
 * lookup matched), `not_found_after_*` (InviteNotFoundError), and `already_invited`
 * (AlreadyInvitedError), which replaces `portkey_AB07` for every 409.
 */

/** What the lookup did, for the audit line's `reconcile`. */
export type ReconcileResult = 'matched' | 'no_match' | 'failed' | 'skipped';

export interface ReconcileAudit {
  reconcile?: ReconcileResult;
  reconcileStatus?: number;
  reconcileLatencyMs?: number;
  upstreamStatus?: number;
  upstreamLatencyMs?: number;
  inviteId?: string;
}

export interface ReconcileContext {
  portkey: PortkeyClient;
  target: PortkeyTarget;
  args: InviteUserArgs;
  /** When the tool call started (ms since the epoch): the budget and the "could be this call's" line count from it. */
  startedAt: number;
  audit: ReconcileAudit;
}

/** The invite a lookup found for a call whose answer was lost. */
export interface ConfirmedInvite {
  invite: ListedInvite & { createdAt: number };
  /** What went wrong with the POST's answer, e.g. "Portkey (…) did not answer within 10000 ms." */
  happened: string;
}

type Lookup = { kind: 'skipped' } | { kind: 'failed' } | { kind: 'listed'; pending: ListedInvite[]; at: number };

/**
 * Settles an error from the invite POST: resolves with the confirmed invite when a lookup finds
 * this call's, otherwise throws (the original error, or one that says what the lookup found).
 */
export async function reconcileInviteError(err: unknown, ctx: ReconcileContext): Promise<ConfirmedInvite> {
  // The POST's own status and latency stay on the audit line whatever the lookup makes of them.
  if (err instanceof PortkeyAnsweredError) {
    ctx.audit.upstreamStatus = err.upstreamStatus;
    ctx.audit.upstreamLatencyMs = err.upstreamLatencyMs;
  }
  const unknown = unknownOutcome(err);
  if (unknown) {
    const lookup = await lookUp(ctx);
    if (lookup.kind === 'skipped') throw withNote(err as Error, skippedNote(ctx));
    if (lookup.kind === 'failed') throw err; // today's message, unchanged
    const mine = newest(lookup.pending.filter((i) => whyNotThisCall(i, ctx).length === 0));
    if (mine) {
      ctx.audit.reconcile = 'matched';
      ctx.audit.inviteId = mine.id;
      return { invite: mine as ConfirmedInvite['invite'], happened: unknown.happened };
    }
    ctx.audit.reconcile = 'no_match';
    throw new InviteNotFoundError(`not_found_after_${unknown.cause}`, notFoundMessage(unknown.happened, lookup, ctx));
  }
  // Portkey's only documented 409 is AB07, "resource already exists".
  if (err instanceof PortkeyRefusedError && err.upstreamStatus === 409) {
    const lookup = await lookUp(ctx);
    const answer = { status: err.upstreamStatus, latencyMs: err.upstreamLatencyMs };
    if (lookup.kind === 'skipped') throw new AlreadyInvitedError(answer, `${err.message} ${skippedNote(ctx)}`);
    if (lookup.kind === 'failed') throw new AlreadyInvitedError(answer, err.message);
    const existing = newest(lookup.pending);
    ctx.audit.reconcile = existing ? 'matched' : 'no_match';
    if (existing) ctx.audit.inviteId = existing.id;
    throw new AlreadyInvitedError(answer, alreadyInvitedMessage(err.happened, existing, lookup.at, ctx));
  }
  throw err;
}

/** The success text for an invite confirmed by lookup. */
export function confirmedMessage({ invite, happened }: ConfirmedInvite, args: InviteUserArgs): string {
  return (
    `Invited ${args.email} as ${args.role} (confirmed by lookup). ${happened} ` +
    `Portkey's answer was lost, so this server looked the invite up and found it: invite ${invite.id}, status ${invite.status}, created ${when(invite.createdAt)}. ` +
    'The invitation link was in the lost answer; Portkey emails it to the invitee. Do not invite this email again.'
  );
}

function unknownOutcome(err: unknown): { cause: 'timeout' | 'connection_lost' | 'bad_response'; happened: string } | undefined {
  if (err instanceof AmbiguousOutcomeError) return { cause: err.code, happened: err.happened };
  // An unreadable 2xx: Portkey may have created the invite. An unreadable error status is a refusal.
  if (err instanceof PortkeyBadResponseError && err.upstreamStatus >= 200 && err.upstreamStatus <= 299) {
    return { cause: 'bad_response', happened: err.happened };
  }
  return undefined;
}

async function lookUp(ctx: ReconcileContext): Promise<Lookup> {
  const { portkey, audit } = ctx;
  const left = ctx.startedAt + callBudgetMs(portkey.timeoutMs) - Date.now();
  const timeoutMs = Math.min(lookupTimeoutMs(portkey.timeoutMs), left);
  if (timeoutMs < MIN_LOOKUP_MS) {
    audit.reconcile = 'skipped';
    return { kind: 'skipped' };
  }
  try {
    const listed = await portkey.listInvites(ctx.target, { email: ctx.args.email, status: 'pending' }, timeoutMs);
    audit.reconcileStatus = listed.status;
    audit.reconcileLatencyMs = listed.latencyMs;
    // Filtered again here: a control plane that ignored the query must not lend us someone else's invite.
    const email = ctx.args.email.toLowerCase();
    const pending = listed.value.filter((i) => i.email.toLowerCase() === email && i.status === 'pending');
    return { kind: 'listed', pending, at: Date.now() };
  } catch (err) {
    if (err instanceof PortkeyAnsweredError) {
      audit.reconcileStatus = err.upstreamStatus;
      audit.reconcileLatencyMs = err.upstreamLatencyMs;
    }
    audit.reconcile = 'failed';
    return { kind: 'failed' };
  }
}

/** Why a pending invite cannot be this call's; empty when it can. */
function whyNotThisCall(invite: ListedInvite, ctx: ReconcileContext): string[] {
  const why: string[] = [];
  if (invite.createdAt === undefined) why.push('Portkey gave no readable creation time');
  else if (invite.createdAt < ctx.startedAt - CLOCK_SKEW_MS) why.push('it was created before this call');
  why.push(...differences(invite, ctx.args));
  return why;
}

/** How an invite differs from what was asked: org role, and workspaces when the list shows them. */
function differences(invite: ListedInvite, args: InviteUserArgs): string[] {
  const diff: string[] = [];
  if (invite.role !== args.role) diff.push(`its role is ${invite.role ?? 'not shown'}, not ${args.role}`);
  // An empty request lands in the org's shared workspace, whose id the caller never named.
  if (invite.workspaces && args.workspaces.length > 0) {
    const listed = new Set(invite.workspaces.map((w) => `${w.id}:${w.role}`));
    const asked = new Set(args.workspaces.map((w) => `${w.id}:${w.role}`));
    if (listed.size !== asked.size || [...asked].some((w) => !listed.has(w))) {
      diff.push(`its workspaces are ${[...listed].join(', ')}, not ${[...asked].join(', ')}`);
    }
  }
  return diff;
}

function newest(invites: ListedInvite[]): ListedInvite | undefined {
  return [...invites].sort((a, b) => (b.createdAt ?? -Infinity) - (a.createdAt ?? -Infinity))[0];
}

function notFoundMessage(happened: string, lookup: Extract<Lookup, { kind: 'listed' }>, ctx: ReconcileContext): string {
  const { email } = ctx.args;
  const others = lookup.pending.slice(0, 3).map((i) => `${describe(i)}, which is not this call's: ${whyNotThisCall(i, ctx).join('; ')}`);
  const found = others.length ? ` that could be this call's (found ${others.join('; and ')})` : '';
  return (
    `${happened} This server then looked for the invite: no pending invite for ${email}${found} as of ${when(lookup.at)}. ` +
    `Portkey may still be processing the request, so check again before retrying (Portkey's Members page lists pending invites; ` +
    `a retry is refused with "already invited", naming the invite, if one has appeared by then).`
  );
}

function alreadyInvitedMessage(happened: string, existing: ListedInvite | undefined, at: number, ctx: ReconcileContext): string {
  const { email } = ctx.args;
  if (!existing) {
    return (
      `${happened} No pending invite for ${email} was found as of ${when(at)}, so ${email} is most likely already a member of the organisation ` +
      '(or their invite was accepted); nothing new was created. Check the organisation\'s members instead of inviting again.'
    );
  }
  const diff = differences(existing, ctx.args);
  const recent = existing.createdAt !== undefined && at - existing.createdAt <= RECENT_MS;
  const verdict =
    diff.length === 0 && recent
      ? 'It is recent and matches this request (role and workspaces), so it is most likely your own earlier attempt, for example one whose answer was lost: the person is already invited and nothing more is needed.'
      : diff.length === 0
        ? 'It matches this request (role and workspaces) but is older, so it is most likely an earlier invite; the person can still accept it.'
        : `It differs from this request (${diff.join('; ')}); to change it, cancel that invite in Portkey and invite again.`;
  return `${happened} ${email} already has a pending invite: ${describe(existing)}. ${verdict} Nothing new was created.`;
}

function describe(i: ListedInvite): string {
  const workspaces = i.workspaces ? `workspaces ${i.workspaces.map((w) => `${w.id}:${w.role}`).join(', ')}` : 'workspaces not shown';
  return `invite ${i.id} (role ${i.role ?? 'not shown'}, ${workspaces}, created ${i.createdAt === undefined ? 'at a time Portkey did not give' : when(i.createdAt)}, status ${i.status})`;
}

function skippedNote(ctx: ReconcileContext): string {
  return `(This server did not look the invite up: the call's Portkey time budget of ${callBudgetMs(ctx.portkey.timeoutMs)} ms was spent.)`;
}

/** The same error with a note appended to what the caller reads. */
function withNote<E extends Error>(err: E, note: string): E {
  err.message = `${err.message} ${note}`;
  return err;
}

/** An instant as ISO 8601 in UTC, to the second. */
function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
