/**
 * The Portkey client on its own, over each transport, against the Portkey double on loopback:
 * every promise the client makes holds on undici and on fetch alike.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AmbiguousOutcomeError, PortkeyBadResponseError, PortkeyRefusedError, PortkeyUnreachableError } from '../src/errors.js';
import { createPortkeyClient, type PortkeyClient } from '../src/portkey/client.js';
import { createFetchTransport } from '../src/portkey/fetch-transport.js';
import { parseTimestamp } from '../src/portkey/invite-list.js';
import { TransportError } from '../src/portkey/transport.js';
import { TRANSPORTS, freePort, rememberSecret } from './support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const KEY = 'pk-unit-SECRET-31c7e0';
rememberSecret(KEY);
const body = { email: 'u@example.com', role: 'member' as const, workspaces: [{ id: 'ws-1', role: 'member' as const }] };

let portkey: PortkeyDouble;
/** Where a redirect points: it must never be called. */
let elsewhere: PortkeyDouble;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [KEY] });
  elsewhere = await startPortkeyDouble({ adminKeys: [KEY] });
});
afterEach(() => {
  portkey.reset();
  elsewhere.reset();
});
afterAll(async () => {
  await portkey.close();
  await elsewhere.close();
});

const target = () => ({ baseUrl: portkey.url, apiKey: KEY, label: 'tenant "unit"' });
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe.each(TRANSPORTS)('Portkey client over %s', (name, makeTransport) => {
  const transport = makeTransport();
  // Generous: a runtime's first fetch loads its HTTP stack, which takes a while on a loaded machine.
  const client: PortkeyClient = createPortkeyClient({ timeoutMs: 5000, transport });
  const hasty: PortkeyClient = createPortkeyClient({ timeoutMs: 400, transport });
  afterAll(() => transport.close?.());

  it('sends exactly the body, the key only in x-portkey-api-key, and asks for identity', async () => {
    const { value, status, latencyMs } = await client.createInvite(target(), body);
    expect(status).toBe(200);
    expect(latencyMs).toBeGreaterThanOrEqual(0);
    expect(value).toEqual({ id: portkey.invites[0]!.id, invite_link: `https://app.portkey.ai/invite/${portkey.invites[0]!.id}` });
    const [sent] = portkey.requests;
    expect(sent).toMatchObject({ method: 'POST', path: '/v1/admin/users/invites', rawBody: JSON.stringify(body) });
    expect(sent!.headers).toMatchObject({
      'x-portkey-api-key': KEY,
      'content-type': 'application/json',
      accept: 'application/json',
      'accept-encoding': 'identity',
    });
    expect(sent!.headers.authorization).toBeUndefined();
  });

  it('lists invites with its own deadline, the key only in its header, the email encoded, no body', async () => {
    await client.createInvite(target(), body);
    const listed = await client.listInvites(target(), { email: 'U+1@Example.com', status: 'pending' }, 1000);
    expect(listed.value).toEqual([]); // the double filters by email: u@ is not u+1@
    const all = await client.listInvites(target(), { email: body.email, status: 'pending' }, 1000);
    expect(all.value).toEqual([
      { id: portkey.invites[0]!.id, email: body.email, role: 'member', status: 'pending', createdAt: expect.any(Number), expiresAt: expect.any(Number), workspaces: [{ id: portkey.workspaceId('ws-1'), role: 'member' }] },
    ]);
    // Portkey's created_at has whole seconds: within a second of when the double made it.
    expect(Math.abs(all.value[0]!.createdAt! - portkey.invites[0]!.createdAt.getTime())).toBeLessThan(1000);
    const gets = portkey.requests.filter((r) => r.method === 'GET');
    expect(gets.map((r) => r.path)).toEqual([
      '/v1/admin/users/invites?email=U%2B1%40Example.com&status=pending&pageSize=100&currentPage=0',
      '/v1/admin/users/invites?email=u%40example.com&status=pending&pageSize=100&currentPage=0',
    ]);
    expect(gets[0]!.headers).toMatchObject({ 'x-portkey-api-key': KEY, 'accept-encoding': 'identity' });
    expect(gets[0]!.rawBody).toBe('');

    portkey.failNextList({ kind: 'hang', ms: 3000 });
    const err = await failure(client.listInvites(target(), { email: body.email, status: 'pending' }, 200));
    expect(err).toMatchObject({ code: 'timeout' });
    expect((err as Error).message).toMatch(/did not answer within 200 ms/);
  });

  it('a list answer that is not {data: [...]} or not 2xx is an error carrying its status', async () => {
    portkey.failNextList({ kind: 'success-body', body: [{ id: 'x' }] }, { kind: 'status', status: 403 });
    expect(await failure(client.listInvites(target(), { email: body.email, status: 'pending' }, 1000))).toMatchObject({ upstreamStatus: 200 });
    expect(await failure(client.listInvites(target(), { email: body.email, status: 'pending' }, 1000))).toMatchObject({ upstreamStatus: 403, code: 'portkey_AB03' });
  });

  it('never follows a redirect, and reports it as the answer it is', async () => {
    portkey.failNext({ kind: 'status', status: 307, rawBody: '', headers: { location: `${elsewhere.url}/admin/users/invites` } });
    const err = await failure(client.createInvite(target(), body));
    expect(err).toBeInstanceOf(PortkeyRefusedError);
    expect((err as Error).message).toMatch(/^Portkey refused the invite \(HTTP 307\)\. Portkey answered with a redirect, which this server does not follow/);
    expect(portkey.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('never retries: a dropped connection is one POST and an unknown outcome', async () => {
    portkey.failNext({ kind: 'drop' });
    const err = await failure(client.createInvite(target(), body));
    expect(err).toBeInstanceOf(AmbiguousOutcomeError);
    expect(err).toMatchObject({ code: 'connection_lost' });
    expect(portkey.requests).toHaveLength(1);
  });

  it('a timeout is an unknown outcome', async () => {
    portkey.failNext({ kind: 'delay', ms: 2000 });
    const err = await failure(hasty.createInvite(target(), body));
    expect(err).toMatchObject({ code: 'timeout' });
    expect((err as Error).message).toMatch(/did not answer within 400 ms\. The invite may or may not have been created/);
  });

  it('a refused connection is "not sent"', async () => {
    const port = await freePort();
    const err = await failure(client.createInvite({ ...target(), baseUrl: `http://127.0.0.1:${port}/v1` }, body));
    expect(err).toBeInstanceOf(PortkeyUnreachableError);
    expect((err as Error).message).toMatch(/\(ECONNREFUSED\); the request was not delivered, so no invite was created\./);
  });

  it('reads both error shapes, and carries status and latency', async () => {
    portkey.failNext(
      { kind: 'status', status: 409, body: { success: false, data: { message: 'User already invited', errorCode: 'AB07' } } },
      { kind: 'status', status: 400, body: { error: { message: 'bad email', code: 'invalid_email' } } },
    );
    const admin = (await failure(client.createInvite(target(), body))) as PortkeyRefusedError;
    expect(admin).toMatchObject({ code: 'portkey_AB07', upstreamStatus: 409, upstreamLatencyMs: expect.any(Number) });
    const gateway = (await failure(client.createInvite(target(), body))) as PortkeyRefusedError;
    expect(gateway).toMatchObject({ code: 'portkey_invalid_email', upstreamStatus: 400 });
    expect(gateway.message).toMatch(/^Portkey refused the invite \(HTTP 400, invalid_email\): bad email\./);
  });

  it('stops reading past 256 KiB and does not report success', async () => {
    portkey.failNext({ kind: 'huge-body', bytes: 8 * 1024 * 1024 });
    const err = await failure(client.createInvite(target(), body));
    expect(err).toBeInstanceOf(PortkeyBadResponseError);
    expect((err as Error).message).toMatch(/body over 262144 bytes/);
  });

  it('the same bounded exchange serves a GET (listing pending invites)', async () => {
    await client.createInvite(target(), body);
    const answer = await client.exchange(target(), {
      method: 'GET',
      path: `/admin/users/invites?email=${encodeURIComponent(body.email)}&status=pending&pageSize=100&currentPage=0`,
      ifUnknown: 'Nothing was changed.',
      ifNotSent: 'nothing was looked up',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject({ total: 1, data: [{ email: body.email, status: 'pending' }] });
    const get = portkey.requests.at(-1)!;
    expect(get).toMatchObject({ method: 'GET', rawBody: '' });
    expect(get.headers['x-portkey-api-key']).toBe(KEY);
    expect(get.headers['content-type']).toBeUndefined();
  });

  it(`reports a transport failure as a TransportError (${name})`, async () => {
    const port = await freePort();
    const err = await failure(
      transport.exchange({ method: 'GET', url: `http://127.0.0.1:${port}/`, headers: {}, timeoutMs: 400, maxBodyBytes: 10 }),
    );
    expect(err).toBeInstanceOf(TransportError);
    expect(err).toMatchObject({ failure: 'not_sent', code: 'ECONNREFUSED' });
  });
});

/** A streamed answer, as a fetch implementation that decodes on its own (Workers) hands it over. */
function streamed(chunks: Uint8Array[], headers: Record<string, string> = {}): Response {
  return new Response(
    new ReadableStream({
      start(controller) {
        for (const c of chunks) controller.enqueue(c);
        controller.close();
      },
    }),
    { status: 200, headers: { 'content-type': 'application/json', ...headers } },
  );
}

describe('the fetch transport counts decoded bytes, whatever the headers say', () => {
  const mib = new Uint8Array(1024 * 1024).fill(0x20);
  const exchange = (response: Response) =>
    createFetchTransport(async () => response).exchange({ method: 'POST', url: 'http://portkey.test/v1/x', headers: {}, timeoutMs: 1000, maxBodyBytes: 256 * 1024 });

  it('a small Content-Length over a large decoded body is cut at the cap', async () => {
    const answer = await exchange(streamed([mib, mib, mib], { 'content-length': '100' }));
    expect(answer.body).toEqual({ kind: 'too_large' });
  });

  it('a body already decoded by the runtime, announced as gzip, is refused unread', async () => {
    const answer = await exchange(streamed([mib], { 'content-encoding': 'gzip' }));
    expect(answer.body).toEqual({ kind: 'encoded', encoding: 'gzip' });
  });

  it('a streamed answer of normal size is read whole', async () => {
    const enc = new TextEncoder();
    const answer = await exchange(streamed([enc.encode('{"id":"a1",'), enc.encode('"invite_link":"l"}')]));
    expect(answer.body).toEqual({ kind: 'text', text: '{"id":"a1","invite_link":"l"}' });
  });
});

describe('reading invite timestamps', () => {
  it.each([
    ['2023-12-12 13:56:32', '2023-12-12T13:56:32.000Z'],
    ['2023-12-12T13:56:32Z', '2023-12-12T13:56:32.000Z'],
    ['2023-12-12T15:56:32+02:00', '2023-12-12T13:56:32.000Z'],
    ['2023-12-12 13:56:32.5', '2023-12-12T13:56:32.500Z'],
  ])('%s is %s', (text, iso) => {
    expect(new Date(parseTimestamp(text)!).toISOString()).toBe(iso);
  });

  it.each(['', '2023-12-12', 'yesterday', '2023-13-45 99:99:99', '2023-12-12 13:56:32 PST', 42, null])('%s is unreadable', (text) => {
    expect(parseTimestamp(text)).toBeUndefined();
  });
});
