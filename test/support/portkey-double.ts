/**
 * A test double of Portkey's Admin API as a real HTTP server on loopback. What Portkey does with a
 * request (paths, error codes AB01–AB08, answer shapes) comes from the same core as the embedded
 * sandbox, src/sandbox/portkey-admin-api.ts, whose header restates the rules; this file adds the
 * socket, a base path, request records and faults. `setListedWorkspaces('hidden' | 'example')`
 * omits an invite's workspaces from the list, or lists Portkey's own example
 * `[{"workspace_id": "", "role": ""}]`; the last request's paging is in `requests`.
 *
 * Every request is recorded (before any check or fault). Faults queued with `failNext` make the
 * next POST invite requests misbehave, one fault per request; `failNextList` does the same for the
 * next GET list requests. Besides the contract's faults, it can answer what a hostile or broken
 * upstream would: a compression bomb (`encoded`) and an endless identity body (`huge-body`); and
 * what makes an outcome unknown: `create-then` creates the invite and then answers with another
 * fault (a delay past the client's timeout, a dropped connection, a garbled 200), `hang` holds
 * the request without creating anything and then drops it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { brotliCompressSync, constants as zlibConstants, deflateSync, gzipSync } from 'node:zlib';
import {
  ALREADY_INVITED,
  createPortkeySandbox,
  FORBIDDEN,
  INVITE_ORG_ROLES,
  INVITE_STATUSES,
  INVITE_WORKSPACE_ROLES,
  NOT_FOUND,
  portkeyError,
  UNAUTHORISED,
  validateCreateInvite,
  type HeldInvite,
  type ListedWorkspaces,
} from '../../src/sandbox/portkey-admin-api.js';

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


export interface PortkeyDoubleOptions {
  adminKeys: string[];
  workspaceKeys?: string[];
  /** Default '/v1'. '' serves at the root (a self-hosted control plane without /v1). */
  basePath?: string;
}

export type DoubleInvite = HeldInvite;

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

export { INVITE_ORG_ROLES, INVITE_STATUSES, INVITE_WORKSPACE_ROLES, portkeyError, UNAUTHORISED, FORBIDDEN, ALREADY_INVITED, NOT_FOUND, validateCreateInvite };
export type { ListedWorkspaces };
export const RATE_LIMITED = portkeyError('Rate limit exceeded', 'AB06');

/** Default bodies for a `status` fault without `body`/`rawBody` (codes from docs/portkey-api.md#errors). */
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

/** Portkey's zone-less date format in its spec's examples: "2023-12-12 13:56:32". */
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
  const basePath = normaliseBasePath(opts.basePath);
  const invitesPath = `${basePath}/admin/users/invites`;
  // What Portkey does with a request: the contract's rules, shared with the embedded sandbox.
  const core = createPortkeySandbox({ adminKeys: opts.adminKeys, workspaceKeys: opts.workspaceKeys });
  const requests: RecordedRequest[] = [];
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

  /** The contract's answer to a request, from the shared core. */
  function coreAnswer(req: IncomingMessage, record: RecordedRequest, url: URL): { status: number; body: unknown } {
    return core.answer({ method: record.method, path: url.pathname.slice(basePath.length), query: url.searchParams, headers: req.headers as Record<string, string | undefined>, rawBody: record.rawBody });
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
      const created = coreAnswer(req, record, url);
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
    const answer = url.pathname.startsWith(basePath) ? coreAnswer(req, record, url) : { status: 404, body: NOT_FOUND };
    sendJson(res, answer.status, answer.body);
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
    invites: core.invites,
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
    seedInvite: (seed) => core.seedInvite(seed),
    setLatency(ms: number) {
      latencyMs = Math.max(0, ms);
    },
    setListedWorkspaces: (mode) => core.setListedWorkspaces(mode),
    workspaceId: (slug) => core.workspaceId(slug),
    reset() {
      core.reset();
      cancelPending();
      requests.length = 0;
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
