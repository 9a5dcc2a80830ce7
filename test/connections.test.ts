/**
 * Connections that end (issue 20): a socket that never sends a byte is closed within
 * headersTimeout, the number of open connections is bounded (HTTP_MAX_CONNECTIONS), and a request
 * pipelined behind an answer that closes the connection is never processed.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inviteCall, observed, SECRETS, serverPool, token } from './support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const start = serverPool();
let portkey: PortkeyDouble;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterAll(() => portkey.close());

const env = () => ({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url });

/** A raw connection that records when it was closed and everything it read. */
function rawConnection(port: number, localAddress?: string): Promise<{ socket: net.Socket; closed: () => boolean; whenClosed: Promise<void>; received: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let closed = false;
    let text = '';
    const whenClosed = new Promise<void>((r) => socket.once('close', () => { closed = true; r(); }));
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed: () => closed, whenClosed, received: () => text }));
    socket.once('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a connection that never sends a byte', () => {
  it('is closed within headersTimeout of connecting', async () => {
    const server = await start(env(), {}, { headersTimeout: 800, connectionsCheckingInterval: 100 });
    const silent = await Promise.all(Array.from({ length: 5 }, () => rawConnection(server.port)));
    await sleep(200);
    expect(silent.filter((c) => c.closed())).toHaveLength(0);
    await Promise.race([Promise.all(silent.map((c) => c.whenClosed)), sleep(5_000)]);
    expect(silent.filter((c) => c.closed())).toHaveLength(5);
    // A connection that does send its request in time is served.
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
  });
});

/** A connection whose request is under way: its headers are in, its body never comes (busy, not idle). */
async function busyConnection(port: number, bearer: string) {
  const c = await rawConnection(port);
  c.socket.write(
    `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${bearer}\r\nContent-Type: application/json\r\n` +
      'Accept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n{"jsonrpc"',
  );
  // Let the server read the headers: from then on the connection is busy.
  await sleep(200);
  return c;
}

/** A keep-alive connection that made one request, read its answer and now idles. */
async function idleConnection(port: number, localAddress?: string) {
  const c = await rawConnection(port, localAddress);
  c.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  const deadline = Date.now() + 5_000;
  while (!c.received().includes('\r\n\r\n') && !c.closed() && Date.now() < deadline) await sleep(5);
  return c;
}

