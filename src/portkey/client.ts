import {
  AmbiguousOutcomeError,
  PortkeyBadResponseError,
  PortkeyRefusedError,
  PortkeyUnreachableError,
} from '../errors.js';
import { readPortkeyError, type PortkeyErrorBody } from './error-body.js';

/** Portkey's CreateInvite body (see shared/portkey/CONTRACT.md), plus the extra fields it accepts. */
export interface CreateInvite {
  email: string;
  role: 'admin' | 'member';
  first_name?: string;
  last_name?: string;
  workspaces: { id: string; role: 'admin' | 'member' | 'manager' }[];
  workspace_api_key_details?: {
    name?: string;
    expiry?: string;
    metadata?: Record<string, string>;
    scopes: string[];
  };
}

export interface InviteCreated {
  id: string;
  invite_link: string;
}

/** Where to send a call, and how to name the key in a message without showing it. */
export interface PortkeyTarget {
  baseUrl: string;
  apiKey: string;
  /** e.g. `tenant "acme"`: used in messages in place of the key. */
  label: string;
}

export interface PortkeyCallResult<T> {
  value: T;
  status: number;
  latencyMs: number;
}

export interface PortkeyClient {
  createInvite(target: PortkeyTarget, body: CreateInvite): Promise<PortkeyCallResult<InviteCreated>>;
}

export interface PortkeyClientOptions {
  timeoutMs: number;
  /** Injected so tests and runtimes can supply their own; the global fetch keeps connections alive. */
  fetch?: typeof fetch;
}

