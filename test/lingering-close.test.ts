/**
 * Lingering close on Node (RFC 9112 §9.6): an early refusal (401, 403, 413, 415) is sent before
 * the request body has arrived, with `Connection: close`. Closing at once with the body still
 * arriving makes the kernel answer with a TCP reset, and a client that writes its whole body before
 * reading (Node's fetch, so the MCP SDK client) fails with EPIPE/ECONNRESET and never sees the answer.
 * The server reads and discards the rest of the body, within bounds in bytes and time, then closes.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, inviteCall, observed, recordingFetch, serverPool, token, type TestServer } from './support/harness.js';
import { runInClientThread } from './support/client-thread.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const MiB = 1024 * 1024;

let portkey: PortkeyDouble;
let server: TestServer;
let bearer: string;
const startServer = serverPool();

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  server = await startServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url });
  bearer = await token();
  // Warm: the issue showed the first attempt read its 413 and the later ones did not.
  expect((await listTools(server)).status).toBe(200);
});
afterEach(() => portkey.reset());
afterAll(() => portkey.close());

const json = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const auth = () => ({ authorization: `Bearer ${bearer}` });
/** A tools/call whose arguments make it about `bytes` long. */
const oversizedArgs = (bytes: number) => ({ email: 'big@example.com', role: 'member', workspaces: [], pad: 'x'.repeat(bytes) });
const oversizedCall = (bytes: number) => JSON.stringify(inviteCall(oversizedArgs(bytes)));

