import * as z from 'zod';
import { TOOL } from '../tenants/tool-names.js';
import { inviteEntry, notCovered, tenantTarget, workspaceSlugs } from './invite-access.js';
import { auditText, type ToolDefinition } from './tool.js';

const MAX_PAGE_SIZE = 50;

const input = z.strictObject({
  email: z.email().max(254).optional().describe('Only invites for this email address.'),
  status: z
    .enum(['pending', 'accepted', 'expired', 'cancelled', 'any'])
    .default('pending')
    .describe('Which invites: pending (the default), accepted, expired, cancelled, or any.'),
  page: z.number().int().min(0).max(10_000).default(0).describe('The page to read, from 0; an answer with next_page has more.'),
  page_size: z.number().int().min(1).max(MAX_PAGE_SIZE).default(20).describe(`Invites per page, 1 to ${MAX_PAGE_SIZE} (default 20).`),
});

const invite = z.object({
  invite_id: z.string(),
  email: z.string(),
  role: z.string(),
  workspaces: z.array(z.object({ id: z.string(), role: z.string() })).nullable().describe('By the slugs you use where the server can tell, else as Portkey lists them; null when Portkey does not show them.'),
  status: z.string(),
  created_at: z.string().optional(),
  expires_at: z.string().optional(),
});

const output = z.object({
  invites: z.array(invite),
  page: z.number(),
  page_size: z.number(),
  next_page: z.number().optional().describe('Present when there are more invites: pass it as page to read them.'),
  left_out: z.number().describe("Invites on this page your organisation's policy does not let you see (their details are not shown)."),
});

/** list_invites: one bounded page of the organisation's invites, only those the caller's policy covers. */
export const listInvitesTool: ToolDefinition<typeof input> = {
  name: TOOL.listInvites,
  title: 'List Portkey invites',
  description:
    "List the Portkey organisation's invites, newest state from Portkey: by default the pending ones, optionally for one email or another status. " +
    'One page per call (page, page_size); an answer with next_page has more. Each invite has its invite_id (for cancel_invite and resend_invite), ' +
    'email, org role, workspaces, status, and created and expiry times. Only invites your organisation\'s policy would let you make are shown; ' +
    'left_out says how many on the page were not.',
  inputSchema: input,
  outputSchema: output,
  annotations: { title: 'List Portkey invites', readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  auditFields: (args) => ({ invitee: auditText(args.email, 254), status_filter: auditText(args.status, 16), page: typeof args.page === 'number' ? args.page : null }),
  async run(args, ctx) {
    const { tenant, target } = await tenantTarget(ctx);
    const result = await ctx.portkey.listInvitePage(target, {
      email: args.email,
      status: args.status === 'any' ? undefined : args.status,
      pageSize: args.page_size,
      currentPage: args.page,
    });
    ctx.audit.upstreamStatus = result.status;
    ctx.audit.upstreamLatencyMs = result.latencyMs;
    const { invites: listed, total } = result.value;
    const slugs = await workspaceSlugs(ctx, target, listed);
    const shown = listed.filter((i) => notCovered(i, tenant.allow, ctx.caller, ctx.adminScope, slugs) === undefined);
    const leftOut = listed.length - shown.length;
    ctx.audit.leftOut = leftOut;
    const more = total !== undefined ? (args.page + 1) * args.page_size < total : listed.length === args.page_size;
    const structured = {
      invites: shown.map((i) => inviteEntry(i, slugs)),
      page: args.page,
      page_size: args.page_size,
      ...(more ? { next_page: args.page + 1 } : {}),
      left_out: leftOut,
    };
    const what = `${shown.length} ${args.status === 'any' ? '' : `${args.status} `}invite${shown.length === 1 ? '' : 's'}${args.email ? ` for ${args.email}` : ''} on page ${args.page}`;
    const message =
      `${what}.` +
      (leftOut ? ` ${leftOut} more on this page ${leftOut === 1 ? 'is' : 'are'} outside what your organisation's policy lets you see, so ${leftOut === 1 ? 'it is' : 'they are'} not shown.` : '') +
      (more ? ` There are more: call again with page ${args.page + 1}.` : '');
    return { content: [{ type: 'text', text: JSON.stringify({ message, ...structured }) }], structuredContent: structured, outcome: 'listed' };
  },
};
