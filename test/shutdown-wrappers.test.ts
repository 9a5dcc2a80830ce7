/**
 * Shutdown that loses nothing, whatever the wrapper (issue 20): a signal delivered twice (to the
 * process group under `npm start`, or forwarded by an init) is one delivery, and after the server
 * stops accepting no Portkey POST starts that could not answer before the deadline.
 */
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, inviteCall, observed, token } from './support/harness.js';
import { startChild, waitFor, type Started } from './support/child.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const entry = fileURLToPath(new URL('../src/node.ts', import.meta.url));
const tsx = fileURLToPath(import.meta.resolve('tsx'));

let portkey: PortkeyDouble;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterAll(() => portkey.close());

const serverEnv = (extra: Record<string, string> = {}) => ({
  PORT: '0',
  AUTH_JWT_SECRET: SECRETS.jwtSecret,
  PUBLIC_URL: 'http://mcp.test',
  PORTKEY_API_KEY: SECRETS.portkeyKey,
  PORTKEY_BASE_URL: portkey.url,
  ...extra,
});

const events = (stdout: string, name: string) =>
  stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === name);

async function started(s: Started): Promise<string> {
  await waitFor(() => s.stdout().includes('"event":"server.started"'), 'the server to start');
  return /"url":"([^"]+)"/.exec(s.stdout())![1]!;
}

function post(url: string, body: unknown, bearer: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        observed.responses.push(text);
        resolve({ status: res.statusCode!, body: text });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('a signal delivered twice is one delivery', () => {
  it('npm start, SIGTERM to the whole process group during a slow invite: the answer and the audit line arrive, exit 0', async () => {
    portkey.reset();
    portkey.setLatency(1500);
    const s = startChild('npm', ['start', '--silent'], serverEnv());
    const url = await started(s);
    const inFlight = post(`${url}/mcp`, inviteCall({ email: 'group@example.com', role: 'member', workspaces: [] }), await token());
    await waitFor(() => portkey.requests.length === 1, 'the call to reach Portkey');
    // As a terminal's Ctrl-C, systemd (KillMode=control-group), Heroku or dumb-init deliver it: to every process in the group.
    process.kill(-s.child.pid!, 'SIGTERM');
    const done = await inFlight;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body).result.structuredContent.email).toBe('group@example.com');
    expect(await s.exited).toBe(0);
    expect(events(s.stdout(), 'server.stopped_at_once')).toEqual([]);
    expect(events(s.stdout(), 'audit.invite_user')).toEqual([expect.objectContaining({ invitee: 'group@example.com', outcome: 'invited' })]);
    portkey.setLatency(0);
  });

  it('two signals a few milliseconds apart: the second is logged as a repeat, the call in flight still finishes', async () => {
    portkey.reset();
    portkey.setLatency(1500);
    const s = startChild(process.execPath, ['--import', tsx, entry], serverEnv());
    const url = await started(s);
    const inFlight = post(`${url}/mcp`, inviteCall({ email: 'echo@example.com', role: 'member', workspaces: [] }), await token());
    await waitFor(() => portkey.requests.length === 1, 'the call to reach Portkey');
    process.kill(s.child.pid!, 'SIGTERM');
    process.kill(s.child.pid!, 'SIGINT');
    expect((await inFlight).status).toBe(200);
    expect(await s.exited).toBe(0);
    // Two different signals sent back to back may be handled in either order: one of them is the repeat.
    const repeated = events(s.stdout(), 'server.signal_repeated');
    expect(repeated).toEqual([expect.objectContaining({ window_ms: 2000 })]);
    expect(['SIGTERM', 'SIGINT']).toContain(repeated[0]!.signal);
    expect(events(s.stdout(), 'server.stopped_at_once')).toEqual([]);
    expect(events(s.stdout(), 'audit.invite_user')).toEqual([expect.objectContaining({ invitee: 'echo@example.com', outcome: 'invited' })]);
    portkey.setLatency(0);
  });
});

describe('after the server stops accepting', () => {
  it('a call whose body trickles in past the point where its POST could still answer is refused, retryable, with nothing sent', async () => {
    portkey.reset();
    // Each POST takes 2.5 s: started late, it would still be waiting when the deadline cuts responses.
    portkey.setLatency(2500);
    // Deadline: PORTKEY_TIMEOUT_MS + 5 s = 7 s; a POST needs its budget (2 s + 2 s lookup) + 1 s before then.
    const s = startChild(process.execPath, ['--import', tsx, entry], serverEnv({ PORTKEY_TIMEOUT_MS: '3000' }));
    const url = new URL(await started(s));
    const body = JSON.stringify(inviteCall({ email: 'trickle@example.com', role: 'member', workspaces: [] }));
    const bearer = await token();
    const socket = net.connect(Number(url.port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    await new Promise((r) => socket.once('connect', r));
    socket.write(
      `POST /mcp HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${bearer}\r\nContent-Type: application/json\r\n` +
        `Accept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
    );
    await waitFor(() => s.stdout().length > 0, 'output');
    await new Promise((r) => setTimeout(r, 200)); // the request has been accepted
    process.kill(s.child.pid!, 'SIGTERM');
    await waitFor(() => s.stdout().includes('"event":"server.not_accepting"'), 'the listener to close');
    // The rest of the body arrives 3 s later, when a POST could no longer answer inside the deadline.
    await new Promise((r) => setTimeout(r, 3000));
    socket.write(body.slice(10));
    await closed;
    observed.responses.push(answer);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    const result = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).result;
    expect(result.isError).toBe(true);
    expect(result.content[0].text).toMatch(/shutting down.*Nothing was sent: no invite was created\. Retry/);
    expect(portkey.requests).toHaveLength(0);
    expect(await s.exited).toBe(0);
    expect(events(s.stdout(), 'audit.invite_user')).toEqual([expect.objectContaining({ invitee: 'trickle@example.com', outcome: 'shutting_down' })]);
    expect(events(s.stdout(), 'server.cut_responses')).toEqual([]);
    portkey.setLatency(0);
  });
});
