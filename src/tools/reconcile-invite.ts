/**
 * When Portkey's answer to the invite POST is lost (timeout, dropped connection, an unreadable
 * 2xx) or is 409 "already exists", one read settles what the caller cannot: is there a pending
 * invite for this email, and could it be this call's? The POST is never repeated; the read is
 * `GET /admin/users/invites?email=…&status=pending`, at most once per call, within the call's
 * budget (src/portkey/call-budget.ts).
 */
import type { AuditRecord } from './audit-line.js';
import {
  AlreadyInvitedError,
  AmbiguousOutcomeError,
  InviteNotFoundError,
  PortkeyAnsweredError,
  PortkeyBadResponseError,
  PortkeyRefusedError,
} from '../errors.js';
import { callBudgetMs, lookupTimeoutMs, MIN_LOOKUP_MS } from '../portkey/call-budget.js';
import type { PortkeyClient, PortkeyTarget, WorkspaceIds } from '../portkey/client.js';
import type { InviteClaims } from './invite-claims.js';
import type { ListedInvite } from '../portkey/invite-list.js';
import type { InviteUserArgs } from './invite-user-schema.js';

/**
 * Clocks differ, and Portkey stamps to the second: an invite is this call's only if it was created
 * between the call's start less this skew and the lookup's time plus this skew. Wider would let an
 * invite someone else made just before (or one stamped in the future) pass for this call's.
 */
const CLOCK_SKEW_MS = 10_000;
/** An existing invite this recent that matches the request is most likely the caller's own earlier attempt. */
const RECENT_MS = 15 * 60_000;

/*
 * Audit outcomes (src/audit-outcomes.ts): `invited_confirmed` (src/mcp/mcp-handler.ts, when the
 * lookup matched), `not_found_after_*` (InviteNotFoundError), and `already_invited`
 * (AlreadyInvitedError), which replaces `portkey_AB07` for every 409.
 */

/** What the lookup did, for the audit line's `reconcile`. */
export type ReconcileResult = 'matched' | 'no_match' | 'failed' | 'skipped';


export interface ReconcileContext {
  portkey: PortkeyClient;
  target: PortkeyTarget;
  args: InviteUserArgs;
  tenantId: string;
  /** Invites other calls of this server have already taken as theirs. */
  claims: InviteClaims;
  /** When the tool call started (ms since the epoch): the budget and the "could be this call's" window count from it. */
  startedAt: number;
  audit: AuditRecord;
}

/** The invite a lookup found for a call whose answer was lost. */
export interface ConfirmedInvite {
  invite: ListedInvite & { createdAt: number };
  /** What went wrong with the POST's answer, e.g. "Portkey (…) did not answer within 10000 ms." */
  happened: string;
  /** Requested grants the listing does not show, so they could not be confirmed (empty when all were). */
  unconfirmed: string[];
}

/** Request slugs resolved to Portkey's workspace ids; undefined when resolving failed or ran out of time. */
type Resolved = Map<string, WorkspaceIds> | undefined;

type Lookup =
  | { kind: 'skipped' }
  | { kind: 'failed' }
  | { kind: 'listed'; pending: ListedInvite[]; at: number; resolved: Resolved };

/** How a listed invite compares with this call's request. */
type Comparison = { fits: true; unconfirmed: string[] } | { fits: false; why: string[] };

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
    const candidates = lookup.pending
      .map((invite) => ({ invite, comparison: compare(invite, ctx, lookup) }))
      .filter((c): c is { invite: ListedInvite & { createdAt: number }; comparison: Extract<Comparison, { fits: true }> } => c.comparison.fits);
    // Newest first; an invite another call of this server has already taken is not this one's.
    for (const { invite, comparison } of candidates.sort((a, b) => b.invite.createdAt - a.invite.createdAt)) {
      if (!ctx.claims.claim(ctx.tenantId, invite.id)) continue;
      ctx.audit.reconcile = 'matched';
      ctx.audit.inviteId = invite.id;
      ctx.audit.unconfirmedGrants = comparison.unconfirmed;
      return { invite, happened: unknown.happened, unconfirmed: comparison.unconfirmed };
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
    throw new AlreadyInvitedError(answer, alreadyInvitedMessage(err.happened, existing, lookup, ctx));
  }
  throw err;
}