describe('HTTP_MAX_CONNECTIONS', () => {
  it('with every slot busy, a connection past the limit is closed at once and logged; one below it is served', async () => {
    const server = await start({ ...env(), HTTP_MAX_CONNECTIONS: '3' });
    const bearer = await token();
    // One after another: a connection is idle (and may give way) until its request's headers are in.
    const held: Awaited<ReturnType<typeof busyConnection>>[] = [];
    for (let i = 0; i < 3; i++) held.push(await busyConnection(server.port, bearer));
    const extra = await rawConnection(server.port);
    await Promise.race([extra.whenClosed, sleep(3_000)]);
    expect(extra.closed()).toBe(true);
    expect(held.filter((c) => c.closed())).toHaveLength(0);
    expect(server.events('server.connections_dropped')[0]).toMatchObject({ level: 'warn', max_connections: 3 });
    held[0]!.socket.destroy();
    await held[0]!.whenClosed;
    // The server counts the closed connection out asynchronously: below the limit again, a new one is served.
    let status: number | undefined;
    for (let i = 0; i < 40 && status === undefined; i++) {
      status = await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } }).then((r) => r.status, () => undefined);
      if (status === undefined) await sleep(100);
    }
    expect(status).toBe(200);
    for (const c of held) c.socket.destroy();
  });

  it('idle keep-alive connections give way: a crowd of them does not keep a new client out, and busy ones are never closed', async () => {
    const server = await start({ ...env(), HTTP_MAX_CONNECTIONS: '20', HTTP_MAX_CONNECTIONS_PER_PEER: '1000' });
    const bearer = await token();
    const busy: Awaited<ReturnType<typeof busyConnection>>[] = [];
    for (let i = 0; i < 3; i++) busy.push(await busyConnection(server.port, bearer));
    const idle: Awaited<ReturnType<typeof idleConnection>>[] = [];
    for (let i = 0; i < 40; i++) idle.push(await idleConnection(server.port));
    // Every new connection was served its /healthz, though the idle crowd is twice the limit.
    expect(idle.filter((c) => c.received().startsWith('HTTP/1.1 200'))).toHaveLength(40);
    const res = await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);
    expect(busy.filter((c) => c.closed())).toHaveLength(0);
    expect(server.events('server.idle_connections_closed')[0]).toMatchObject({ level: 'info', reason: 'idle_closed' });
    for (const c of [...busy, ...idle]) c.socket.destroy();
  });

  it("one address holds at most HTTP_MAX_CONNECTIONS_PER_PEER connections; another address is still served", async () => {
    const server = await start({ ...env(), HTTP_MAX_CONNECTIONS: '50', HTTP_MAX_CONNECTIONS_PER_PEER: '5' });
    const crowd = await Promise.all(Array.from({ length: 10 }, () => rawConnection(server.port, '127.0.0.2')));
    await Promise.race([Promise.all(crowd.slice(5).map((c) => c.whenClosed)), sleep(3_000)]);
    expect(crowd.filter((c) => c.closed()).length).toBe(5);
    const res = await fetch(`${server.url}/healthz`, { headers: { connection: 'close' } });
    expect(res.status).toBe(200);
    expect(server.events('server.connections_dropped')[0]).toMatchObject({ level: 'warn', reason: 'peer_share' });
    for (const c of crowd) c.socket.destroy();
  });

  it('behind a trusted proxy, the per-address share is off (every connection is the proxy\'s)', async () => {
    const server = await start({ ...env(), HTTP_MAX_CONNECTIONS: '50', HTTP_MAX_CONNECTIONS_PER_PEER: '2', TRUST_PROXY: '1' });
    const crowd = await Promise.all(Array.from({ length: 6 }, () => idleConnection(server.port)));
    expect(crowd.filter((c) => c.closed())).toHaveLength(0);
    for (const c of crowd) c.socket.destroy();
  });

  it('is a whole number of connections, named when wrong', async () => {
    await expect(start({ ...env(), HTTP_MAX_CONNECTIONS: '0' })).rejects.toThrow(/Invalid HTTP_MAX_CONNECTIONS: .*below the file-descriptor limit/);
  });
});

describe('a request pipelined behind an answer that closes the connection', () => {
  it.each([
    ['401 (a well-formed token with a bad signature)', async () => token({ secret: 'another-secret-SECRET-0123456789abcdefghij' })],
    ['413 (a body over the limit, announced by Content-Length)', async () => token()],
  ])('behind a %s, a valid invite is never processed: Portkey receives nothing and nothing is audited', async (label, firstToken) => {
    portkey.reset();
    const server = await start(env());
    const bad = await firstToken();
    observed.secrets.add(bad);
    const good = await token();
    const invite = JSON.stringify(inviteCall({ email: 'pipelined@example.com', role: 'member', workspaces: [] }));
    const tooLarge = label.startsWith('413');
    const first = tooLarge ? JSON.stringify(inviteCall({ email: 'x@example.com', role: 'member', workspaces: [], first_name: 'x'.repeat(2 * 1024 * 1024) })) : invite;
    const request = (bearer: string, body: string) =>
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${bearer}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const c = await rawConnection(server.port);
    // One write: the invite rides right behind the request that is refused.
    c.socket.write(request(bad, first) + request(good, invite));
    await Promise.race([c.whenClosed, sleep(10_000)]);
    expect(c.closed()).toBe(true);
    const statuses = [...c.received().matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([tooLarge ? 413 : 401]);
    await sleep(300);
    expect(portkey.requests).toHaveLength(0);
    expect(server.events('audit.invite_user')).toEqual([]);
  });

  it('behind an answer that keeps the connection open, the pipelined request is served in order', async () => {
    portkey.reset();
    const server = await start(env());
    const good = await token();
    const request = (id: number) => {
      const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' });
      return `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAuthorization: Bearer ${good}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    };
    const c = await rawConnection(server.port);
    c.socket.write(request(1) + request(2));
    const deadline = Date.now() + 5_000;
    while ((c.received().match(/HTTP\/1\.1 200/g) ?? []).length < 2 && Date.now() < deadline) await sleep(20);
    const ids = [...c.received().matchAll(/"id":(\d+)/g)].map((m) => Number(m[1]));
    expect(ids).toEqual([1, 2]);
    c.socket.destroy();
  });
});
