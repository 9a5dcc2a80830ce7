/**
 * A test double of Portkey's Admin API "invite user" endpoint, as a real HTTP server on loopback.
 *
 * Behaves as Portkey's Admin API does for the calls this server makes (paths, error codes AB01–AB08,
 * answer shapes, as Portkey documents them), restated here in full:
 * - `POST {basePath}/admin/users/invites`: checks `x-portkey-api-key` (401 AB05 unknown key,
 *   403 AB03 workspace key), requires a JSON body (400 AB01), validates it against `CreateInvite`
 *   (400 AB01 naming the field), refuses a repeated email (409 AB07), else answers 200
 *   `{"id": <uuid>, "invite_link": "https://app.portkey.ai/invite/<id>"}`.
 * - `GET {basePath}/admin/users/invites` (query `email`, `status`, `role`, `pageSize`, `currentPage`):
 *   lists the invites it holds (created, or seeded with `seedInvite`), filtered by every query
 *   parameter given, in the shape of examples.json (`created_at` as "YYYY-MM-DD HH:MM:SS", UTC).
 *   Workspaces are listed as Portkey reports them elsewhere, by id (a UUID per slug, stable for the
 *   double's life), never echoing the caller's slug; `setListedWorkspaces('hidden' | 'example')`
 *   omits them, or lists Portkey's own example `[{"workspace_id": "", "role": ""}]`.
 *   `pageSize` and `currentPage` page the list; the last request's paging is in `requests`.
 * - `GET {basePath}/admin/workspaces/{idOrSlug}`: `{"id": <uuid>, "slug", "name", "object"}` for any
 *   slug (every workspace exists) or a UUID it handed out.
 * - anything else: 404 AB08.
 *
 * Every request is recorded (before any check or fault). Faults queued with `failNext` make the
 * next POST invite requests misbehave, one fault per request; `failNextList` does the same for the
 * next GET list requests. Besides the contract's faults, it can answer what a hostile or broken
 * upstream would: a compression bomb (`encoded`) and an endless identity body (`huge-body`); and
 * what makes an outcome unknown: `create-then` creates the invite and then answers with another
 * fault (a delay past the client's timeout, a dropped connection, a garbled 200), `hang` holds
 * the request without creating anything and then drops it.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, constants as zlibConstants, deflateSync, gzipSync } from 'node:zlib';

export interface RecordedRequest {
  method: string;
  /** The request target as received: full path (basePath included) plus query string. */
  path: string;
  /** Header names lowercased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  rawBody: string;
  /** Parsed JSON, or undefined when the body is empty or not JSON. */
  body: unknown;
}

export type Fault =
  | { kind: 'status'; status: number; body?: unknown; rawBody?: string; contentType?: string; headers?: Record<string, string> }
  | { kind: 'delay'; ms: number }
  | { kind: 'drop' }
  | { kind: 'reset-mid-body' }
  | { kind: 'non-json'; status?: number }
  | { kind: 'truncated-json' }
  | { kind: 'success-body'; body: unknown }
  | { kind: 'rate-limit'; retryAfter?: string }
  /**
   * An answer in a content-encoding the client did not ask for. With `decodedBytes`, a bomb: a
   * valid invite JSON padded with that many spaces (still valid JSON), compressed, so a few KB on
   * the wire (its honest Content-Length) inflate to `decodedBytes` in a client that decodes.
   * Without it, `body` (default: a valid invite) compressed. `chunked` omits Content-Length.
   */
  | { kind: 'encoded'; encoding: 'gzip' | 'br' | 'deflate' | (string & {}); status?: number; decodedBytes?: number; body?: unknown; chunked?: boolean }
  /** An identity answer of `bytes` (a valid invite JSON padded with spaces), streamed chunked, without Content-Length. */
  | { kind: 'huge-body'; bytes: number; status?: number }
  /** Holds the request `ms` (past the client's timeout, typically), creating nothing, then drops the connection. */
  | { kind: 'hang'; ms: number }
  /**
   * Creates the invite (as a normal POST would: validated, refused with 409 if the email has
   * one), then answers with `then`: a `delay` sends the real 200 only after `ms`; any other fault
   * replaces the answer (`drop`, `truncated-json`, …). POST only.
   */
  | { kind: 'create-then'; then: Exclude<Fault, { kind: 'create-then' }> };

