import { redactKey } from './redact.js';

/**
 * One invite from `GET /admin/users/invites` (docs/portkey-api.md#reading-invites-get-adminusersinvites), reduced to what a
 * lookup needs and checked field by field: an invite whose id or email is not usable is dropped
 * (it could not be named or matched), and every string is checked before it can reach a message
 * or a log line, so nothing Portkey sends there can carry the tenant's key or a wall of text.
 */
export interface ListedInvite {
  id: string;
  email: string;
  /** `admin` | `member`, or undefined when Portkey sent something else. */
  role: 'admin' | 'member' | undefined;
  /** `pending` | `cancelled` | `accepted` | `expired`, or undefined when Portkey sent something else. */
  status: InviteStatus | undefined;
  /** When Portkey created it (ms since the epoch), or undefined when `created_at` is absent or unreadable. */
  createdAt: number | undefined;
  /** When it expires (ms since the epoch), or undefined when `expires_at` is absent or unreadable. */
  expiresAt: number | undefined;
  /** The workspaces the invite grants, or undefined when the list does not show them. */
  workspaces: { id: string; role: string }[] | undefined;
}

export const INVITE_STATUSES = ['pending', 'cancelled', 'accepted', 'expired'] as const;
export type InviteStatus = (typeof INVITE_STATUSES)[number];

/** Invites looked at in one answer: one email has a handful at most. */
const MAX_INVITES = 100;
const ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const WORKSPACE_ROLE = /^[a-z_]{1,32}$/;
/**
 * Portkey writes `2023-12-12 13:56:32` (no zone: UTC, as its other timestamps); an ISO 8601
 * date-time with a zone (RFC 3339 §5.6) is read as well.
 */
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}:\d{2})?$/i;

/** The invites in a list answer, or undefined when the answer is not the documented `{data: [...]}`. */
export function readInviteList(text: string, key: string): ListedInvite[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  const data = isObject(parsed) ? parsed.data : undefined;
  if (!Array.isArray(data)) return undefined;
  const invites: ListedInvite[] = [];
  for (const item of data.slice(0, MAX_INVITES)) {
    const invite = readInvite(item, key);
    if (invite) invites.push(invite);
  }
  return invites;
}

/** A list answer with Portkey's `total` (the matching invites on every page), when it gives one. */
export function readInvitePage(text: string, key: string): { invites: ListedInvite[]; total: number | undefined } | undefined {
  const invites = readInviteList(text, key);
  if (!invites) return undefined;
  const total = (JSON.parse(text) as { total?: unknown }).total;
  return { invites, total: typeof total === 'number' && Number.isInteger(total) && total >= 0 ? total : undefined };
}

/** One invite from `GET /admin/users/invites/{id}`, or undefined when it is not a usable invite. */
export function readOneInvite(text: string, key: string): ListedInvite | undefined {
  try {
    return readInvite(JSON.parse(text), key);
  } catch {
    return undefined;
  }
}

function readInvite(item: unknown, key: string): ListedInvite | undefined {
  if (!isObject(item)) return undefined;
  const { id, email } = item;
  if (!usable(id, ID, key) || typeof email !== 'string' || email.length > 254 || (key && email.includes(key))) return undefined;
  return {
    id,
    email,
    role: item.role === 'admin' || item.role === 'member' ? item.role : undefined,
    status: (INVITE_STATUSES as readonly unknown[]).includes(item.status) ? (item.status as InviteStatus) : undefined,
    createdAt: parseTimestamp(item.created_at),
    expiresAt: parseTimestamp(item.expires_at),
    workspaces: readWorkspaces(item.workspaces, key),
  };
}

/**
 * Listed workspaces: `[]` when the list says there are none, undefined when it does not show them
 * (absent, or entries without a usable id, as the spec's example `[{workspace_id: "", role: ""}]`).
 */
function readWorkspaces(value: unknown, key: string): ListedInvite['workspaces'] {
  if (!Array.isArray(value)) return undefined;
  if (value.length === 0) return [];
  const workspaces: { id: string; role: string }[] = [];
  for (const w of value.slice(0, MAX_INVITES)) {
    if (!isObject(w)) continue;
    const id = w.workspace_id ?? w.id;
    if (usable(id, ID, key) && usable(w.role, WORKSPACE_ROLE, key)) workspaces.push({ id, role: w.role });
  }
  return workspaces.length ? workspaces : undefined;
}

/** `{id, slug}` from `GET /admin/workspaces/{idOrSlug}`, or undefined when the id is not usable. */
export function readWorkspace(text: string, key: string): { id: string; slug: string | undefined } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(parsed) || !usable(parsed.id, ID, key)) return undefined;
  return { id: parsed.id, slug: usable(parsed.slug, ID, key) ? parsed.slug : undefined };
}

export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TIMESTAMP.exec(value.trim());
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}T${m[2]}${m[3] ?? 'Z'}`);
  return Number.isNaN(ms) ? undefined : ms;
}

function usable(value: unknown, shape: RegExp, key: string): value is string {
  return typeof value === 'string' && shape.test(value) && redactKey(value, key) === value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
