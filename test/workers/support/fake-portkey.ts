/**
 * A fake Portkey Admin API for the workerd suite, installed as a spy on the isolate's global
 * fetch. The tests and src/worker.ts share one isolate (the pool's `main`), and the Portkey
 * client calls the global `fetch` at call time, so the spy sees exactly the request the Worker
 * sends: URL, method, headers and body. Requests to any other host fall through to the real
 * fetch, which the config's outboundService answers with a 599 (never the network).
 *
 * It remembers the invites it created and lists them on `GET …/admin/users/invites`, filtered by
 * `email` and `status`; `createThenHang()` makes the next POST create its invite and then never
 * answer (until the client's deadline aborts it): an answer lost after the invite was made.
 */
import { vi } from 'vitest';
import { PORTKEY_BASE_URL } from './bindings.js';

export interface SentRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** Parsed JSON body, or the raw text if it is not JSON. */
  body: unknown;
}

export interface FakeReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeInvite {
  id: string;
  invite_link: string;
  email: string;
  role: string;
  workspaces: { workspace_id: string; role: string }[];
  /** Portkey's format: "YYYY-MM-DD HH:MM:SS", UTC. */
  created_at: string;
  status: 'pending';
}

export interface FakePortkey {
  /** Every request sent to PORTKEY_BASE_URL, in order. */
  requests: SentRequest[];
  /** Answer the next call with this instead of a fresh invite (or the list). */
  replyOnce(reply: FakeReply): void;
  /** The next POST creates its invite, then hangs until the caller's signal aborts it. */
  createThenHang(): void;
  /** The invites the fake created (default replies). */
  invites: FakeInvite[];
}

export function installFakePortkey(): FakePortkey {
  const realFetch = globalThis.fetch;
  const queued: (FakeReply | 'create-then-hang')[] = [];
  const fake: FakePortkey = {
    requests: [],
    invites: [],
    replyOnce: (reply) => void queued.push(reply),
    createThenHang: () => void queued.push('create-then-hang'),
  };
  const create = (body: { email: string; role: string; workspaces: { id: string; role: string }[] }): FakeInvite => {
    const id = crypto.randomUUID();
    const invite: FakeInvite = {
      id,
      invite_link: `https://app.portkey.ai/invite/${id}`,
      email: body.email,
      role: body.role,
      workspaces: body.workspaces.map((w) => ({ workspace_id: w.id, role: w.role })),
      created_at: new Date().toISOString().replace('T', ' ').slice(0, 19),
      status: 'pending',
    };
    fake.invites.push(invite);
    return invite;
  };

  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (!request.url.startsWith(`${PORTKEY_BASE_URL}/`)) return realFetch(input, init);
    const text = await request.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // keep the raw text
    }
    fake.requests.push({ url: request.url, method: request.method, headers: Object.fromEntries(request.headers), body });

    const reply = queued.shift();
    if (reply === 'create-then-hang') {
      create(body as Parameters<typeof create>[0]);
      const signal = init?.signal ?? request.signal;
      return new Promise<Response>((_, reject) => {
        if (signal?.aborted) reject(signal.reason);
        signal?.addEventListener('abort', () => reject(signal.reason));
      });
    }
    if (reply) {
      return new Response(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body), {
        status: reply.status,
        headers: { 'content-type': 'application/json', ...reply.headers },
      });
    }
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname.endsWith('/admin/users/invites')) {
      const email = url.searchParams.get('email')?.toLowerCase();
      const status = url.searchParams.get('status');
      const data = fake.invites
        .filter((i) => (email === undefined || i.email.toLowerCase() === email) && (status === null || i.status === status))
        .map(({ invite_link: _link, ...listed }) => ({ object: 'invite', ...listed }));
      return Response.json({ object: 'list', total: data.length, data });
    }
    const { id, invite_link } = create(body as Parameters<typeof create>[0]);
    return Response.json({ id, invite_link });
  });
  return fake;
}
