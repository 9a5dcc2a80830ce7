/**
 * Portkey's Admin API, as this server uses it, held in memory: the embedded sandbox (local mode,
 * PORTKEY_SANDBOX) and the core of the tests' Portkey double (test/support/portkey-double.ts adds
 * a socket and faults around it). The rules it follows are docs/portkey-api.md's, restated here:
 * - `POST /admin/users/invites`: checks `x-portkey-api-key` (401 AB05 unknown key, 403 AB03
 *   workspace key), requires a JSON body (400 AB01), validates it against `CreateInvite` (400 AB01
 *   naming the field), refuses an email with a pending invite (409 AB07), else answers 200
 *   `{"id": <uuid>, "invite_link": <link>}`.
 * - `GET /admin/users/invites` (query `email`, `status`, `role`, `pageSize`, `currentPage`): the
 *   invites held, filtered by every query parameter given, `created_at` as "YYYY-MM-DD HH:MM:SS"
 *   (UTC); workspaces by id (a UUID per slug, stable for the sandbox's life), never the caller's slug.
 * - `GET /admin/users/invites/{id}` answers one invite; `DELETE` answers `{}` and lists it as
 *   `cancelled`; `POST …/{id}/resend` answers `{"inviteLink"}` (camelCase) for a pending or expired
 *   invite (400 AB01 otherwise); an id it does not hold is 404 AB08.
 * - `GET /admin/workspaces/{idOrSlug}`: `{"object", "id", "slug", "name"}` for any slug (every
 *   workspace exists) or a UUID it handed out.
 * - anything else: 404 AB08.
 * Runtime-neutral (Web Request/Response, crypto.randomUUID): it runs in the core on either runtime.
 */

export const INVITE_ORG_ROLES = ['admin', 'member'] as const;
export const INVITE_WORKSPACE_ROLES = ['admin', 'member', 'manager'] as const;
export const INVITE_STATUSES = ['pending', 'cancelled', 'accepted', 'expired'] as const;

/** The Admin API error envelope: `{"success": false, "data": {"message", "errorCode"}}`. */
export function portkeyError(message: string, errorCode?: string): { success: false; data: { message: string; errorCode?: string } } {
  return { success: false, data: errorCode === undefined ? { message } : { message, errorCode } };
}

export const UNAUTHORISED = portkeyError('Unauthorised Request', 'AB05');
export const FORBIDDEN = portkeyError('You do not have enough permissions to execute this request', 'AB03');
export const ALREADY_INVITED = portkeyError('User already invited', 'AB07');
export const NOT_FOUND = portkeyError('Not found', 'AB08');

export interface HeldInvite {
  id: string;
  email: string;
  /** The CreateInvite body that made it; undefined for a seeded invite. */
  body: unknown;
  role: string;
  workspaces: Array<{ workspace_id: string; role: string }>;
  createdAt: Date;
  status: (typeof INVITE_STATUSES)[number];
  /** How many times it was resent (each sends another email). */
  resent?: number;
}

export type ListedWorkspaces = 'uuid' | 'hidden' | 'example';

export interface SandboxAnswer {
  status: number;
  body: unknown;
}

export interface SandboxRequest {
  method: string;
  /** The path below the base path, e.g. `/admin/users/invites`. */
  path: string;
  query: URLSearchParams;
  /** Lowercase names. */
  headers: Record<string, string | undefined>;
  rawBody: string;
}

export interface PortkeySandboxOptions {
  adminKeys: string[];
  workspaceKeys?: string[];
  /** The invite link for an id (default: Portkey's form, https://app.portkey.ai/invite/<id>). */
  inviteLink?: (id: string) => string;
}

export interface PortkeySandbox {
  answer(request: SandboxRequest): SandboxAnswer;
  /** The same over Web fetch: `basePath` is stripped from the URL's path first. */
  fetch(request: Request, basePath: string): Promise<Response>;
  /** Every invite held, created or seeded, in order. */
  invites: HeldInvite[];
  seedInvite(invite: { email: string } & Partial<Omit<HeldInvite, 'email' | 'body'>>): HeldInvite;
  setListedWorkspaces(mode: ListedWorkspaces): void;
  workspaceId(slug: string): string;
  reset(): void;
}

