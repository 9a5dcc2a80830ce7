/**
 * The Portkey double without a socket: the same core as the socket double and the embedded
 * sandbox (src/sandbox/portkey-admin-api.ts), reached through the in-process network
 * (./network.ts), so it runs on Node and in workerd. It keeps the socket double's interface
 * (test/support/portkey-double.ts) for the faults that are answers or timing: `status`,
 * `rate-limit`, `non-json`, `truncated-json`, `success-body`, `delay`, `drop` (the connection
 * lost after sending), `hang`, and `create-then` with any of them. Faults that are bytes on a
 * socket (`encoded`, `huge-body`, `reset-mid-body`) belong to the socket double.
 */
import {
  createPortkeySandbox,
  portkeyError,
  type HeldInvite,
  type ListedWorkspaces,
} from '../../src/sandbox/portkey-admin-api.js';
import type { Fault, PortkeyDouble, PortkeyDoubleOptions, RecordedRequest } from '../support/portkey-double.js';
import { listen } from './network.js';

export type { Fault, PortkeyDouble, RecordedRequest };

const SOCKET_ONLY = new Set(['encoded', 'huge-body', 'reset-mid-body']);
const DEFAULT_ERROR_BY_STATUS: Record<number, [string, string]> = {
  400: ['Request Validation Error', 'AB01'],
  401: ['Unauthorised Request', 'AB05'],
  403: ['You do not have enough permissions to execute this request', 'AB03'],
  404: ['Resource not found', 'AB08'],
  409: ['Resource already exists', 'AB07'],
  429: ['Rate limit exceeded', 'AB06'],
  500: ['Internal Server Error', 'AB04'],
};

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const connectionLost = () => new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });

export interface InProcessPortkeyDouble extends PortkeyDouble {
  /** Faults for the next DELETE requests (cancel), one each; `create-then` cancels, then misbehaves. */
  failNextDelete(...faults: Fault[]): void;
}

export async function startPortkeyDouble(opts: PortkeyDoubleOptions): Promise<InProcessPortkeyDouble> {
  const core = createPortkeySandbox({ adminKeys: opts.adminKeys, workspaceKeys: opts.workspaceKeys });
  const basePath = (opts.basePath ?? '/v1').replace(/\/+$/, '');
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const listFaults: Fault[] = [];
  const deleteFaults: Fault[] = [];
  const timers = new Set<{ cancel(): void }>();
  let latencyMs = 0;
  let up = true;

  const wait = (ms: number) =>
    ms > 0
      ? new Promise<boolean>((resolve) => {
          const entry = { cancel: () => (clearTimeout(t), resolve(false)) };
          const t = setTimeout(() => (timers.delete(entry), resolve(true)), ms);
          timers.add(entry);
        })
      : Promise.resolve(true);

  function faultAnswer(fault: Fault): Response {
    switch (fault.kind) {
      case 'status': {
        const known = DEFAULT_ERROR_BY_STATUS[fault.status];
        const payload = fault.rawBody ?? JSON.stringify(fault.body ?? (known ? portkeyError(...known) : portkeyError(`HTTP ${fault.status}`)));
        return new Response(payload, { status: fault.status, headers: { 'content-type': fault.contentType ?? 'application/json', ...fault.headers } });
      }
      case 'rate-limit':
        return json(429, portkeyError('Rate limit exceeded', 'AB06'), fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {});
      case 'non-json':
        return new Response('<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>', {
          status: fault.status ?? 200,
          headers: { 'content-type': 'text/html; charset=utf-8' },
        });
      case 'truncated-json':
        return new Response('{"id": "abc', { status: 200, headers: { 'content-type': 'application/json' } });
      case 'success-body':
        return json(200, fault.body);
      case 'drop':
        throw connectionLost();
      default:
        throw new Error(`in-process double: the "${fault.kind}" fault is handled elsewhere`);
    }
  }

  async function handle(request: Request): Promise<Response> {
    if (!up) throw new TypeError('fetch failed', { cause: Object.assign(new Error('stopped'), { code: 'ECONNREFUSED' }) });
    const url = new URL(request.url);
    const rawBody = request.method === 'GET' ? '' : await request.text();
    let body: unknown;
    try {
      body = rawBody === '' ? undefined : JSON.parse(rawBody);
    } catch {
      body = undefined;
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((v, k) => (headers[k] = v));
    const record: RecordedRequest = { method: request.method, path: url.pathname + url.search, headers, rawBody, body };
    requests.push(record);
    const isInvites = url.pathname === `${basePath}/admin/users/invites`;
    const fault =
      isInvites && request.method === 'POST'
        ? faults.shift()
        : isInvites && request.method === 'GET'
          ? listFaults.shift()
          : request.method === 'DELETE'
            ? deleteFaults.shift()
            : undefined;
    const coreAnswer = () => {
      const a = url.pathname.startsWith(basePath)
        ? core.answer({ method: request.method, path: url.pathname.slice(basePath.length), query: url.searchParams, headers, rawBody })
        : { status: 404, body: portkeyError('Not found', 'AB08') };
      return json(a.status, a.body);
    };
    if (!(await wait(latencyMs))) throw connectionLost();
    // `create-then` on a DELETE: the invite is cancelled, then the answer is lost.
    if (fault?.kind === 'create-then') {
      const created = coreAnswer();
      if (fault.then.kind === 'delay') return (await wait(fault.then.ms)) ? created : Promise.reject(connectionLost());
      if (fault.then.kind === 'hang') return (await wait(fault.then.ms), Promise.reject(connectionLost()));
      return faultAnswer(fault.then);
    }
    if (fault?.kind === 'delay') {
      if (!(await wait(fault.ms))) throw connectionLost();
      return coreAnswer();
    }
    if (fault?.kind === 'hang') {
      await wait(fault.ms);
      throw connectionLost();
    }
    return fault ? faultAnswer(fault) : coreAnswer();
  }

  const check = (list: Fault[]) => {
    for (const f of list) {
      if (SOCKET_ONLY.has(f.kind) || (f.kind === 'create-then' && SOCKET_ONLY.has(f.then.kind))) {
        throw new TypeError(`The "${f.kind}" fault needs a socket: use test/support/portkey-double.ts`);
      }
    }
  };

  const server = listen(handle, basePath);
  const cancelAll = () => {
    for (const t of timers) t.cancel();
    timers.clear();
  };
  return {
    url: server.url,
    requests,
    invites: core.invites as HeldInvite[],
    failNext(...more) {
      check(more);
      faults.push(...more);
    },
    failNextList(...more) {
      check(more);
      listFaults.push(...more);
    },
    failNextDelete(...more: Fault[]) {
      check(more);
      deleteFaults.push(...more);
    },
    seedInvite: (seed) => core.seedInvite(seed),
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
    },
    setListedWorkspaces: (mode: ListedWorkspaces) => core.setListedWorkspaces(mode),
    workspaceId: (slug) => core.workspaceId(slug),
    reset() {
      core.reset();
      cancelAll();
      requests.length = 0;
      faults.length = 0;
      listFaults.length = 0;
      deleteFaults.length = 0;
      latencyMs = 0;
    },
    async close() {
      cancelAll();
      server.close();
    },
    async stop() {
      cancelAll();
      up = false;
    },
    async restart() {
      cancelAll();
      up = true;
    },
  };
}
