import * as z from 'zod';

/**
 * The `invite_user` input and output schemas. Bounds on every string and array keep a hostile
 * or runaway caller from sending megabytes through to Portkey; the SDK validates arguments
 * against this schema before the handler runs, so invalid input never reaches upstream.
 */

// Printable text: no C0/C1 control characters or line/paragraph separators (no CR/LF smuggling).
const plainText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\u0000-\u001F\u007F-\u009F\u2028\u2029]*$/, 'must not contain control characters or line breaks');

const workspaceId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'must be a workspace id or slug (letters, digits, _ . : -)');

const scope = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:*-]+$/, 'must be a Portkey scope name such as "logs.view"');

export const MAX_WORKSPACES = 50;
export const MAX_SCOPES = 100;
export const MAX_METADATA_ENTRIES = 32;

export const inviteUserInput = z.strictObject({
  email: z
    .email('must be a valid email address, e.g. jane@example.com')
    .max(254)
    .describe("The invitee's email address. Portkey sends the invitation there."),
  role: z
    .enum(['admin', 'member'])
    .describe(
      'Organisation role: "member" (the usual choice) or "admin" (full control of the organisation; may require extra permission).',
    ),
  first_name: plainText(100).optional().describe("The invitee's first name (optional)."),
  last_name: plainText(100).optional().describe("The invitee's last name (optional)."),
  workspaces: z
    .array(
      z.strictObject({
        id: workspaceId.describe('Workspace id or slug, as shown in Portkey (e.g. "ws-engineering").'),
        role: z
          .enum(['admin', 'member', 'manager'])
          .describe('Role in this workspace: "member" (use it), "manager" (manage it), or "admin".'),
      }),
    )
    .max(MAX_WORKSPACES)
    .describe(
      `Workspaces to add the invitee to, each with a role (at most ${MAX_WORKSPACES}). May be empty: Portkey then adds them to the organisation's shared workspace.`,
    ),
  workspace_api_key_details: z
    .strictObject({
      name: plainText(100).optional().describe('A name for the API key (optional).'),
      expiry: z.iso
        .datetime({ offset: true })
        .optional()
        .describe('When the key expires, as an ISO 8601 date-time such as 2026-12-31T23:59:59Z (optional).'),
      metadata: z
        .record(z.string().min(1).max(64), z.string().max(512))
        .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, `must have at most ${MAX_METADATA_ENTRIES} entries`)
        .optional()
        .describe('String key/value pairs stored with the key (optional).'),
      scopes: z
        .array(scope)
        .min(1)
        .max(MAX_SCOPES)
        .describe('Permissions for the key, e.g. ["logs.view", "completions.write"]. At least one.'),
    })
    .optional()
    .describe(
      "Optional: also create a workspace API key for the invitee in each workspace, with these scopes. Omit to create no key.",
    ),
});

export type InviteUserArgs = z.infer<typeof inviteUserInput>;

export const inviteUserOutput = z.object({
  invite_id: z.string().describe("Portkey's id for the invite."),
  invite_link: z
    .string()
    .optional()
    .describe("The link the invitee uses to join. Absent only when Portkey's answer was lost and the invite was confirmed by looking it up."),
  invite_status: z
    .string()
    .optional()
    .describe('Present only when the invite was confirmed by looking it up: its status in Portkey (e.g. "pending").'),
  unconfirmed_grants: z
    .array(z.string())
    .optional()
    .describe("Present only when the invite was confirmed by looking it up and Portkey's listing does not show some requested grants (workspaces, the API key): those could not be confirmed."),
  email: z.string(),
  role: z.enum(['admin', 'member']),
  workspaces: z.array(z.object({ id: z.string(), role: z.string() })),
  api_key_requested: z.boolean().describe('Whether a workspace API key was requested for the invitee.'),
});

export type InviteUserOutput = z.infer<typeof inviteUserOutput>;