/** Error codes that mean the request never left this machine, so nothing was created. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT',
  'CERT_HAS_EXPIRED', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export function createPortkeyClient(options: PortkeyClientOptions): PortkeyClient {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const { timeoutMs } = options;

  return {
    async createInvite(target, body) {
      const url = `${target.baseUrl.replace(/\/+$/, '')}/admin/users/invites`;
      const started = Date.now();
      // One deadline for the whole exchange, headers and body alike.
      const signal = AbortSignal.timeout(timeoutMs);
      const checkHint = `List pending invites for ${body.email} (GET /admin/users/invites?email=...&status=pending, or Portkey's Members page) before trying again.`;
      let response: Response;
      try {
        // Never retried: an invite is not idempotent, so a second POST could invite twice.
        response = await doFetch(url, {
          method: 'POST',
          headers: {
            'x-portkey-api-key': target.apiKey,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify(body),
          signal,
          // Never follow a redirect: it would resend the admin key (a custom header, which fetch
          // does not strip across origins) and the invite to wherever the Location points.
          redirect: 'manual',
        });
      } catch (err) {
        throw transportError(err, url, timeoutMs, checkHint);
      }

      let text: string | undefined;
      try {
        text = await readCapped(response, MAX_RESPONSE_BYTES);
      } catch (err) {
        throw transportError(err, url, timeoutMs, checkHint, true);
      }
      const latencyMs = Date.now() - started;
      const status = response.status;
      if (text === undefined) {
        throw new PortkeyBadResponseError(
          status,
          `Portkey answered HTTP ${status} with a body over ${MAX_RESPONSE_BYTES} bytes, which is not the documented answer; it was not read. ` +
            `The invite may or may not have been created. ${checkHint}`,
        );
      }

      if (status < 200 || status > 299) {
        const error = readPortkeyError(text);
        // Portkey's message is shown to the caller: never let it carry the tenant's key back.
        if (error.message) error.message = error.message.split(target.apiKey).join('[redacted]');
        throw refused(status, error, response.headers, target.label, body.email);
      }

      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new PortkeyBadResponseError(
          status,
          `Portkey answered HTTP ${status} but the body is not JSON (${describeBody(text, response)}). The invite may or may not have been created. ${checkHint}`,
        );
      }
      const created = parsed as Partial<InviteCreated> | null;
      if (!created || typeof created.id !== 'string' || !created.id || typeof created.invite_link !== 'string' || !created.invite_link) {
        const missing = ['id', 'invite_link'].filter((k) => {
          const v = (created as Record<string, unknown> | null)?.[k];
          return typeof v !== 'string' || !v;
        });
        throw new PortkeyBadResponseError(
          status,
          `Portkey answered HTTP ${status} without the documented ${missing.join(' and ')} (expected {"id", "invite_link"}). The invite may or may not have been created. ${checkHint}`,
        );
      }
      return { value: { id: created.id, invite_link: created.invite_link }, status, latencyMs };
    },
  };
}

function transportError(err: unknown, url: string, timeoutMs: number, checkHint: string, afterHeaders = false): Error {
  const host = safeHost(url);
  if (isTimeout(err)) {
    return new AmbiguousOutcomeError(
      'timeout',
      `Portkey (${host}) did not answer within ${timeoutMs} ms. The invite may or may not have been created. ${checkHint}`,
    );
  }
  const code = errorCode(err);
  if (!afterHeaders && code && NOT_SENT_CODES.has(code)) {
    return new PortkeyUnreachableError(
      `Portkey is unreachable at ${host} (${code}); the request was not delivered, so no invite was created. ` +
        'Try again later, or ask the operator to check PORTKEY_BASE_URL / the tenant baseUrl.',
    );
  }
  return new AmbiguousOutcomeError(
    'connection_lost',
    `The connection to Portkey (${host}) was lost before its answer arrived${code ? ` (${code})` : ''}. ` +
      `The invite may or may not have been created. ${checkHint}`,
  );
}

function refused(status: number, error: PortkeyErrorBody, headers: Headers, label: string, email: string): PortkeyRefusedError {
  const said = error.message ? `: ${error.message}` : '';
  const tag = `HTTP ${status}${error.errorCode ? `, ${error.errorCode}` : ''}`;
  const what = `Portkey refused the invite (${tag})${said}.`;
  let advice: string;
  switch (status) {
    case 400:
    case 422:
      advice = 'Correct the arguments named above and call invite_user again.';
      break;
    case 401:
      advice = `Portkey did not accept the admin API key configured for ${label}: it is wrong, revoked or expired. The server operator must replace it; retrying will not help.`;
      break;
    case 403:
      advice = `The admin API key configured for ${label} lacks the rights to invite users (it must be an organisation admin key allowed to create users), or a workspace is not in the organisation. Check the workspace ids; otherwise the server operator must fix the key.`;
      break;
    case 404:
      advice = 'Something named in the request does not exist: check the workspace ids or slugs.';
      break;
    case 409:
      advice = `${email} is most likely already invited or already a member; nothing new was created. List the organisation's invites and members for this email instead of inviting again.`;
      break;
    case 301:
    case 302:
    case 303:
    case 307:
    case 308:
      advice = `Portkey answered with a redirect, which this server does not follow (it would send the admin key elsewhere), so no invite was created. The operator should check the Portkey base URL configured for ${label} (for the public API it ends in /v1).`;
      break;
    case 402:
      advice = "The Portkey organisation's subscription is exhausted; an organisation owner must upgrade it before more users can be invited.";
      break;
    case 429: {
      const retryAfter = parseRetryAfter(headers.get('retry-after'));
      advice =
        retryAfter !== undefined
          ? `Portkey is rate limiting this organisation; no invite was created. Retry after ${retryAfter} s.`
          : 'Portkey is rate limiting this organisation; no invite was created. Wait a minute before retrying.';
      break;
    }
    default: {
      const retryAfter = parseRetryAfter(headers.get('retry-after'));
      advice =
        status >= 500
          ? `Portkey failed on its side, so the invite was probably not created, but it may have been. List pending invites for ${email} before trying again` +
            (retryAfter !== undefined ? `, and retry no sooner than ${retryAfter} s (Portkey's Retry-After).` : '.')
          : 'Check the arguments and try again.';
    }
  }
  return new PortkeyRefusedError(status, error.errorCode, `${what} ${advice}`);
}

/** Portkey's answers are a few hundred bytes; anything far larger is not a real answer. */
const MAX_RESPONSE_BYTES = 256 * 1024;

/** The body as text, or undefined when it is longer than `max` (then it is not read further). */
async function readCapped(response: Response, max: number): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared <= max) return response.text();
  if (declared > max || !response.body) {
    await response.body?.cancel().catch(() => {});
    return declared > max ? undefined : '';
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let size = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. Returns whole seconds, or undefined. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function describeBody(text: string, response: Response): string {
  const type = response.headers.get('content-type')?.split(';')[0]?.trim();
  if (text.length === 0) return 'empty';
  return `${text.length} bytes${type ? ` of ${type}` : ''}`;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || (err.name === 'AbortError' && /timeout/i.test(String((err as { cause?: unknown }).cause))));
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

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the configured base URL';
  }
}
