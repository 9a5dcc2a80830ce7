import {
  AmbiguousOutcomeError,
  PortkeyBadResponseError,
  PortkeyRefusedError,
  PortkeyUnreachableError,
} from '../errors.js';
import { readPortkeyError } from './error-body.js';
import { createFetchTransport } from './fetch-transport.js';
import { readInvitePage, readOneInvite, readWorkspace, type ListedInvite } from './invite-list.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { inviteRefusal } from './invite-refusal.js';
import { quotableToken, redactKey } from './redact.js';
import { TransportError, type HttpAnswer, type HttpTransport } from './transport.js';

/** Portkey's CreateInvite body (its Admin API's published schema), plus the extra fields it accepts. */
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

/** A workspace as Portkey names it: its id (a UUID) and, when given, its slug. */
export interface WorkspaceIds {
  id: string;
  slug: string | undefined;
}

/**
 * Invites listed per page. One email has a handful of invites at most; Portkey's default page size
 * is undocumented, so it is always sent (parameters `pageSize`, `currentPage`, 0-based).
 */
const INVITE_PAGE_SIZE = 100;

export interface PortkeyCallResult<T> {
  value: T;
  status: number;
  latencyMs: number;
}

/** One call to Portkey's Admin API, as `exchange` takes it. */
export interface PortkeyRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Below the base URL, query included: `/admin/users/invites`, `/admin/users/invites?email=…`. */
  path: string;
  /** Sent as JSON when present. */
  body?: unknown;
  /** Said to the caller when the outcome is unknown (timeout, lost connection, unreadable answer). */
  ifUnknown: string;
  /** Said when the request never left, e.g. "no invite was created". */
  ifNotSent: string;
  /** This exchange's deadline (ms); the client's `timeoutMs` when absent. */
  timeoutMs?: number;
  /** The path as a template, for telemetry (`/admin/workspaces/{workspaceId}`); the path without its query when absent. */
  route?: string;
}

/** Any answer Portkey gave, whatever its status, read within the size bound. */
export interface PortkeyAnswer {
  status: number;
  headers: HttpAnswer['headers'];
  text: string;
  latencyMs: number;
}

export interface PortkeyClient {
  /**
   * One bounded exchange with Portkey: the key in `x-portkey-api-key`, one deadline, never
   * retried, no redirect followed, the answer bounded by decoded size. Resolves with the answer
   * whatever its status; throws a ToolError when there is no readable answer.
   */
  exchange(target: PortkeyTarget, request: PortkeyRequest): Promise<PortkeyAnswer>;
  createInvite(target: PortkeyTarget, body: CreateInvite): Promise<PortkeyCallResult<InviteCreated>>;
  /**
   * `GET /admin/users/invites?email=…&status=…`: one read, with its own deadline. Throws a
   * ToolError when there is no answer, a non-2xx one, or one that is not the documented list.
   */
  listInvites(target: PortkeyTarget, query: { email: string; status: 'pending' }, timeoutMs: number): Promise<PortkeyCallResult<ListedInvite[]>>;
  /**
   * `GET /admin/workspaces/{idOrSlug}`: a workspace's id (a UUID) and slug. The invite takes
   * slugs; other answers name workspaces by UUID (as Portkey's listings do), so a lookup compares in one form.
   */
  getWorkspace(target: PortkeyTarget, idOrSlug: string, timeoutMs: number): Promise<PortkeyCallResult<WorkspaceIds>>;
  /** `GET /admin/users/invites` with any filters: one page, and Portkey's total when it gives one. */
  listInvitePage(
    target: PortkeyTarget,
    query: { email?: string; status?: string; pageSize: number; currentPage: number },
    timeoutMs?: number,
  ): Promise<PortkeyCallResult<{ invites: ListedInvite[]; total: number | undefined }>>;
  /** `GET /admin/users/invites/{id}`: a refusal (404 AB08 for an unknown id) is thrown as a PortkeyRefusedError. */
  getInvite(target: PortkeyTarget, id: string, timeoutMs?: number): Promise<PortkeyCallResult<ListedInvite>>;
  /** `DELETE /admin/users/invites/{id}`: never retried; a lost answer is an AmbiguousOutcomeError for the caller to settle by a read. */
  cancelInvite(target: PortkeyTarget, id: string): Promise<PortkeyCallResult<null>>;
  /** `POST /admin/users/invites/{id}/resend`: sends another email; answers `{"inviteLink"}`. Never retried. */
  resendInvite(target: PortkeyTarget, id: string): Promise<PortkeyCallResult<{ inviteLink: string | undefined }>>;
  /** The deadline of one invite POST (PORTKEY_TIMEOUT_MS). */
  readonly timeoutMs: number;
}

export interface PortkeyClientOptions {
  timeoutMs: number;
  /** A CLIENT span and a duration histogram per exchange (src/telemetry/telemetry.ts). */
  telemetry?: Pick<Telemetry, 'upstreamCall'>;
  /** The HTTP transport, injected by the runtime's entry (undici on Node); fetch when none is given. */
  transport?: HttpTransport;
}