async function listTools(s: TestServer): Promise<{ status: number; json: any }> {
  const res = await recordingFetch(s.mcpUrl, { method: 'POST', headers: { ...json, ...auth() }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
  return { status: res.status, json: await res.json() };
}

// The clients run in a worker thread (see client-thread.ts): in this thread they would take turns
// with the server and never be caught writing when the answer comes.
describe('an early refusal with a large body still reaches a client that writes its whole body first', () => {
  // [label, attempts, status, message, request]: each attempt is a new connection, as a client's retry.
  it.each([
    ['413, a 3 MiB body (Content-Length)', 20, 413, /Request body too large: the limit is 1048576 bytes/, () => ({ headers: { ...json, ...auth() }, body: oversizedCall(3 * MiB) })],
    ['413, a 2 MiB body (chunked)', 20, 413, /Request body too large/, () => ({ headers: { ...json, ...auth() }, body: oversizedCall(2 * MiB), chunked: true })],
    ['401, no token, a 2 MiB body', 20, 401, /"error":"invalid_request"|"error":"invalid_token"|Bearer/, () => ({ headers: json, body: oversizedCall(2 * MiB) })],
    ['403, a foreign Origin, a 2 MiB body', 10, 403, /Origin .{0,4}https:\/\/evil\.example.{0,4} is not allowed/, () => ({ headers: { ...json, ...auth(), origin: 'https://evil.example' }, body: oversizedCall(2 * MiB) })],
    // 415 is decided before the body is read only when its size is within the limit.
    ['415, not JSON, a 1 MiB body', 10, 415, /Unsupported Media Type/, () => ({ headers: { ...auth(), 'content-type': 'text/plain' }, body: 'x'.repeat(MiB) })],
  ])(`%s: Node's fetch reads the answer on each of %i attempts, and the next call is served`, async (_label, attempts, status, message, request) => {
    const lines = await runInClientThread({ kind: 'fetch', url: server.mcpUrl, request: request(), attempts, bearer });
    const refusals = lines.filter((_, i) => i % 2 === 0);
    const next = lines.filter((_, i) => i % 2 === 1);
    expect(refusals.filter((l) => !l.startsWith(`${status} close `))).toEqual([]);
    for (const l of refusals) expect(l).toMatch(message);
    expect(next.filter((l) => !l.startsWith('200 ') || !l.includes('"name":"invite_user"'))).toEqual([]);
    expect(portkey.requests).toHaveLength(0);
  });

  it('the MCP SDK client gets the 413 as an HTTP error, not a network failure, every time', async () => {
    const lines = await runInClientThread({ kind: 'sdk', url: server.mcpUrl, bearer, args: oversizedArgs(2 * MiB), attempts: 10 });
    expect(lines.slice(0, -1).filter((l) => !/^http 413 .*Request body too large/.test(l))).toEqual([]);
    expect(lines.at(-1)).toBe('tools invite_user,list_invites');
    expect(portkey.requests).toHaveLength(0);
  });
});

interface SocketRun {
  data: string;
  /** From the first answer byte to the server closing its socket (ms), if it did. */
  closedAfterAnswerMs: number | undefined;
  bytesSent: number;
}

/**
 * A raw client that sends `head`, then `piece()` as fast as the socket drains (or every
 * `everyMs`), whatever it is answered, and keeps writing after the server's FIN (allowHalfOpen),
 * as a client that never reads would. Done when the server's side of the connection is closed
 * (seen on the server, since a half-closed peer's close shows on the client only as a later reset).
 */
function pushUntilClosed(s: TestServer, head: string, piece: () => Buffer, o: { everyMs?: number; giveUpMs: number }): Promise<SocketRun> {
  return new Promise((resolve) => {
    let data = '';
    let answeredAt: number | undefined;
    let bytesSent = 0;
    let done = false;
    const finish = (closedAt?: number) => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      sock.destroy();
      observed.responses.push(data);
      resolve({ data, bytesSent, closedAfterAnswerMs: closedAt !== undefined && answeredAt !== undefined ? closedAt - answeredAt : undefined });
    };
    (s.server as import('node:http').Server).once('connection', (serverSide) => serverSide.once('close', () => finish(performance.now())));
    const sock = net.connect({ port: s.port, host: '127.0.0.1', allowHalfOpen: true });
    const giveUp = setTimeout(() => finish(), o.giveUpMs);
    sock.on('connect', async () => {
      sock.write(head);
      while (!done && sock.writable) {
        const p = piece();
        bytesSent += p.length;
        const flushed = sock.write(p);
        if (o.everyMs) await new Promise((r) => setTimeout(r, o.everyMs));
        else if (!flushed) await new Promise((r) => sock.once('drain', r).once('close', r));
      }
    });
    sock.on('data', (d) => {
      answeredAt ??= performance.now();
      data += d.toString('latin1');
    });
    sock.on('error', () => {}); // the reset once the server has closed
  });
}

const statusOf = (data: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
const headOf = (headers: string) => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${headers}\r\n`;

describe('the linger is bounded', () => {
  it('a body that never ends, trickled, is cut off once the time bound passes', async () => {
    const s = await startServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url }, {}, { lingerMs: 1000 });
    const run = await pushUntilClosed(s, headOf(`Authorization: Bearer ${bearer}\r\nContent-Length: ${1024 * MiB}\r\n`), () => Buffer.alloc(1024, 'x'), {
      everyMs: 20,
      giveUpMs: 10_000,
    });
    expect(statusOf(run.data)).toBe(413);
    expect(run.closedAfterAnswerMs).toBeDefined();
    // It lingered (a timer never fires early), then was cut off.
    expect(run.closedAfterAnswerMs!).toBeGreaterThan(500);
    expect(run.closedAfterAnswerMs!).toBeLessThan(1000 + 2500);
  });

  it('a body that never ends, sent as fast as possible, is cut off once the byte bound passes', async () => {
    // The time bound is far away: only the byte count can stop this one in time. The byte bound is
    // above what loopback socket buffers hold, so a client that got it all out was really read.
    const s = await startServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url }, {}, { lingerMs: 60_000, lingerMaxBytes: 24 * MiB });
    const piece = Buffer.alloc(64 * 1024, 'x');
    const framed = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
    const run = await pushUntilClosed(s, headOf(`Transfer-Encoding: chunked\r\n`), () => framed, { giveUpMs: 15_000 });
    expect(statusOf(run.data)).toBe(401);
    expect(run.closedAfterAnswerMs).toBeDefined();
    expect(run.bytesSent).toBeGreaterThan(24 * MiB);
    expect(run.closedAfterAnswerMs!).toBeLessThan(15_000);
  });

  it('a client that finishes its body is closed then, without waiting for the bound, and nothing after it is processed', async () => {
    const s = await startServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url }, {}, { lingerMs: 60_000 });
    const body = oversizedCall(2 * MiB);
    const next = JSON.stringify(inviteCall({ email: 'pipelined@example.com', role: 'member', workspaces: [] }));
    // RFC 9112 §9.6: after a response with "close" the server must not process further requests.
    const pipelined = `${headOf(`Authorization: Bearer ${bearer}\r\nContent-Length: ${Buffer.byteLength(next)}\r\n`)}${next}`;
    const wire = Buffer.from(`${headOf(`Authorization: Bearer ${bearer}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`)}${body}${pipelined}`);
    let sent = false;
    const run = await pushUntilClosed(s, '', () => (sent ? Buffer.alloc(0) : ((sent = true), wire)), { everyMs: 50, giveUpMs: 15_000 });
    expect(statusOf(run.data)).toBe(413);
    expect(run.data.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(run.closedAfterAnswerMs).toBeDefined();
    expect(run.closedAfterAnswerMs!).toBeLessThan(10_000);
    // Time for a pipelined invite to reach Portkey had it been processed (it did, without the guard).
    await new Promise((r) => setTimeout(r, 500));
    expect(portkey.requests).toHaveLength(0);
  });

  it('a trickled body after an early refusal is still cut off by requestTimeout (slow-loris)', async () => {
    const s = await startServer(
      { PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url },
      {},
      { lingerMs: 60_000, headersTimeout: 1000, requestTimeout: 1000, connectionsCheckingInterval: 200 },
    );
    const run = await pushUntilClosed(s, headOf(`Content-Length: ${MiB}\r\n`), () => Buffer.from(' '), { everyMs: 100, giveUpMs: 15_000 });
    expect(statusOf(run.data)).toBe(401);
    expect(run.closedAfterAnswerMs).toBeDefined();
    // It lingered, and requestTimeout (from the request's start) cut it off long before lingerMs.
    expect(run.closedAfterAnswerMs!).toBeGreaterThan(500);
    expect(run.closedAfterAnswerMs!).toBeLessThan(1000 + 4000);
  });
});
