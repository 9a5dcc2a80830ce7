import * as z from 'zod';
import { InviteStatusError, PolicyError } from '../errors.js';
import { enforceRateLimits } from '../limits/enforce.js';
import { storeStepDeadline } from '../limits/store-deadline.js';
import { TOOL } from '../tenants/tool-names.js';
import { coveredInvite, inviteIdInput } from './cancel-invite.js';
import { tenantTarget } from './invite-access.js';
import { auditText, type ToolDefinition } from './tool.js';

const output = z.object({
  invite_id: z.string(),
  email: z.string(),
  invite_link: z.string().optional().describe('The link the new email carries, when Portkey returns it.'),
});

/** resend_invite: sends the invite's email again; counts against the same rate limits as an invite. */
export const resendInviteTool: ToolDefinition<typeof inviteIdInput> = {
  name: TOOL.resendInvite,
  title: 'Resend a Portkey invite',
  description:
    'Send a pending or expired invite\'s email again, by its invite_id (from list_invites); an expired one is renewed. Not idempotent: every call ' +
    'sends another email, and it counts against the same rate limits as invite_user. Only invites your organisation\'s policy would let you make ' +
    'can be resent.',
  inputSchema: inviteIdInput,
  outputSchema: output,
  annotations: { title: 'Resend a Portkey invite', readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
  auditFields: (args) => ({ invite: auditText(args.invite_id, 128) }),
  async run(args, ctx) {
    const storeDeadline = storeStepDeadline();
    const { tenant, target } = await tenantTarget(ctx);
    await enforceRateLimits(ctx.rateLimiters, tenant.id, ctx.caller.subject, storeDeadline);
    const invite = await coveredInvite(ctx, target, tenant.allow, args.invite_id, 'sent');
    // The listing never shows an invite's API-key scopes: with a policy that restricts them, the
    // server cannot tell what a resent link would hand out, so it does not send one.
    if (tenant.allow.apiKeyScopes) {
      throw new PolicyError([
        `invite ${invite.id} may carry a workspace API key whose scopes Portkey does not show, and your organisation's policy restricts API key scopes, so it cannot be resent from here; cancel it and invite the person again with invite_user`,
      ]);
    }
    if (invite.status !== 'pending' && invite.status !== 'expired') {
      throw new InviteStatusError(`Invite ${invite.id} for ${invite.email} is ${invite.status ?? 'in an unknown state'}: only a pending or expired invite can be resent. No email was sent.`);
    }
    // Never retried, and a lost answer is not settled by a read: no read can tell whether an email
    // went out (the client's message says so, and not to resend at once).
    const result = await ctx.portkey.resendInvite(target, invite.id);
    ctx.audit.upstreamStatus = result.status;
    ctx.audit.upstreamLatencyMs = result.latencyMs;
    const structured = { invite_id: invite.id, email: invite.email, ...(result.value.inviteLink ? { invite_link: result.value.inviteLink } : {}) };
    return {
      content: [{ type: 'text', text: JSON.stringify({ message: `Sent the invite ${invite.id} to ${invite.email} again.`, ...structured }) }],
      structuredContent: structured,
      outcome: 'resent',
    };
  },
};