/** Portkey's answers are a few hundred bytes; anything far larger is not a real answer. */
const MAX_RESPONSE_BYTES = 256 * 1024;

export function createPortkeyClient(options: PortkeyClientOptions): PortkeyClient {
  const transport = options.transport ?? createFetchTransport();
  const telemetry = options.telemetry;

  async function exchange(target: PortkeyTarget, request: PortkeyRequest): Promise<PortkeyAnswer> {
    const timeoutMs = request.timeoutMs ?? options.timeoutMs;
    const url = `${target.baseUrl.replace(/\/+$/, '')}${request.path}`;
    const headers: Record<string, string> = { 'x-portkey-api-key': target.apiKey, accept: 'application/json' };
    if (request.body !== undefined) headers['content-type'] = 'application/json';
    const started = Date.now();
    const send = async () => {
      try {
        return await transport.exchange({
          method: request.method,
          url,
          headers,
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
          timeoutMs,
          maxBodyBytes: MAX_RESPONSE_BYTES,
        });
      } catch (err) {
        throw transportError(err, url, timeoutMs, request);
      }
    };
    // The span names the route, never the query: the lookup's carries the invitee's email.
    const answer: HttpAnswer = telemetry ? await telemetry.upstreamCall({ method: request.method, path: request.path, route: request.route, url }, send) : await send();
    const latencyMs = Date.now() - started;
    const { status, headers: answerHeaders, body } = answer;
    if (body.kind === 'too_large') {
      throw new PortkeyBadResponseError(
        { status, latencyMs },
        `Portkey answered HTTP ${status} with a body over ${MAX_RESPONSE_BYTES} bytes, which is not the documented answer; it was not read.`,
        request.ifUnknown,
      );
    }
    if (body.kind === 'encoded') {
      const encoding = quotableToken(body.encoding, target.apiKey);
      throw new PortkeyBadResponseError(
        { status, latencyMs },
        `Portkey answered HTTP ${status} in a content-encoding that was not asked for (${encoding ? `content-encoding "${encoding}"` : 'an unnamed one'}; this server asks for identity), so it was not read.`,
        request.ifUnknown,
      );
    }
    return { status, headers: answerHeaders, text: body.text, latencyMs };
  }

  /**
   * One GET that only reads: a non-2xx answer is a refusal naming `what`, a 2xx that `parse`
   * cannot read (it returns what was wrong) is a bad response.
   */
  async function read<T>(
    target: PortkeyTarget,
    request: Omit<PortkeyRequest, 'method' | 'ifNotSent'>,
    what: string,
    parse: (text: string) => T | string,
  ): Promise<PortkeyCallResult<T>> {
    const answer = await exchange(target, { ...request, method: 'GET', ifNotSent: 'nothing was read' });
    const { status, text } = answer;
    if (status < 200 || status > 299) {
      const error = readPortkeyError(text, target.apiKey);
      throw new PortkeyRefusedError(answer, error.errorCode, `Portkey refused to ${what} (HTTP ${status}${error.errorCode ? `, ${error.errorCode}` : ''}).`);
    }
    const value = parse(text);
    if (typeof value === 'string') throw new PortkeyBadResponseError(answer, `Portkey answered HTTP ${status} to the request to ${what} ${value}.`, '');
    return { value, status, latencyMs: answer.latencyMs };
  }

  /** `GET /admin/users/invites`: one page; the lookup after a lost answer reads the first one. */
  const listInvitePage: PortkeyClient['listInvitePage'] = async (target, query, timeoutMs) => {
    // Every filter given, then the paging, always sent: Portkey's default page size is undocumented.
    const search = new URLSearchParams();
    if (query.email) search.set('email', query.email);
    if (query.status) search.set('status', query.status);
    search.set('pageSize', String(query.pageSize));
    search.set('currentPage', String(query.currentPage));
    const request = { path: `/admin/users/invites?${search}`, route: '/admin/users/invites', ifUnknown: 'The invites could not be listed.', timeoutMs };
    return read(target, request, 'list invites', (text) => readInvitePage(text, target.apiKey) ?? 'with something other than {"data": [...]}');
  };

  return {
    exchange,
    timeoutMs: options.timeoutMs,
    async createInvite(target, body) {
      const checkHint = `List pending invites for ${body.email} (GET /admin/users/invites?email=...&status=pending, or Portkey's Members page) before trying again.`;
      const ifUnknown = `The invite may or may not have been created. ${checkHint}`;
      // Never retried: an invite is not idempotent, so a second POST could invite twice.
      const answer = await exchange(target, { method: 'POST', path: '/admin/users/invites', body, ifUnknown, ifNotSent: 'no invite was created' });
      const { status, latencyMs, text } = answer;

      if (status < 200 || status > 299) {
        // Portkey's message is shown to the caller: readPortkeyError never lets it carry the key back.
        throw inviteRefusal(answer, readPortkeyError(text, target.apiKey), target.label, body.email);
      }

      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new PortkeyBadResponseError(answer, `Portkey answered HTTP ${status} but the body is not JSON (${describeBody(answer, target.apiKey)}).`, ifUnknown);
      }
      const created = parsed as Partial<InviteCreated> | null;
      if (!created || typeof created.id !== 'string' || !created.id || typeof created.invite_link !== 'string' || !created.invite_link) {
        const missing = ['id', 'invite_link'].filter((k) => {
          const v = (created as Record<string, unknown> | null)?.[k];
          return typeof v !== 'string' || !v;
        });
        throw new PortkeyBadResponseError(
          answer,
          `Portkey answered HTTP ${status} without the documented ${missing.join(' and ')} (expected {"id", "invite_link"}).`,
          ifUnknown,
        );
      }
      // Both are shown to the caller and the id is audited: neither may carry the key onward.
      const value = { id: redactKey(created.id, target.apiKey), invite_link: redactKey(created.invite_link, target.apiKey) };
      return { value, status, latencyMs };
    },
    async listInvites(target, query, timeoutMs) {
      const page = await listInvitePage(target, { ...query, pageSize: INVITE_PAGE_SIZE, currentPage: 0 }, timeoutMs);
      return { ...page, value: page.value.invites };
    },
    listInvitePage,
    async getInvite(target, id, timeoutMs) {
      const request = { path: `/admin/users/invites/${encodeURIComponent(id)}`, route: '/admin/users/invites/{inviteId}', ifUnknown: 'The invite could not be read.', timeoutMs };
      return read(target, request, 'read the invite', (text) => readOneInvite(text, target.apiKey) ?? 'without a usable invite');
    },
    async cancelInvite(target, id) {
      const path = `/admin/users/invites/${encodeURIComponent(id)}`;
      const answer = await exchange(target, {
        method: 'DELETE',
        path,
        route: '/admin/users/invites/{inviteId}',
        ifUnknown: 'The invite may or may not have been cancelled.',
        ifNotSent: 'nothing was cancelled',
      });
      refuseUnless2xx(answer, target, 'cancel the invite');
      return { value: null, status: answer.status, latencyMs: answer.latencyMs };
    },
    async resendInvite(target, id) {
      const answer = await exchange(target, {
        method: 'POST',
        path: `/admin/users/invites/${encodeURIComponent(id)}/resend`,
        route: '/admin/users/invites/{inviteId}/resend',
        ifUnknown: 'The invite may or may not have been sent again; do not resend it at once, or the person may get two emails.',
        ifNotSent: 'no email was sent',
      });
      refuseUnless2xx(answer, target, 'resend the invite');
      let link: unknown;
      try {
        link = (JSON.parse(answer.text) as { inviteLink?: unknown }).inviteLink;
      } catch {
        link = undefined;
      }
      const inviteLink = typeof link === 'string' && link.length < 2048 ? redactKey(link, target.apiKey) : undefined;
      return { value: { inviteLink }, status: answer.status, latencyMs: answer.latencyMs };
    },
    async getWorkspace(target, idOrSlug, timeoutMs) {
      const request = { path: `/admin/workspaces/${encodeURIComponent(idOrSlug)}`, route: '/admin/workspaces/{workspaceId}', ifUnknown: 'The workspace could not be read.', timeoutMs };
      return read(target, request, 'read the workspace', (text) => readWorkspace(text, target.apiKey) ?? 'without a workspace id');
    },
  };
}