export type ListedWorkspaces = 'uuid' | 'hidden' | 'example';

export interface PortkeyDoubleOptions {
  adminKeys: string[];
  workspaceKeys?: string[];
  /** Default '/v1'. '' serves at the root (a self-hosted control plane without /v1). */
  basePath?: string;
}

export interface DoubleInvite {
  id: string;
  email: string;
  /** The CreateInvite body that made it; undefined for a seeded invite. */
  body: unknown;
  role: string;
  workspaces: Array<{ workspace_id: string; role: string }>;
  createdAt: Date;
  status: (typeof INVITE_STATUSES)[number];
}

export interface PortkeyDouble {
  /** Base URL including basePath, no trailing slash, e.g. 'http://127.0.0.1:PORT/v1'. */
  url: string;
  requests: RecordedRequest[];
  /** Every invite the double holds, created by a POST or seeded, in order. */
  invites: DoubleInvite[];
  /** Faults for the next POST invite requests, one each, in order. */
  failNext(...faults: Fault[]): void;
  /** Faults for the next GET list requests, one each, in order (`create-then` is POST only). */
  failNextList(...faults: Exclude<Fault, { kind: 'create-then' }>[]): void;
  /** Adds an invite as if made earlier (default: pending, member, no workspaces, created now). */
  seedInvite(invite: { email: string } & Partial<Omit<DoubleInvite, 'email' | 'body'>>): DoubleInvite;
  setLatency(ms: number): void;
  /** How the list shows an invite's workspaces: by UUID (default), not at all, or as Portkey's example (`workspace_id: ""`). */
  setListedWorkspaces(mode: ListedWorkspaces): void;
  /** The UUID the double gives a workspace slug (the id the list shows for it). */
  workspaceId(slug: string): string;
  reset(): void;
  close(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Envelopes and constants
// ---------------------------------------------------------------------------------------------

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
export const RATE_LIMITED = portkeyError('Rate limit exceeded', 'AB06');

/** Default bodies for a `status` fault without `body`/`rawBody` (codes from errors-and-enums.json). */
const DEFAULT_ERROR_BY_STATUS: Record<number, { message: string; errorCode: string }> = {
  400: { message: 'Request Validation Error', errorCode: 'AB01' },
  401: { message: 'Unauthorised Request', errorCode: 'AB05' },
  402: { message: 'Subscription exhausted', errorCode: 'AB09' },
  403: { message: 'You do not have enough permissions to execute this request', errorCode: 'AB03' },
  404: { message: 'Resource not found', errorCode: 'AB08' },
  409: { message: 'Resource already exists', errorCode: 'AB07' },
  429: { message: 'Rate limit exceeded', errorCode: 'AB06' },
  500: { message: 'Internal Server Error', errorCode: 'AB04' },
};

const NON_JSON_BODY = '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>';
const TRUNCATED_JSON_BODY = '{"id": "abc';

// ---------------------------------------------------------------------------------------------
// CreateInvite validator
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

/** See stopListening(). */
const SETTLE_MS = 10;

const FAULT_KINDS = new Set<Fault['kind']>([
  'status', 'delay', 'drop', 'reset-mid-body', 'non-json', 'truncated-json', 'success-body', 'rate-limit', 'encoded', 'huge-body',
  'hang', 'create-then',
]);

interface Pending {
  timer: NodeJS.Timeout;
  res: ServerResponse;
  resolve: (proceed: boolean) => void;
}

function normaliseBasePath(basePath: string | undefined): string {
  const trimmed = (basePath ?? '/v1').replace(/\/+$/, '');
  if (trimmed === '') return '';
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  return value.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** Portkey's date format in examples.json: "2023-12-12 13:56:32". */
function portkeyDate(d: Date): string {
  return d.toISOString().replace('T', ' ').slice(0, 19);
}

function send(res: ServerResponse, status: number, payload: string, contentType: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed || res.socket?.destroyed) return;
  const noBody = status === 204 || status === 304 || (status >= 100 && status < 200);
  res.writeHead(status, {
    ...(noBody ? {} : { 'content-type': contentType, 'content-length': String(Buffer.byteLength(payload)) }),
    ...headers,
  });
  res.end(noBody ? undefined : payload);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  send(res, status, JSON.stringify(body), 'application/json', headers);
}

// ---------------------------------------------------------------------------------------------
// Oversized and encoded answers
// ---------------------------------------------------------------------------------------------

const PAD_CHUNK = 64 * 1024 * 1024;
const INVITE_HEAD = '{"id":"inv-padded","invite_link":"https://app.portkey.ai/invite/inv-padded"';

/** A valid invite JSON of `bytes` bytes (spaces before the closing brace), as lazily made chunks. */
function* paddedInvite(bytes: number): Generator<Buffer> {
  yield Buffer.from(INVITE_HEAD);
  let left = Math.max(0, bytes - INVITE_HEAD.length - 1);
  const spaces = Buffer.alloc(Math.min(left, 64 * 1024), 0x20);
  while (left > 0) {
    const n = Math.min(left, spaces.length);
    yield n === spaces.length ? spaces : spaces.subarray(0, n);
    left -= n;
  }
  yield Buffer.from('}');
}

/** Compressed payloads are made once per (encoding, size): a bomb costs a few hundred ms to build. */
const encodedCache = new Map<string, Buffer>();

/** Builds (and caches) an `encoded` fault's payload ahead of time, e.g. before measuring memory. */
export function prepareFault(fault: Fault): void {
  if (fault.kind === 'encoded') encodedPayload(fault);
}

function encodedPayload(fault: Extract<Fault, { kind: 'encoded' }>): Buffer {
  const cacheKey = `${fault.encoding}:${fault.decodedBytes ?? JSON.stringify(fault.body ?? null)}`;
  const cached = encodedCache.get(cacheKey);
  if (cached) return cached;
  const compress = (b: Buffer): Buffer =>
    fault.encoding === 'br'
      ? brotliCompressSync(b, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 6 } })
      : fault.encoding === 'deflate'
        ? deflateSync(b)
        : gzipSync(b);
  let payload: Buffer;
  if (fault.decodedBytes === undefined) {
    payload = compress(Buffer.from(JSON.stringify(fault.body ?? { id: 'inv-encoded', invite_link: 'https://app.portkey.ai/invite/inv-encoded' })));
  } else if (fault.encoding === 'gzip') {
    // Concatenated gzip members are one valid gzip stream (RFC 1952 §2.2): the 64 MiB member is
    // compressed once and repeated, so a 512 MiB bomb costs one member's compression.
    const head = gzipSync(Buffer.from(INVITE_HEAD));
    const padding = Math.max(0, fault.decodedBytes - INVITE_HEAD.length - 1);
    const pad = gzipSync(Buffer.alloc(Math.min(PAD_CHUNK, padding), 0x20));
    const members = [head];
    for (let left = padding; left > 0; left -= PAD_CHUNK) members.push(left >= PAD_CHUNK ? pad : gzipSync(Buffer.alloc(left, 0x20)));
    members.push(gzipSync(Buffer.from('}')));
    payload = Buffer.concat(members);
  } else {
    payload = compress(Buffer.concat([...paddedInvite(fault.decodedBytes)]));
  }
  encodedCache.set(cacheKey, payload);
  return payload;
}

