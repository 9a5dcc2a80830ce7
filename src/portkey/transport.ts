/**
 * The HTTP transport the Portkey client speaks through, injected by each runtime's entry: undici
 * on Node (src/node/undici-transport.ts), fetch on Workers and by default
 * (src/portkey/fetch-transport.ts), a double in tests. Every transport promises the same:
 * - one exchange, never retried, never following a redirect (a 3xx is an answer like any other);
 * - one deadline (`timeoutMs`) for all of it: connecting, sending, the headers and the whole body;
 * - the body bounded by its DECODED size: it asks for `accept-encoding: identity` and treats any
 *   other content-encoding as a bad answer, not decoded; it stops reading past `maxBodyBytes`
 *   whatever Content-Length says;
 * - a failure as a TransportError saying whether the request can have reached the server.
 */

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** Lowercase names. The transport adds `accept-encoding: identity` itself. */
  headers: Record<string, string>;
  body?: string;
  /** Deadline for the whole exchange, from the call until the last body byte. */
  timeoutMs: number;
  /** Most DECODED body bytes read; past it the body is abandoned and the answer is `too_large`. */
  maxBodyBytes: number;
}

export interface HttpAnswer {
  status: number;
  headers: { get(name: string): string | null };
  body: AnswerBody;
}

export type AnswerBody =
  | { kind: 'text'; text: string }
  /** More than maxBodyBytes: not read further. */
  | { kind: 'too_large' }
  /** A content-encoding other than identity, which was not asked for: not read at all. */
  | { kind: 'encoded'; encoding: string };

export interface HttpTransport {
  /** Resolves with any answer (whatever its status); rejects only with a TransportError. */
  exchange(request: HttpRequest): Promise<HttpAnswer>;
  /** Closes kept-alive connections; the transport is not used afterwards. */
  close?(): Promise<void>;
}

/**
 * - `timeout`: the deadline passed; the request may have reached the server.
 * - `not_sent`: the request never left (connection refused, DNS, TLS): nothing can have happened.
 * - `connection_lost`: the connection failed after the request may have been sent.
 */
export type TransportFailure = 'timeout' | 'not_sent' | 'connection_lost';

export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    readonly failure: TransportFailure,
    /** The system or undici error code, when there is one (e.g. ECONNREFUSED). */
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(`${failure}${code ? ` (${code})` : ''}`, options);
  }
}

/** Error codes that mean the request never left this machine, so nothing was created. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** undici's own phase timeouts: the answer did not come in time. */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Classifies a failed exchange. `deadline` is the exchange's own deadline signal: once it fired,
 * whatever error surfaced is the deadline's doing. A not-sent code counts only before any answer
 * arrived (`answered` false): after that, the request was certainly sent.
 */
export function transportFailure(err: unknown, deadline: AbortSignal, answered: boolean): TransportError {
  if (err instanceof TransportError) return err;
  const code = errorCode(err);
  if (deadline.aborted || isTimeout(err) || (code && TIMEOUT_CODES.has(code))) return new TransportError('timeout', code, { cause: err });
  if (!answered && code && NOT_SENT_CODES.has(code)) return new TransportError('not_sent', code, { cause: err });
  return new TransportError('connection_lost', code, { cause: err });
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

/** Node's fetch (undici) puts the system error in `cause`, sometimes inside an AggregateError. */
export function errorCode(err: unknown): string | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current; depth++) {
    const c = current as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof c.code === 'string') return c.code;
    current = c.cause ?? (Array.isArray(c.errors) ? c.errors[0] : undefined);
  }
  return undefined;
}

/** The content-encoding of an answer, unless it is absent or identity (RFC 9110 §8.4.1: a list, in order applied). */
export function unaskedEncoding(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const codings = value.split(',').map((c) => c.trim().toLowerCase()).filter((c) => c && c !== 'identity');
  return codings.length ? value.trim() : undefined;
}

/** Decodes without `stream`, so it keeps no state between calls and one serves every call. */
const UTF8 = new TextDecoder();

/**
 * UTF-8 text of a body read in chunks, stopped past `max` bytes. The chunks are decoded once, at
 * the end (the same text as decoding them one by one): a TextDecoder per call costs more than
 * the decoding of a typical answer.
 */
export class BoundedText {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  constructor(private readonly max: number) {}

  /** Adds a chunk; false when the body has gone past the bound (then stop reading). */
  add(chunk: Uint8Array): boolean {
    this.size += chunk.byteLength;
    if (this.size > this.max) return false;
    this.chunks.push(chunk);
    return true;
  }

  finish(): string {
    if (this.chunks.length === 1) return UTF8.decode(this.chunks[0]);
    const whole = new Uint8Array(this.size);
    let at = 0;
    for (const chunk of this.chunks) {
      whole.set(chunk, at);
      at += chunk.byteLength;
    }
    return UTF8.decode(whole);
  }
}