/** The success text for an invite confirmed by lookup. */
export function confirmedMessage({ invite, happened, unconfirmed }: ConfirmedInvite, args: InviteUserArgs): string {
  const notShown = unconfirmed.length
    ? `Portkey's listing does not show ${unconfirmed.join(' or ')}, so those could not be confirmed: check them on Portkey's Members page. `
    : '';
  return (
    `Invited ${args.email} as ${args.role} (confirmed by lookup). ${happened} ` +
    `Portkey's answer was lost, so this server looked the invite up and found it: invite ${invite.id}, status ${invite.status}, created ${when(invite.createdAt)}. ` +
    notShown +
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

/** Time left for the lookup's reads, within the call's budget and the lookup's own cap. */
function lookupTimeLeft(ctx: ReconcileContext, lookupStarted: number): number {
  const { portkey } = ctx;
  const inBudget = ctx.startedAt + callBudgetMs(portkey.timeoutMs) - Date.now();
  const inCap = lookupStarted + lookupTimeoutMs(portkey.timeoutMs) - Date.now();
  return Math.min(inBudget, inCap);
}

async function lookUp(ctx: ReconcileContext): Promise<Lookup> {
  const { portkey, audit } = ctx;
  const lookupStarted = Date.now();
  const timeoutMs = lookupTimeLeft(ctx, lookupStarted);
  if (timeoutMs < MIN_LOOKUP_MS) {
    audit.reconcile = 'skipped';
    return { kind: 'skipped' };
  }
  let pending: ListedInvite[];
  try {
    const listed = await portkey.listInvites(ctx.target, { email: ctx.args.email, status: 'pending' }, timeoutMs);
    audit.reconcileStatus = listed.status;
    audit.reconcileLatencyMs = listed.latencyMs;
    // Filtered again here: a control plane that ignored the query must not lend us someone else's invite.
    const email = ctx.args.email.toLowerCase();
    pending = listed.value.filter((i) => i.email.toLowerCase() === email && i.status === 'pending');
  } catch (err) {
    if (err instanceof PortkeyAnsweredError) {
      audit.reconcileStatus = err.upstreamStatus;
      audit.reconcileLatencyMs = err.upstreamLatencyMs;
    }
    audit.reconcile = 'failed';
    return { kind: 'failed' };
  }
  const at = Date.now();
  return { kind: 'listed', pending, at, resolved: await resolveSlugs(ctx, pending, lookupStarted) };
}

/**
 * The invite takes workspace slugs, but Portkey lists workspaces by id (a UUID). When a listed
 * invite shows workspaces that are not the request's own spelling, each requested workspace is
 * read once (`GET /admin/workspaces/{slug}` → `{id, slug}`, in parallel, within the lookup's
 * time), so both sides compare in one form.
 */
async function resolveSlugs(ctx: ReconcileContext, pending: ListedInvite[], lookupStarted: number): Promise<Resolved> {
  const requested = [...new Set(ctx.args.workspaces.map((w) => w.id))];
  const listedIds = new Set(pending.flatMap((i) => (i.workspaces ?? []).map((w) => w.id)));
  if (requested.length === 0 || requested.every((id) => listedIds.has(id)) || listedIds.size === 0) return new Map();
  const timeoutMs = lookupTimeLeft(ctx, lookupStarted);
  if (timeoutMs < MIN_LOOKUP_MS) return undefined;
  try {
    const read = await Promise.all(requested.map(async (id) => [id, (await ctx.portkey.getWorkspace(ctx.target, id, timeoutMs)).value] as const));
    return new Map(read);
  } catch {
    return undefined;
  }
}

/** Whether a listed invite can be this call's, and which of the requested grants the listing does not show. */
function compare(invite: ListedInvite, ctx: ReconcileContext, lookup: Extract<Lookup, { kind: 'listed' }>): Comparison {
  const why: string[] = [];
  if (invite.createdAt === undefined) why.push('Portkey gave no readable creation time');
  else if (invite.createdAt < ctx.startedAt - CLOCK_SKEW_MS) why.push('it was created before this call');
  else if (invite.createdAt > lookup.at + CLOCK_SKEW_MS) why.push(`it is stamped ${when(invite.createdAt)}, after this call looked`);
  const grants = compareGrants(invite, ctx.args, lookup.resolved);
  if (grants.differs.length) why.push(...grants.differs);
  return why.length ? { fits: false, why } : { fits: true, unconfirmed: grants.unconfirmed };
}

/** How an invite's org role and workspaces differ from the request, and what of the request the listing does not show. */
function compareGrants(invite: ListedInvite, args: InviteUserArgs, resolved: Resolved): { differs: string[]; unconfirmed: string[] } {
  const differs: string[] = [];
  const unconfirmed: string[] = [];
  if (invite.role !== args.role) differs.push(`its role is ${invite.role ?? 'not shown'}, not ${args.role}`);
  const asked = args.workspaces.map((w) => `${w.id}:${w.role}`);
  if (!invite.workspaces) {
    // Absent, or Portkey's own example `[{workspace_id: "", role: ""}]`: nothing to compare.
    unconfirmed.push(asked.length ? `the workspaces ${asked.join(', ')}` : 'that it grants no workspace');
  } else if (asked.length === 0) {
    if (invite.workspaces.length > 0) differs.push(`it grants workspaces ${invite.workspaces.map((w) => grantName(w, resolved)).join(', ')}, and this call asked for none`);
  } else if (resolved === undefined && !args.workspaces.every((w) => invite.workspaces!.some((l) => l.id === w.id))) {
    unconfirmed.push(`the workspaces ${asked.join(', ')} (the listing names them by id, and the slugs could not be read)`);
  } else if (!sameWorkspaces(invite.workspaces, args.workspaces, resolved ?? new Map())) {
    differs.push(`its workspaces are ${invite.workspaces.map((w) => grantName(w, resolved)).join(', ') || 'none'}, not ${asked.join(', ')}`);
  }
  // The list never shows an invite's API key details.
  const scopes = args.workspace_api_key_details?.scopes;
  if (scopes) unconfirmed.push(`the workspace API key (scopes ${scopes.join(', ')})`);
  return { differs, unconfirmed };
}

/** A listed workspace grant in the request's terms: its slug when this lookup resolved it, else Portkey's id. */
function grantName(w: { id: string; role: string }, resolved: Resolved): string {
  for (const ids of resolved?.values() ?? []) if (ids.id === w.id && ids.slug) return `${ids.slug}:${w.role}`;
  return `${w.id}:${w.role}`;
}

/** The same set of workspace grants, a listed id matching the requested slug or the id it resolves to. */
function sameWorkspaces(listed: { id: string; role: string }[], asked: { id: string; role: string }[], resolved: Map<string, WorkspaceIds>): boolean {
  if (listed.length !== asked.length) return false;
  const left = [...listed];
  for (const w of asked) {
    const names = new Set([w.id, resolved.get(w.id)?.id, resolved.get(w.id)?.slug].filter((n): n is string => !!n));
    const i = left.findIndex((l) => l.role === w.role && names.has(l.id));
    if (i < 0) return false;
    left.splice(i, 1);
  }
  return true;
}

function newest(invites: ListedInvite[]): ListedInvite | undefined {
  return [...invites].sort((a, b) => (b.createdAt ?? -Infinity) - (a.createdAt ?? -Infinity))[0];
}

function notFoundMessage(happened: string, lookup: Extract<Lookup, { kind: 'listed' }>, ctx: ReconcileContext): string {
  const { email } = ctx.args;
  const others = lookup.pending.slice(0, 3).map((i) => {
    const comparison = compare(i, ctx, lookup);
    const why = comparison.fits ? ['another call to this server already reported it as its own'] : comparison.why;
    return `${describe(i, lookup.resolved)}, which is not this call's: ${why.join('; ')}`;
  });
  const found = others.length ? ` that could be this call's (found ${others.join('; and ')})` : '';
  return (
    `${happened} This server then looked for the invite: no pending invite for ${email}${found} as of ${when(lookup.at)}. ` +
    `Portkey may still be processing the request, so check again before retrying (Portkey's Members page lists pending invites; ` +
    `a retry is refused with "already invited", naming the invite, if one has appeared by then).`
  );
}

function alreadyInvitedMessage(happened: string, existing: ListedInvite | undefined, lookup: Extract<Lookup, { kind: 'listed' }>, ctx: ReconcileContext): string {
  const { email } = ctx.args;
  if (!existing) {
    return (
      `${happened} No pending invite for ${email} was found as of ${when(lookup.at)}, so ${email} is most likely already a member of the organisation ` +
      '(or their invite was accepted); nothing new was created. Check the organisation\'s members instead of inviting again.'
    );
  }
  const { differs, unconfirmed } = compareGrants(existing, ctx.args, lookup.resolved);
  const recent = existing.createdAt !== undefined && existing.createdAt <= lookup.at + CLOCK_SKEW_MS && lookup.at - existing.createdAt <= RECENT_MS;
  const notShown = unconfirmed.length ? ` (Portkey's listing does not show ${unconfirmed.join(' or ')}, so those could not be compared.)` : '';
  // Never advise cancelling what is probably the caller's own earlier attempt: only an invite that
  // differs from this request is worth replacing.
  const verdict =
    differs.length === 0 && recent
      ? `It is recent and matches this request${notShown ? ' as far as the listing shows' : ' (role and workspaces)'}, so it is most likely your own earlier attempt, for example one whose answer was lost: the person is already invited and nothing more is needed.${notShown}`
      : differs.length === 0
        ? `It matches this request${notShown ? ' as far as the listing shows' : ' (role and workspaces)'} but is older, so it is most likely an earlier invite; the person can still accept it.${notShown}`
        : `It differs from this request (${differs.join('; ')}); to change it, cancel that invite in Portkey and invite again.`;
  return `${happened} ${email} already has a pending invite: ${describe(existing, lookup.resolved)}. ${verdict} Nothing new was created.`;
}

function describe(i: ListedInvite, resolved: Resolved): string {
  const workspaces = i.workspaces ? (i.workspaces.length ? `workspaces ${i.workspaces.map((w) => grantName(w, resolved)).join(', ')}` : 'no workspaces') : 'workspaces not shown';
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
