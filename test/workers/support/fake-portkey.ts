/**
 * A fake Portkey Admin API for the workerd suite, installed as a spy on the isolate's global
 * fetch. The tests and src/worker.ts share one isolate (the pool's `main`), and the Portkey
 * client calls the global `fetch` at call time, so the spy sees exactly the request the Worker
 * sends: URL, method, headers and body. Requests to any other host fall through to the real
 * fetch, which the config's outboundService answers with a 599 (never the network).
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

export interface FakePortkey {
  /** Every request sent to PORTKEY_BASE_URL, in order. */
  requests: SentRequest[];
  /** Answer the next call with this instead of a fresh invite. */
  replyOnce(reply: FakeReply): void;
  /** The invites the fake created (default replies). */
  invites: { id: string; invite_link: string }[];
}

export function installFakePortkey(): FakePortkey {
  const realFetch = globalThis.fetch;
  const queued: FakeReply[] = [];
  const fake: FakePortkey = {
    requests: [],
    invites: [],
    replyOnce: (reply) => void queued.push(reply),
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
    if (reply) {
      return new Response(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body), {
        status: reply.status,
        headers: { 'content-type': 'application/json', ...reply.headers },
      });
    }
    const id = crypto.randomUUID();
    const created = { id, invite_link: `https://app.portkey.ai/invite/${id}` };
    fake.invites.push(created);
    return Response.json(created);
  });
  return fake;
}