/** Writes chunks with backpressure; stops when the client goes away. */
function streamOut(res: ServerResponse, chunks: Iterable<Buffer>): void {
  const it = chunks[Symbol.iterator]();
  const pump = (): void => {
    for (;;) {
      if (res.destroyed) return;
      const next = it.next();
      if (next.done) {
        res.end();
        return;
      }
      if (!res.write(next.value)) {
        res.once('drain', pump);
        return;
      }
    }
  };
  res.on('error', () => {});
  pump();
}

function checkFault(fault: Fault): void {
  if (!fault || !FAULT_KINDS.has(fault.kind)) throw new TypeError(`Unknown fault: ${JSON.stringify(fault)}`);
  if (fault.kind === 'create-then') checkFault(fault.then);
}

export async function startPortkeyDouble(opts: PortkeyDoubleOptions): Promise<PortkeyDouble> {
  const adminKeys = new Set(opts.adminKeys);
  const workspaceKeys = new Set(opts.workspaceKeys ?? []);
  const basePath = normaliseBasePath(opts.basePath);
  const invitesPath = `${basePath}/admin/users/invites`;
  const invitedBy = randomUUID();

  const requests: RecordedRequest[] = [];
  const invites: DoubleInvite[] = [];
  const workspacesPath = `${basePath}/admin/workspaces/`;
  /** slug → UUID, made on first sight: every slug names a workspace. */
  const workspaceUuids = new Map<string, string>();
  const isUuid = (v: string) => [...workspaceUuids.values()].includes(v);
  const uuidOf = (idOrSlug: string) => {
    if (isUuid(idOrSlug)) return idOrSlug;
    let id = workspaceUuids.get(idOrSlug);
    if (!id) workspaceUuids.set(idOrSlug, (id = randomUUID()));
    return id;
  };
  let listedWorkspaces: ListedWorkspaces = 'uuid';
  const faults: Fault[] = [];
  const listFaults: Fault[] = [];
  const pending = new Set<Pending>();
  const sockets = new Set<Socket>();
  let latencyMs = 0;
  let closed = false;

  /** Waits ms (unref'd timer). Resolves false if cancelled by reset/stop/close: the caller must then stop. */
  function wait(ms: number, res: ServerResponse): Promise<boolean> {
    if (!(ms > 0)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const entry: Pending = {
        timer: setTimeout(() => {
          pending.delete(entry);
          resolve(true);
        }, ms),
        res,
        resolve,
      };
      entry.timer.unref();
      pending.add(entry);
    });
  }

  /** Abandons every delayed answer: its socket is destroyed and its request is not processed. */
  function cancelPending(): void {
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.res.socket?.destroy();
      entry.resolve(false);
    }
    pending.clear();
  }

  function checkKey(req: IncomingMessage, res: ServerResponse): boolean {
    const key = req.headers['x-portkey-api-key'];
    if (typeof key === 'string' && adminKeys.has(key)) return true;
    if (typeof key === 'string' && workspaceKeys.has(key)) sendJson(res, 403, FORBIDDEN);
    else sendJson(res, 401, UNAUTHORISED);
    return false;
  }

  function applyFault(fault: Fault, res: ServerResponse): void {
    switch (fault.kind) {
      case 'status': {
        let payload: string;
        if (fault.rawBody !== undefined) payload = fault.rawBody;
        else if (fault.body !== undefined) payload = JSON.stringify(fault.body);
        else {
          const known = DEFAULT_ERROR_BY_STATUS[fault.status];
          payload = JSON.stringify(known ? portkeyError(known.message, known.errorCode) : portkeyError(`HTTP ${fault.status}`));
        }
        send(res, fault.status, payload, fault.contentType ?? 'application/json', fault.headers);
        return;
      }
      case 'drop':
        res.socket?.destroy();
        return;
      case 'reset-mid-body': {
        const partial = '{"id": "';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '256' });
        // Destroy only once the headers and the partial body have reached the kernel.
        res.write(partial, () => res.socket?.destroy());
        return;
      }
      case 'non-json':
        send(res, fault.status ?? 200, NON_JSON_BODY, 'text/html; charset=utf-8');
        return;
      case 'truncated-json':
        send(res, 200, TRUNCATED_JSON_BODY, 'application/json');
        return;
      case 'success-body':
        sendJson(res, 200, fault.body);
        return;
      case 'rate-limit':
        sendJson(res, 429, RATE_LIMITED, fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : undefined);
        return;
      case 'encoded': {
        const payload = encodedPayload(fault);
        res.writeHead(fault.status ?? 200, {
          'content-type': 'application/json',
          'content-encoding': fault.encoding,
          ...(fault.chunked ? {} : { 'content-length': String(payload.length) }),
        });
        streamOut(res, [payload]);
        return;
      }
      case 'huge-body':
        res.writeHead(fault.status ?? 200, { 'content-type': 'application/json' });
        streamOut(res, paddedInvite(fault.bytes));
        return;
      case 'hang':
        void wait(fault.ms, res).then((timedOut) => timedOut && res.socket?.destroy());
        return;
      case 'delay':
      case 'create-then':
        // handled by the caller (it answers normally after the delay; it creates, then faults)
        return;
    }
  }

  /** Portkey refuses a second invite for an email that has a pending one (409 AB07). */
  function hasPendingInvite(email: string): boolean {
    return invites.some((inv) => inv.status === 'pending' && inv.email.toLowerCase() === email.toLowerCase());
  }

  /** A POST invite's answer: the created invite's 200, or the refusal. The invite is stored at once. */
  function createInvite(req: IncomingMessage, record: RecordedRequest): { status: number; body: unknown } {
    const key = req.headers['x-portkey-api-key'];
    if (typeof key !== 'string' || !adminKeys.has(key)) return workspaceKeys.has(key as string) ? { status: 403, body: FORBIDDEN } : { status: 401, body: UNAUTHORISED };
    if (!isJsonContentType(req.headers['content-type'])) return { status: 400, body: portkeyError('Content-Type must be application/json', 'AB01') };
    let parsed: unknown;
    try {
      parsed = JSON.parse(record.rawBody);
    } catch {
      return { status: 400, body: portkeyError('Request body must be valid JSON', 'AB01') };
    }
    const problem = validateCreateInvite(parsed);
    if (problem) return { status: 400, body: portkeyError(problem, 'AB01') };
    const body = parsed as { email: string; role: string; workspaces: Array<{ id: string; role: string }> };
    if (hasPendingInvite(body.email)) return { status: 409, body: ALREADY_INVITED };
    const id = randomUUID();
    invites.push({
      id,
      email: body.email,
      body: parsed,
      role: body.role,
      workspaces: body.workspaces.map((w) => ({ workspace_id: w.id, role: w.role })),
      createdAt: new Date(),
      status: 'pending',
    });
    return { status: 200, body: { id, invite_link: `https://app.portkey.ai/invite/${id}` } };
  }

  function listInvites(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    if (!checkKey(req, res)) return;
    const email = query.get('email');
    const status = query.get('status');
    const role = query.get('role');
    if (status !== null && !(INVITE_STATUSES as readonly string[]).includes(status)) {
      sendJson(res, 400, portkeyError(`status must be one of ${INVITE_STATUSES.join(', ')}`, 'AB01'));
      return;
    }
    if (role !== null && !(INVITE_ORG_ROLES as readonly string[]).includes(role)) {
      sendJson(res, 400, portkeyError(`role must be one of ${INVITE_ORG_ROLES.join(', ')}`, 'AB01'));
      return;
    }
    const paging: Record<string, number | undefined> = {};
    for (const name of ['pageSize', 'currentPage']) {
      const raw = query.get(name);
      if (raw === null) continue;
      if (!/^\d+$/.test(raw)) {
        sendJson(res, 400, portkeyError(`${name} must be a non-negative integer`, 'AB01'));
        return;
      }
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
    sendJson(res, 200, {
      object: 'list',
      total: matching.length,
      data: page.map((inv) => ({
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
      })),
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, rawBody: string): Promise<void> {
    const target = req.url ?? '/';
    const method = (req.method ?? 'GET').toUpperCase();
    let body: unknown;
    try {
      body = rawBody === '' ? undefined : JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const record: RecordedRequest = { method, path: target, headers: headerRecord(req), rawBody, body };
    requests.push(record);

    const url = new URL(target, 'http://double.invalid');
    const isInvites = url.pathname === invitesPath;
    const fault = isInvites && method === 'POST' ? faults.shift() : isInvites && method === 'GET' ? listFaults.shift() : undefined;

    if (fault?.kind === 'create-then') {
      if (!(await wait(latencyMs, res))) return;
      const created = createInvite(req, record);
      const then = fault.then;
      if (then.kind !== 'delay') applyFault(then, res);
      else if (await wait(then.ms, res)) sendJson(res, created.status, created.body);
      return;
    }

    if (!(await wait(latencyMs + (fault?.kind === 'delay' ? fault.ms : 0), res))) return;

    if (fault && fault.kind !== 'delay') {
      applyFault(fault, res);
      return;
    }
    if (isInvites && method === 'POST') {
      const answer = createInvite(req, record);
      sendJson(res, answer.status, answer.body);
    } else if (isInvites && method === 'GET') listInvites(req, res, url.searchParams);
    else if (method === 'GET' && url.pathname.startsWith(workspacesPath) && url.pathname.length > workspacesPath.length) {
      if (!checkKey(req, res)) return;
      const idOrSlug = decodeURIComponent(url.pathname.slice(workspacesPath.length));
      const id = uuidOf(idOrSlug);
      const slug = [...workspaceUuids].find(([, uuid]) => uuid === id)?.[0];
      sendJson(res, 200, { object: 'workspace', id, slug, name: slug });
    } else sendJson(res, 404, NOT_FOUND);
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => {
      /* the client went away mid-request: nothing to answer */
    });
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, portkeyError(`Test double failed: ${String(err)}`, 'AB04'));
        else res.socket?.destroy();
      });
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => {
    socket.destroy();
  });

  function listen(port: number): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host: '127.0.0.1', port }, () => {
        server.off('error', onError);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  async function stopListening(): Promise<void> {
    cancelPending();
    if (!server.listening) {
      for (const socket of sockets) socket.destroy();
      return;
    }
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
    // Give in-process clients (fetch's keep-alive pool) a few event-loop turns to see their
    // pooled connections close. Without this, a request sent right after stop() may be written
    // to a dead pooled socket (UND_ERR_SOCKET, "connection lost") instead of getting ECONNREFUSED.
    await new Promise<void>((resolve) => setTimeout(resolve, SETTLE_MS));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  // stop/restart/close run one at a time, in call order.
  let chain: Promise<unknown> = Promise.resolve();
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  }

  const port = await listen(0);
  const url = `http://127.0.0.1:${port}${basePath}`;

  return {
    url,
    requests,
    invites,
    failNext(...more: Fault[]) {
      for (const fault of more) checkFault(fault);
      faults.push(...more);
    },
    failNextList(...more) {
      for (const fault of more) {
        checkFault(fault);
        if ((fault.kind as string) === 'create-then') throw new TypeError('create-then is for POST invite requests only');
      }
      listFaults.push(...more);
    },
    seedInvite(seed) {
      const invite: DoubleInvite = {
        id: seed.id ?? randomUUID(),
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
    setLatency(ms: number) {
      latencyMs = Math.max(0, ms);
    },
    setListedWorkspaces(mode) {
      listedWorkspaces = mode;
    },
    workspaceId: (slug) => uuidOf(slug),
    reset() {
      listedWorkspaces = 'uuid';
      cancelPending();
      requests.length = 0;
      invites.length = 0;
      faults.length = 0;
      listFaults.length = 0;
      latencyMs = 0;
    },
    close() {
      return serial(async () => {
        closed = true;
        await stopListening();
      });
    },
    stop() {
      return serial(stopListening);
    },
    restart() {
      return serial(async () => {
        if (closed) throw new Error('The Portkey double is closed; start a new one.');
        await stopListening();
        await listen(port);
      });
    },
  };
}
