import * as z from 'zod';
import { AmbiguousOutcomeError, InviteStatusError, PolicyError, PortkeyBadResponseError, PortkeyRefusedError, UnknownInviteError } from '../errors.js';
import type { ListedInvite } from '../portkey/invite-list.js';
import type { PortkeyTarget } from '../portkey/client.js';
import { TOOL } from '../tenants/tool-names.js';
import { notCovered, tenantTarget, workspaceSlugs } from './invite-access.js';
import { auditText, type ToolContext, type ToolDefinition } from './tool.js';

export const inviteIdInput = z.strictObject({
  invite_id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'must be an invite id as list_invites shows it')
    .describe('The invite_id from list_invites (or from invite_user).'),
});

const output = z.object({
  invite_id: z.string(),
  status: z.literal('cancelled'),
  already_cancelled: z.boolean().describe('True when it was already cancelled: nothing changed.'),
  confirmed_by_read: z.boolean().describe("True when Portkey's answer was lost and the cancellation was confirmed by reading the invite back."),
});

/**
 * The invite, read before anything is changed, and refused unless the caller's policy covers it.
 * An unknown id and one the caller may not touch get answers that do not tell them apart by content.
 */
export async function coveredInvite(ctx: ToolContext, target: PortkeyTarget, allow: Parameters<typeof notCovered>[1], id: string, verb: string): Promise<ListedInvite> {
  let invite: ListedInvite;
  try {
    invite = (await ctx.portkey.getInvite(target, id)).value;
  } catch (err) {
    if (err instanceof PortkeyRefusedError && (err.code === 'portkey_AB08' || err.upstreamStatus === 404)) {
      throw new UnknownInviteError(`There is no invite ${id} in this organisation: nothing was ${verb}. Call list_invites for the ids you may use.`);
    }
    throw err;
  }
  const slugs = await workspaceSlugs(ctx, target, [invite]);
  const why = notCovered(invite, allow, ctx.caller, ctx.adminScope, slugs);
  if (why) throw new PolicyError([`invite ${id} is outside what your organisation's policy lets you manage (${why}); nothing was ${verb}`]);
  ctx.audit.inviteId = invite.id;
  return invite;
}

/** cancel_invite: cancels a pending invite; repeating it changes nothing more. A lost answer is settled by reading the invite back. */
export const cancelInviteTool: ToolDefinition<typeof inviteIdInput> = {
  name: TOOL.cancelInvite,
  title: 'Cancel a Portkey invite',
  description:
    'Cancel a pending invite by its invite_id (from list_invites), so its link no longer works. Cancelling an invite that is already cancelled ' +
    'changes nothing and succeeds; an accepted or expired invite cannot be cancelled. Only invites your organisation\'s policy would let you make ' +
    'can be cancelled. If Portkey\'s answer is lost, the server reads the invite back and answers from what it finds.',
  inputSchema: inviteIdInput,
  outputSchema: output,
  annotations: { title: 'Cancel a Portkey invite', readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true },
  auditFields: (args) => ({ invite: auditText(args.invite_id, 128) }),
  async run(args, ctx) {
    const { tenant, target } = await tenantTarget(ctx);
    const invite = await coveredInvite(ctx, target, tenant.allow, args.invite_id, 'cancelled');
    const done = (already: boolean, confirmed: boolean, outcome: string, message: string) => {
      const structured = { invite_id: invite.id, status: 'cancelled' as const, already_cancelled: already, confirmed_by_read: confirmed };
      return { content: [{ type: 'text' as const, text: JSON.stringify({ message, ...structured }) }], structuredContent: structured, outcome };
    };
    if (invite.status === 'cancelled') return done(true, false, 'already_cancelled', `Invite ${invite.id} for ${invite.email} was already cancelled: nothing changed.`);
    if (invite.status !== 'pending') {
      throw new InviteStatusError(`Invite ${invite.id} for ${invite.email} is ${invite.status ?? 'in an unknown state'}: only a pending invite can be cancelled. Nothing was changed.`);
    }
    try {
      const result = await ctx.portkey.cancelInvite(target, invite.id);
      ctx.audit.upstreamStatus = result.status;
      ctx.audit.upstreamLatencyMs = result.latencyMs;
      return done(false, false, 'cancelled', `Cancelled the invite ${invite.id} for ${invite.email}.`);
    } catch (err) {
      if (!(err instanceof AmbiguousOutcomeError || err instanceof PortkeyBadResponseError)) throw err;
      // The DELETE may have happened: read the invite back instead of guessing (never a second DELETE).
      let after: ListedInvite | 'gone' | undefined;
      try {
        after = (await ctx.portkey.getInvite(target, invite.id)).value;
      } catch (readErr) {
        after = readErr instanceof PortkeyRefusedError && (readErr.code === 'portkey_AB08' || readErr.upstreamStatus === 404) ? 'gone' : undefined;
      }
      if (after === 'gone' || after?.status === 'cancelled') {
        return done(false, true, 'cancelled_confirmed', `Portkey's answer was lost, and reading the invite back shows it ${after === 'gone' ? 'removed' : 'cancelled'}: the invite ${invite.id} for ${invite.email} is cancelled.`);
      }
      if (after) {
        throw new InviteStatusError(
          `${err.message} Reading it back at ${new Date().toISOString()} shows the invite ${invite.id} still ${after.status ?? 'in an unknown state'}: it was not cancelled. Call cancel_invite again.`,
        );
      }
      throw err;
    }
  },
};