const TOP_LEVEL_FIELDS = ['email', 'role', 'workspaces', 'workspace_api_key_details', 'first_name', 'last_name'];
const WORKSPACE_FIELDS = ['id', 'role'];
const KEY_DETAILS_FIELDS = ['scopes', 'name', 'expiry', 'metadata'];
const EMAIL_LIKE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function has(obj: Record<string, unknown>, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function child(path: string, key: string): string {
  const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
  if (!path) return name;
  return name === key ? `${path}.${key}` : `${path}[${name}]`;
}

/** Depth-first, in key order: the path of the first `null`, if any. */
function findNull(value: unknown, path: string): string | undefined {
  if (value === null) return path || 'body';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNull(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      const found = findNull(value[key], child(path, key));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

function unknownField(obj: Record<string, unknown>, allowed: string[], path: string): string | undefined {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) return `${child(path, key)} is not an allowed field (allowed: ${allowed.join(', ')})`;
  }
  return undefined;
}

function oneOf(value: unknown, allowed: readonly string[], path: string): string | undefined {
  return typeof value === 'string' && allowed.includes(value) ? undefined : `${path} must be one of ${allowed.join(', ')}`;
}

/**
 * Checks a request body against Portkey's `CreateInvite` (plus the extra fields Portkey accepts beyond its published schema:
 * `first_name`, `last_name`, and `name`, `expiry`, `metadata` in `workspace_api_key_details`).
 * Strict: any `null`, any field not listed (at the top level and inside `workspaces[i]` and
 * `workspace_api_key_details`), or a wrong type is a problem. Returns the first problem, naming
 * the field (e.g. `workspaces[0].role must be one of admin, member, manager`), or undefined.
 */
export function validateCreateInvite(body: unknown): string | undefined {
  if (!isPlainObject(body)) return body === null ? 'body must not be null' : 'body must be a JSON object';

  const nullAt = findNull(body, '');
  if (nullAt !== undefined) return `${nullAt} must not be null`;

  const unknown = unknownField(body, TOP_LEVEL_FIELDS, '');
  if (unknown) return unknown;

  // email
  if (!has(body, 'email')) return 'email is required';
  if (typeof body.email !== 'string') return 'email must be a string';
  if (!EMAIL_LIKE.test(body.email)) return 'email must be a valid email address';

  // role
  if (!has(body, 'role')) return 'role is required';
  const roleProblem = oneOf(body.role, INVITE_ORG_ROLES, 'role');
  if (roleProblem) return roleProblem;

  // workspaces
  if (!has(body, 'workspaces')) return 'workspaces is required';
  if (!Array.isArray(body.workspaces)) return 'workspaces must be an array';
  for (let i = 0; i < body.workspaces.length; i++) {
    const path = `workspaces[${i}]`;
    const ws: unknown = body.workspaces[i];
    if (!isPlainObject(ws)) return `${path} must be an object`;
    const extra = unknownField(ws, WORKSPACE_FIELDS, path);
    if (extra) return extra;
    if (!has(ws, 'id')) return `${path}.id is required`;
    if (typeof ws.id !== 'string') return `${path}.id must be a string`;
    if (ws.id.trim() === '') return `${path}.id must not be empty`;
    if (!has(ws, 'role')) return `${path}.role is required`;
    const wsRole = oneOf(ws.role, INVITE_WORKSPACE_ROLES, `${path}.role`);
    if (wsRole) return wsRole;
  }

  // workspace_api_key_details
  if (has(body, 'workspace_api_key_details')) {
    const path = 'workspace_api_key_details';
    const details = body.workspace_api_key_details;
    if (!isPlainObject(details)) return `${path} must be an object`;
    const extra = unknownField(details, KEY_DETAILS_FIELDS, path);
    if (extra) return extra;
    if (!has(details, 'scopes')) return `${path}.scopes is required`;
    if (!Array.isArray(details.scopes)) return `${path}.scopes must be an array of strings`;
    for (let i = 0; i < details.scopes.length; i++) {
      if (typeof details.scopes[i] !== 'string') return `${path}.scopes[${i}] must be a string`;
    }
    for (const key of ['name', 'expiry'] as const) {
      if (has(details, key) && typeof details[key] !== 'string') return `${path}.${key} must be a string`;
    }
    if (has(details, 'metadata')) {
      const metadata = details.metadata;
      if (!isPlainObject(metadata)) return `${path}.metadata must be an object of strings`;
      for (const key of Object.keys(metadata)) {
        if (typeof metadata[key] !== 'string') return `${child(`${path}.metadata`, key)} must be a string`;
      }
    }
  }

  // first_name, last_name
  for (const key of ['first_name', 'last_name'] as const) {
    if (has(body, key) && typeof body[key] !== 'string') return `${key} must be a string`;
  }

  return undefined;
}

function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  return value.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

function portkeyDate(d: Date): string {
  return d.toISOString().replace('T', ' ').slice(0, 19);
}

export function createPortkeySandbox(o: PortkeySandboxOptions): PortkeySandbox {
  const adminKeys = new Set(o.adminKeys);
  const workspaceKeys = new Set(o.workspaceKeys ?? []);
  const inviteLink = o.inviteLink ?? ((id: string) => `https://app.portkey.ai/invite/${id}`);
  const invitedBy = crypto.randomUUID();
  const invites: HeldInvite[] = [];
  /** slug → UUID, made on first sight: every slug names a workspace. */
  const workspaceUuids = new Map<string, string>();
  let listedWorkspaces: ListedWorkspaces = 'uuid';
  const isUuid = (v: string) => [...workspaceUuids.values()].includes(v);
  const uuidOf = (idOrSlug: string) => {
    if (isUuid(idOrSlug)) return idOrSlug;
    let id = workspaceUuids.get(idOrSlug);
    if (!id) workspaceUuids.set(idOrSlug, (id = crypto.randomUUID()));
    return id;
  };

  function keyRefusal(headers: SandboxRequest['headers']): SandboxAnswer | undefined {
    const key = headers['x-portkey-api-key'];
    if (key !== undefined && adminKeys.has(key)) return undefined;
    return key !== undefined && workspaceKeys.has(key) ? { status: 403, body: FORBIDDEN } : { status: 401, body: UNAUTHORISED };
  }

  /** Portkey refuses a second invite for an email that has a pending one (409 AB07). */
  const hasPendingInvite = (email: string) => invites.some((inv) => inv.status === 'pending' && inv.email.toLowerCase() === email.toLowerCase());

  function createInvite(r: SandboxRequest): SandboxAnswer {
    const refused = keyRefusal(r.headers);
    if (refused) return refused;
    if (!isJsonContentType(r.headers['content-type'])) return { status: 400, body: portkeyError('Content-Type must be application/json', 'AB01') };
    let parsed: unknown;
    try {
      parsed = JSON.parse(r.rawBody);
    } catch {
      return { status: 400, body: portkeyError('Request body must be valid JSON', 'AB01') };
    }
    const problem = validateCreateInvite(parsed);
    if (problem) return { status: 400, body: portkeyError(problem, 'AB01') };
    const body = parsed as { email: string; role: string; workspaces: Array<{ id: string; role: string }> };
    if (hasPendingInvite(body.email)) return { status: 409, body: ALREADY_INVITED };
    const id = crypto.randomUUID();
    invites.push({
      id,
      email: body.email,
      body: parsed,
      role: body.role,
      workspaces: body.workspaces.map((w) => ({ workspace_id: w.id, role: w.role })),
      createdAt: new Date(),
      status: 'pending',
    });
    return { status: 200, body: { id, invite_link: inviteLink(id) } };
  }

  function listInvites(r: SandboxRequest): SandboxAnswer {
    const refused = keyRefusal(r.headers);
    if (refused) return refused;
    const email = r.query.get('email');
    const status = r.query.get('status');
    const role = r.query.get('role');
    if (status !== null && !(INVITE_STATUSES as readonly string[]).includes(status)) {
      return { status: 400, body: portkeyError(`status must be one of ${INVITE_STATUSES.join(', ')}`, 'AB01') };
    }
    if (role !== null && !(INVITE_ORG_ROLES as readonly string[]).includes(role)) {
      return { status: 400, body: portkeyError(`role must be one of ${INVITE_ORG_ROLES.join(', ')}`, 'AB01') };
    }
    const paging: Record<string, number | undefined> = {};
    for (const name of ['pageSize', 'currentPage']) {
      const raw = r.query.get(name);
      if (raw === null) continue;
      if (!/^\d+$/.test(raw)) return { status: 400, body: portkeyError(`${name} must be a non-negative integer`, 'AB01') };
      paging[name] = Number(raw);
    }
    const matching = invites.filter(
      (inv) =>
        (email === null || inv.email.toLowerCase() === email.toLowerCase()) &&
        (status === null || inv.status === status) &&
        (role === null || inv.role === role),
    );
    const pageSize = paging.pageSize;
    const currentPage = paging.currentPage ?? 0;
    const page = pageSize === undefined ? matching : matching.slice(currentPage * pageSize, (currentPage + 1) * pageSize);
    return {
      status: 200,
      body: {
        object: 'list',
        total: matching.length,
        data: page.map(inviteJson),
      },
    };
  }

  function inviteJson(inv: HeldInvite) {
    return {
      object: 'invite',
      id: inv.id,
      email: inv.email,
      role: inv.role,
      created_at: portkeyDate(inv.createdAt),
      expires_at: portkeyDate(new Date(inv.createdAt.getTime() + 7 * 24 * 3600 * 1000)),
      accepted_at: null,
      status: inv.status,
      invited_by: invitedBy,
      ...(listedWorkspaces === 'hidden'
        ? {}
        : {
            workspaces:
              listedWorkspaces === 'example'
                ? [{ workspace_id: '', role: '' }]
                : inv.workspaces.map((w) => ({ workspace_id: uuidOf(w.workspace_id), role: w.role })),
          }),
    };
  }

  /** `GET`, `DELETE` and `POST …/resend` on one invite: 404 AB08 for an id it does not hold. */
  function oneInvite(r: SandboxRequest, id: string, action: 'get' | 'delete' | 'resend'): SandboxAnswer {
    const refused = keyRefusal(r.headers);
    if (refused) return refused;
    const invite = invites.find((i) => i.id === id);
    if (!invite) return { status: 404, body: NOT_FOUND };
    if (action === 'get') return { status: 200, body: inviteJson(invite) };
    if (action === 'delete') {
      // Cancelling keeps the invite, listed as cancelled (Portkey may also drop it: the docs do not say).
      invite.status = 'cancelled';
      return { status: 200, body: {} };
    }
    if (invite.status !== 'pending' && invite.status !== 'expired') {
      return { status: 400, body: portkeyError(`invite is ${invite.status}; only a pending or expired invite can be resent`, 'AB01') };
    }
    invite.status = 'pending';
    invite.resent = (invite.resent ?? 0) + 1;
    return { status: 200, body: { inviteLink: inviteLink(invite.id) } };
  }

  const WORKSPACES = '/admin/workspaces/';
  const ONE_INVITE = /^\/admin\/users\/invites\/([^/]+)(\/resend)?$/;
  function answer(r: SandboxRequest): SandboxAnswer {
    const method = r.method.toUpperCase();
    if (r.path === '/admin/users/invites' && method === 'POST') return createInvite(r);
    if (r.path === '/admin/users/invites' && method === 'GET') return listInvites(r);
    const one = ONE_INVITE.exec(r.path);
    if (one) {
      const id = decodeURIComponent(one[1]!);
      if (one[2] && method === 'POST') return oneInvite(r, id, 'resend');
      if (!one[2] && method === 'GET') return oneInvite(r, id, 'get');
      if (!one[2] && method === 'DELETE') return oneInvite(r, id, 'delete');
    }
    if (method === 'GET' && r.path.startsWith(WORKSPACES) && r.path.length > WORKSPACES.length) {
      const refused = keyRefusal(r.headers);
      if (refused) return refused;
      const id = uuidOf(decodeURIComponent(r.path.slice(WORKSPACES.length)));
      const slug = [...workspaceUuids].find(([, uuid]) => uuid === id)?.[0];
      return { status: 200, body: { object: 'workspace', id, slug, name: slug } };
    }
    return { status: 404, body: NOT_FOUND };
  }

  return {
    answer,
    async fetch(request, basePath) {
      const url = new URL(request.url);
      const path = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) : url.pathname;
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => (headers[name] = value));
      const rawBody = request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text();
      const a = answer({ method: request.method, path, query: url.searchParams, headers, rawBody });
      return Response.json(a.body, { status: a.status });
    },
    invites,
    seedInvite(seed) {
      const invite: HeldInvite = {
        id: seed.id ?? crypto.randomUUID(),
        email: seed.email,
        body: undefined,
        role: seed.role ?? 'member',
        workspaces: seed.workspaces ?? [],
        createdAt: seed.createdAt ?? new Date(),
        status: seed.status ?? 'pending',
      };
      invites.push(invite);
      return invite;
    },
    setListedWorkspaces(mode) {
      listedWorkspaces = mode;
    },
    workspaceId: (slug) => uuidOf(slug),
    reset() {
      listedWorkspaces = 'uuid';
      invites.length = 0;
    },
  };
}
