import { cancelInviteTool } from './cancel-invite.js';
import { inviteUserTool } from './invite-user.js';
import { listInvitesTool } from './list-invites.js';
import { resendInviteTool } from './resend-invite.js';
import type { ToolDefinition } from './tool.js';

/** Every tool this server defines, in the order tools/list shows them. */
export const ALL_TOOLS: readonly ToolDefinition[] = [inviteUserTool, listInvitesTool, cancelInviteTool, resendInviteTool] as ToolDefinition[];
