import { describe, expect, it } from 'vitest';
import { PortkeyBadResponseError } from '../src/errors.js';
import { createPortkeyClient } from '../src/portkey/client.js';

const target = { baseUrl: 'http://portkey.test/v1', apiKey: 'pk-unit-SECRET', label: 'tenant "unit"' };
const body = { email: 'u@example.com', role: 'member' as const, workspaces: [] };

/** A streamed (chunked) answer: no Content-Length, so the cap has to count as it reads. */
function streamed(chunks: string[], status = 200): Response {
  const encoder = new TextEncoder();
  return new Response(
    new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(encoder.encode(c));
        controller.close();
      },
    }),
    { status, headers: { 'content-type': 'application/json' } },
  );
}

describe('Portkey client, with an injected fetch', () => {
  it('reads a streamed answer of normal size', async () => {
    const client = createPortkeyClient({ timeoutMs: 1000, fetch: async () => streamed(['{"id":"a1",', '"invite_link":"https://app.portkey.ai/i/a1"}']) });
    const { value } = await client.createInvite(target, body);
    expect(value).toEqual({ id: 'a1', invite_link: 'https://app.portkey.ai/i/a1' });
  });

  it('stops reading a streamed answer past 256 KiB and does not report success', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const client = createPortkeyClient({ timeoutMs: 1000, fetch: async () => streamed(['{"id":"a1","invite_link":"l","pad":"', chunk, chunk, chunk, chunk, chunk, '"}']) });
    const err = await client.createInvite(target, body).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortkeyBadResponseError);
    expect((err as Error).message).toMatch(/body over 262144 bytes/);
  });

  it('sends the key only in x-portkey-api-key, and asks fetch not to follow redirects', async () => {
    let seen: RequestInit | undefined;
    const client = createPortkeyClient({
      timeoutMs: 1000,
      fetch: async (_url, init) => {
        seen = init;
        return Response.json({ id: 'a2', invite_link: 'https://app.portkey.ai/i/a2' });
      },
    });
    await client.createInvite(target, body);
    expect(seen!.redirect).toBe('manual');
    expect(seen!.headers).toEqual({ 'x-portkey-api-key': 'pk-unit-SECRET', 'content-type': 'application/json', accept: 'application/json' });
  });
});