/** A non-2xx answer to a call that changes something: Portkey's refusal, its message shown (the key redacted from it). */
function refuseUnless2xx(answer: PortkeyAnswer, target: PortkeyTarget, what: string): void {
  if (answer.status >= 200 && answer.status <= 299) return;
  const error = readPortkeyError(answer.text, target.apiKey);
  throw new PortkeyRefusedError(answer, error.errorCode, `Portkey refused to ${what} (HTTP ${answer.status}${error.errorCode ? `, ${error.errorCode}` : ''}): ${error.message ?? 'no message'}.`);
}

function transportError(err: unknown, url: string, timeoutMs: number, request: PortkeyRequest): Error {
  const host = safeHost(url);
  const failure = err instanceof TransportError ? err : new TransportError('connection_lost', undefined, { cause: err });
  switch (failure.failure) {
    case 'timeout':
      return new AmbiguousOutcomeError('timeout', `Portkey (${host}) did not answer within ${timeoutMs} ms.`, request.ifUnknown);
    case 'not_sent':
      return new PortkeyUnreachableError(
        `Portkey is unreachable at ${host} (${failure.code}); the request was not delivered, so ${request.ifNotSent}. ` +
          'Try again later, or ask the operator to check PORTKEY_BASE_URL / the tenant baseUrl.',
      );
    case 'connection_lost':
      return new AmbiguousOutcomeError(
        'connection_lost',
        `The connection to Portkey (${host}) was lost before its answer arrived${failure.code ? ` (${failure.code})` : ''}.`,
        request.ifUnknown,
      );
  }
}

function describeBody(answer: PortkeyAnswer, key: string): string {
  if (answer.text.length === 0) return 'empty';
  const type = quotableToken(answer.headers.get('content-type')?.split(';')[0], key);
  return `${answer.text.length} bytes${type ? ` of ${type}` : ''}`;
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the configured base URL';
  }
}
