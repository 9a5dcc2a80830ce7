/**
 * The tools this server defines, by name: what a tenant entry's `tools` and EXPOSED_TOOLS may list.
 * Each tool's definition (src/tools/) takes its name from here, so a name exists once.
 */
export const TOOL = {
  inviteUser: 'invite_user',
  listInvites: 'list_invites',
  cancelInvite: 'cancel_invite',
  resendInvite: 'resend_invite',
} as const;

export type ToolName = (typeof TOOL)[keyof typeof TOOL];
export const TOOL_NAMES: readonly ToolName[] = Object.values(TOOL);

/** What a tenant exposes when neither its entry nor EXPOSED_TOOLS says: inviting and reading, nothing that removes or re-sends. */
export const DEFAULT_TOOLS: readonly ToolName[] = [TOOL.inviteUser, TOOL.listInvites];
