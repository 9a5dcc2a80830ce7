/**
 * Hostile and broken input at the HTTP and MCP layers, against the real Node server: each gets a
 * clear 4xx (or a JSON-RPC error) or an isError result, never a 5xx, and never reaches Portkey.
 * Raw answers read through node:http or node:net are recorded in `observed.responses` too, so the
 * secret check in setup.ts covers them.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/server-config.js';
import { createLogger } from '../src/log.js';
import { startNodeServer, type NodeServerTimeouts, type RunningServer } from '../src/node.js';
import { MAX_METADATA_ENTRIES, MAX_SCOPES, MAX_WORKSPACES } from '../src/tools/invite-user-schema.js';
import {
  PUBLIC_URL,
  SECRETS,
  inviteCall,
  observed,
  postMcp,
  recordingFetch,
  resultText,
  serverPool,
  token,
  type TestServer,
} from './support/harness.js';
import { startPortkeyDouble, validateCreateInvite, type PortkeyDouble } from './support/portkey-double.js';

let portkey: PortkeyDouble;
let server: TestServer;
let bearer: string;
const startServer = serverPool();

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  server = await startServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url });
  // Admin scope too, so that role "admin" is never turned into a step-up 403 here.
  bearer = await token({ scope: 'portkey.invite portkey.invite.admin' });
});
afterEach(() => {
  portkey.reset();
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});
afterAll(() => portkey.close());

const auth = () => ({ authorization: `Bearer ${bearer}` });
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Raw clients: every answer is recorded for the secret check.
// ---------------------------------------------------------------------------------------------

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on its own connection through node:http. */
function rawHttp(o: { port?: number; method?: string; path?: string; headers?: Record<string, string | number>; body?: string | Buffer }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: o.port ?? server.port, path: o.path ?? '/mcp', method: o.method ?? 'POST', headers: o.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          observed.responses.push(`${res.statusCode} ${JSON.stringify(res.headers)} ${body}`);
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

interface SocketAnswer {
  data: string;
  /** The server ended or closed the connection. */
  closedByServer: boolean;
  ms: number;
}

/**
 * A raw TCP exchange: writes `head`, then `drip` every `everyMs` (a slow client) until the server
 * answers or closes; gives up after `giveUpMs`.
 */
function rawSocket(port: number, head: string | Buffer, o: { drip?: string | Buffer; everyMs?: number; giveUpMs?: number } = {}): Promise<SocketAnswer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let data = '';
    let closedByServer = false;
    let done = false;
    const sock = net.connect(port, '127.0.0.1');
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(drip);
      clearTimeout(giveUp);
      sock.destroy();
      observed.responses.push(data);
      resolve({ data, closedByServer, ms: performance.now() - started });
    };
    const drip = o.drip
      ? setInterval(() => {
          if (!sock.destroyed && sock.writable) sock.write(o.drip!);
        }, o.everyMs ?? 100)
      : undefined;
    const giveUp = setTimeout(finish, o.giveUpMs ?? 5000);
    sock.on('connect', () => sock.write(head));
    sock.on('data', (d) => (data += d.toString('latin1')));
    sock.on('end', () => {
      closedByServer = true;
      finish();
    });
    sock.on('close', () => {
      closedByServer = true;
      finish();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the answer is the server closing on us.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') closedByServer = true;
      if (data || closedByServer) finish();
      else reject(err);
    });
  });
}

const statusOf = (data: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);

// ---------------------------------------------------------------------------------------------
// JSON-RPC envelope
// ---------------------------------------------------------------------------------------------

const nested = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('broken JSON-RPC: a clear 4xx or JSON-RPC error, never a 5xx, never upstream', () => {
  it.each([
    // [label, raw body, HTTP status, JSON-RPC code, message]
    ['truncated JSON', '{"jsonrpc":"2.0","id":1,"method":"tools/list"', 400, -32700, /Parse error: the request body is not valid JSON/],
    ['an empty body', '', 400, -32700, /Parse error/],
    ['only whitespace', ' \n\t ', 400, -32700, /Parse error/],
    ['JSON with a trailing comma', '{"jsonrpc":"2.0","id":1,"method":"tools/list",}', 400, -32700, /Parse error/],
    ['a lone string', '"tools/list"', 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['null', 'null', 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['a number', '42', 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['an empty object', '{}', 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['a batch', JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 2, method: 'ping' }]), 400, -32600, /batches are not supported/],
    ['an empty batch', '[]', 400, -32600, /batches are not supported/],
    ['a batch of invites', JSON.stringify([inviteCall({ email: 'b1@example.com', role: 'member', workspaces: [] })]), 400, -32600, /batches are not supported/],
    ['missing jsonrpc', JSON.stringify({ id: 1, method: 'tools/list' }), 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['jsonrpc "1.0"', JSON.stringify({ jsonrpc: '1.0', id: 1, method: 'tools/list' }), 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['jsonrpc as a number', JSON.stringify({ jsonrpc: 2, id: 1, method: 'tools/list' }), 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['an object id', JSON.stringify({ jsonrpc: '2.0', id: { a: 1 }, method: 'tools/list' }), 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['a null id', JSON.stringify({ jsonrpc: '2.0', id: null, method: 'tools/list' }), 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['a numeric method', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 5 }), 400, -32600, /Invalid Request: expected one JSON-RPC 2\.0 message/],
    ['string params', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: 'invite_user' }), 400, -32602, /^Invalid params for tools\/call: params: /],
    ['unknown method', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/delete' }), 200, -32601, /Method not found/],
    ['method "__proto__"', JSON.stringify({ jsonrpc: '2.0', id: 1, method: '__proto__' }), 200, -32601, /Method not found/],
    ['method "constructor"', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'constructor' }), 200, -32601, /Method not found/],
    ['method "toString"', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'toString' }), 200, -32601, /Method not found/],
    ['method "hasOwnProperty"', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hasOwnProperty' }), 200, -32601, /Method not found/],
    ['initialize without params', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize' }), 400, -32602, /^Invalid params for initialize: params: /],
    ['initialize without a protocol version', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} }), 400, -32602, /params\.protocolVersion: /],
    ['tools/list with a numeric cursor', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { cursor: 5 } }), 400, -32602, /^Invalid params for tools\/list: params\.cursor: /],
    ['tools/call without params', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call' }), 400, -32602, /^Invalid params for tools\/call: params: /],
    ['tools/call without a name', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { arguments: {} } }), 400, -32602, /params\.name: /],
    ['tools/call with a numeric name', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 5, arguments: {} } }), 400, -32602, /params\.name: /],
    ['tools/call with string arguments', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'invite_user', arguments: 'email=a@example.com' } }), 400, -32602, /params\.arguments: .*expected record/],
    ['tools/call with array arguments', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'invite_user', arguments: [{ email: 'a@example.com' }] } }), 400, -32602, /params\.arguments: /],
    ['tools/call with null arguments', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'invite_user', arguments: null } }), 400, -32602, /params\.arguments: /],
    ['tools/call with a string _meta', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'invite_user', arguments: {}, _meta: 'x' } }), 400, -32602, /params\._meta: /],
    ['nesting 50 000 deep in an argument', `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"invite_user","arguments":{"email":"a@example.com","role":"member","workspaces":[],"x":${nested(50_000)}}}}`, 200, undefined, /Unrecognized key: "x"/],
    ['nesting 50 000 deep in params', `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":${nested(50_000)}}}`, 400, -32602, /params\.cursor: /],
  ] as const)('%s', async (_label, body, status, code, message) => {
    const res = await postMcp(server.mcpUrl, body, auth());
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    if (code === undefined) {
      // A well-formed call with bad arguments: a tool result.
      expect(res.json.result.isError).toBe(true);
      expect(resultText(res.json.result)).toMatch(message);
    } else {
      expect(res.json).toMatchObject({ jsonrpc: '2.0', error: { code } });
      expect(res.json.error.message).toMatch(message);
      // Never the SDK's dump of schema issues, and never "internal error".
      expect(res.json.error.message).not.toMatch(/^\[|"code":|invalid_type"/);
      if (code === -32602) expect(res.json.id).toBe(1);
    }
    expect(portkey.requests).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Content-Type, Accept, and the HTTP request itself
// ---------------------------------------------------------------------------------------------

describe('media types', () => {
  const toolsList = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  it.each([
    { label: 'no Content-Type', contentType: undefined, status: 415 },
    { label: 'text/plain', contentType: 'text/plain', status: 415 },
    { label: 'form-urlencoded', contentType: 'application/x-www-form-urlencoded', status: 415 },
    { label: 'multipart', contentType: 'multipart/form-data; boundary=xyz', status: 415 },
    { label: 'application/jsonx', contentType: 'application/jsonx', status: 415 },
    { label: 'application/json-seq', contentType: 'application/json-seq', status: 415 },
    { label: 'text/json', contentType: 'text/json', status: 415 },
    { label: 'a JSON type listed after another', contentType: 'text/plain, application/json', status: 415 },
    { label: 'application/json; charset=utf-8', contentType: 'application/json; charset=utf-8', status: 200 },
    { label: 'APPLICATION/JSON', contentType: 'APPLICATION/JSON', status: 200 },
  ] as { label: string; contentType: string | undefined; status: number }[])('$label gets $status', async ({ contentType, status }) => {
    const res = await rawHttp({
      headers: { ...auth(), accept: 'application/json, text/event-stream', ...(contentType ? { 'content-type': contentType } : {}) },
      body: toolsList,
    });
    expect(res.status).toBe(status);
    if (status === 415) {
      expect(JSON.parse(res.body).error.message).toMatch(/Content-Type: application\/json/);
      expect(res.headers.connection).toBe('close');
    }
  });

  it.each(['text/html', 'image/png', 'application/xml'])('Accept: %s gets 406', async (accept) => {
    const res = await postMcp(server.mcpUrl, toolsList, { ...auth(), accept });
    expect(res.status).toBe(406);
    expect(res.json.error.message).toMatch(/Not Acceptable/);
  });
});

describe('malformed HTTP never reaches the app', () => {
  const bearerLine = () => `Authorization: Bearer ${bearer}\r\n`;
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  it.each([
    ['a bare CR inside a header value', () => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Name: jane\rX-Injected: 1\r\n${bearerLine()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
    ['a space inside a header name', () => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX Injected: 1\r\n${bearerLine()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
    ['a NUL inside a header value', () => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Name: a\u0000b\r\n${bearerLine()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
    ['Content-Length and Transfer-Encoding together (smuggling)', () => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n${bearerLine()}Content-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
    ['two different Content-Lengths', () => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n${bearerLine()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: 3\r\n\r\n${body}`],
    ['a folded header line', () => `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: 1\r\n X-Injected: 1\r\n${bearerLine()}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`],
  ])('%s: 400 from Node, the connection closed, and the app never sees it', async (_label, request) => {
    const before = server.events('http.request').length;
    const res = await rawSocket(server.port, request());
    expect(statusOf(res.data)).toBe(400);
    expect(res.closedByServer).toBe(true);
    expect(server.events('http.request')).toHaveLength(before);
    expect(portkey.requests).toHaveLength(0);
  });

  it.each([
    ['a bad chunk size', 'zz\r\n{}\r\n0\r\n\r\n'],
    ['a chunk longer than announced', '2\r\n{}}}}\r\n0\r\n\r\n'],
  ])('%s after complete headers: 400, and logged as a client error, not a 5xx', async (_label, chunks) => {
    const before = server.logs.length;
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n${bearerLine()}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const res = await rawSocket(server.port, head + chunks);
    expect(statusOf(res.data)).toBe(400);
    expect(res.closedByServer).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    const lines = server.logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.event === 'http.unhandled_error')).toEqual([]);
    expect(lines.filter((l) => l.event === 'http.request' && Number(l.status) >= 500)).toEqual([]);
    expect(portkey.requests).toHaveLength(0);
  });

  it('an x-request-id with hostile characters is not echoed or logged: a fresh id is used', async () => {
    const hostile = 'abc"><script>alert(1)</script>';
    const res = await recordingFetch(server.mcpUrl, { method: 'POST', headers: { 'x-request-id': hostile, ...auth(), 'content-type': 'application/json', accept: 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(server.logs.some((l) => l.includes('<script>'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// invite_user arguments: bounded by the schema
// ---------------------------------------------------------------------------------------------

const base = { email: 'jane@example.com', role: 'member', workspaces: [] as unknown[] };
const withKey = (details: Record<string, unknown>) => ({ ...base, workspace_api_key_details: { scopes: ['logs.view'], ...details } });
const manyEntries = (n: number, key = (i: number) => `k${i}`, value = (i: number) => `v${i}`) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [key(i), value(i)]));
const workspaces = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `ws-${i}`, role: 'member' }));
const scopes = (n: number) => Array.from({ length: n }, (_, i) => `scope.${i}`);

describe('invite_user arguments out of bounds: isError naming the field, nothing sent upstream', () => {
  it.each([
    ['an email of 255 characters', { ...base, email: `${'a'.repeat(243)}@example.com` }, /email/],
    ['an email of 900 000 characters', { ...base, email: `${'a'.repeat(900_000)}@example.com` }, /email/],
    ['an email with CR/LF and a Bcc header', { ...base, email: 'jane@example.com\r\nBcc: all@evil.example' }, /email/],
    ['an email with a bare LF', { ...base, email: 'jane@example.com\nX-Evil: 1' }, /email/],
    ['an email with a NUL', { ...base, email: 'jane\u0000@example.com' }, /email/],
    ['a first name with CR/LF', { ...base, first_name: 'Jane\r\nX-Evil: 1' }, /control characters or line breaks at first_name/],
    ['a last name with a bare LF', { ...base, last_name: 'Doe\nBcc: x@evil.example' }, /control characters or line breaks at last_name/],
    ['a first name with a NUL', { ...base, first_name: 'Ja\u0000ne' }, /control characters or line breaks at first_name/],
    ['a first name with DEL', { ...base, first_name: 'Jane\u007f' }, /control characters or line breaks at first_name/],
    ['a first name with a C1 next-line (U+0085)', { ...base, first_name: 'Jane\u0085X' }, /control characters or line breaks at first_name/],
    ['a last name with a line separator (U+2028)', { ...base, last_name: 'Doe\u2028Bcc' }, /control characters or line breaks at last_name/],
    ['a first name of 101 characters', { ...base, first_name: 'J'.repeat(101) }, /first_name/],
    ['a key name with CR/LF', withKey({ name: 'key\r\nX-Evil: 1' }), /control characters or line breaks at workspace_api_key_details\.name/],
    ['a workspace id with CR/LF', { ...base, workspaces: [{ id: 'ws-eng\r\nX-Evil: 1', role: 'member' }] }, /workspaces\[0\]\.id|workspaces\.0\.id/],
    ['a workspace id with a space', { ...base, workspaces: [{ id: 'ws eng', role: 'member' }] }, /workspace id or slug/],
    ['a workspace id of 129 characters', { ...base, workspaces: [{ id: 'w'.repeat(129), role: 'member' }] }, /workspaces/],
    ['a workspace with an extra field', { ...base, workspaces: [{ id: 'ws-eng', role: 'member', admin: true }] }, /Unrecognized key: "admin"/],
    ['a scope with CR/LF', withKey({ scopes: ['logs.view\r\nX-Evil: 1'] }), /Portkey scope name/],
    ['two scopes in one string', withKey({ scopes: ['logs.view completions.write'] }), /Portkey scope name/],
    ['a scope of 129 characters', withKey({ scopes: ['s'.repeat(129)] }), /scopes/],
    [`${MAX_WORKSPACES + 1} workspaces`, { ...base, workspaces: workspaces(MAX_WORKSPACES + 1) }, /workspaces/],
    ['20 000 workspaces', { ...base, workspaces: workspaces(20_000) }, /workspaces/],
    [`${MAX_SCOPES + 1} scopes`, withKey({ scopes: scopes(MAX_SCOPES + 1) }), /scopes/],
    ['50 000 scopes', withKey({ scopes: scopes(50_000) }), /scopes/],
    [`${MAX_METADATA_ENTRIES + 1} metadata entries`, withKey({ metadata: manyEntries(MAX_METADATA_ENTRIES + 1) }), /at most 32 entries/],
    ['10 000 metadata entries', withKey({ metadata: manyEntries(10_000) }), /at most 32 entries/],
    ['a metadata key of 65 characters', withKey({ metadata: { ['k'.repeat(65)]: 'v' } }), /metadata/],
    ['an empty metadata key', withKey({ metadata: { '': 'v' } }), /metadata/],
    ['a metadata value of 513 characters', withKey({ metadata: { team: 'v'.repeat(513) } }), /metadata\.team/],
    ['a metadata value of 600 000 characters', withKey({ metadata: { team: 'v'.repeat(600_000) } }), /metadata\.team/],
    ['a numeric metadata value', withKey({ metadata: { team: 7 } }), /expected string, received number at workspace_api_key_details\.metadata\.team/],
    ['metadata "constructor" holding a prototype', withKey({ metadata: { constructor: { prototype: { polluted: 'yes' } } } }), /metadata\.constructor/],
    ['metadata as an array', withKey({ metadata: ['a', 'b'] }), /metadata/],
    ['an org role "owner"', { ...base, role: 'owner' }, /role/],
    ['an org role "ADMIN"', { ...base, role: 'ADMIN' }, /role/],
    ['an unknown top-level field', { ...base, portkey_api_key: 'mine' }, /Unrecognized key: "portkey_api_key"/],
    ['an expiry that is not a date-time', withKey({ expiry: '2027-01-01\r\nX-Evil: 1' }), /expiry/],
  ])('%s', async (_label, args, message) => {
    const res = await postMcp(server.mcpUrl, inviteCall(args), auth());
    expect(res.status).toBe(200);
    expect(res.json.result.isError).toBe(true);
    const text = resultText(res.json.result);
    expect(text).toMatch(message);
    // Bounded: a huge argument is never echoed back whole.
    expect(text.length).toBeLessThan(4000);
    expect(portkey.requests).toHaveLength(0);
    const audit = server.events('audit.invite_user');
    expect(audit.some((l) => JSON.stringify(l).length > 10_000)).toBe(false);
  });
});

/** The headers of the upstream POST: the client's own and fetch's, never one built from arguments. */
const FETCH_HEADERS = ['accept', 'accept-encoding', 'accept-language', 'connection', 'content-length', 'content-type', 'host', 'sec-fetch-mode', 'user-agent', 'x-portkey-api-key'];

describe('invite_user arguments at the bounds are accepted and sent as given', () => {
  it.each([
    ['an email of 254 characters', { ...base, email: `${'a'.repeat(242)}@example.com` }],
    ['names of 100 characters', { ...base, first_name: 'J'.repeat(100), last_name: 'D'.repeat(100) }],
    [`${MAX_WORKSPACES} workspaces`, { ...base, workspaces: workspaces(MAX_WORKSPACES) }],
    ['a workspace id of 128 characters', { ...base, workspaces: [{ id: 'w'.repeat(128), role: 'manager' }] }],
    [`${MAX_SCOPES} scopes`, withKey({ scopes: scopes(MAX_SCOPES) })],
    [
      `${MAX_METADATA_ENTRIES} metadata entries with 64-character keys and 512-character values`,
      withKey({ metadata: manyEntries(MAX_METADATA_ENTRIES, (i) => `${String(i).padStart(2, '0')}${'k'.repeat(62)}`, () => 'v'.repeat(512)) }),
    ],
    ['metadata values with CR/LF and quotes: plain JSON data', withKey({ metadata: { note: 'line1\r\nX-Evil: 1\r\n"quoted"' } })],
    ['unicode names', { ...base, first_name: 'Zoë 李', last_name: "O'Brien-Łukasz 🚀" }],
  ])('%s', async (_label, args) => {
    const res = await postMcp(server.mcpUrl, inviteCall(args), auth());
    expect(res.json.result.isError, resultText(res.json.result)).toBeFalsy();
    expect(portkey.requests).toHaveLength(1);
    const sent = portkey.requests[0]!;
    expect(validateCreateInvite(sent.body)).toBeUndefined();
    expect(sent.body).toEqual(args);
    // Nothing the caller sent ends up in a header.
    for (const name of Object.keys(sent.headers)) expect(FETCH_HEADERS).toContain(name);
    expect(sent.headers['x-portkey-api-key']).toBe(SECRETS.portkeyKey);
    for (const value of Object.values(sent.headers)) expect(value).not.toMatch(/[\r\n]|X-Evil/);
  });
});

// ---------------------------------------------------------------------------------------------
// Prototype pollution
// ---------------------------------------------------------------------------------------------

describe('prototype pollution keys', () => {
  /** A raw body, so that "__proto__" is an own key as JSON.parse makes it, not a prototype. */
  const rawInvite = (email: string, extra: string) =>
    `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"invite_user","arguments":{"email":"${email}","role":"member","workspaces":[]${extra}}}}`;

  it.each([
    ['metadata "__proto__" holding an object', ',"workspace_api_key_details":{"scopes":["logs.view"],"metadata":{"__proto__":{"polluted":"yes"},"team":"eng"}}', { team: 'eng' }],
    ['metadata "__proto__" holding a string', ',"workspace_api_key_details":{"scopes":["logs.view"],"metadata":{"__proto__":"polluted","team":"eng"}}', { team: 'eng' }],
    ['metadata "constructor" and "prototype" as strings', ',"workspace_api_key_details":{"scopes":["logs.view"],"metadata":{"constructor":"c","prototype":"p","toString":"t"}}', { constructor: 'c', prototype: 'p', toString: 't' }],
    ['a top-level "__proto__" trying to become admin', ',"__proto__":{"role":"admin","polluted":"yes"}', undefined],
  ])('%s: Object.prototype stays clean, and only plain data goes upstream', async (_label, extra, metadata) => {
    const res = await postMcp(server.mcpUrl, rawInvite('proto@example.com', extra), auth());
    expect(res.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(Object.prototype).not.toHaveProperty('role');
    expect(res.json.result.isError, resultText(res.json.result)).toBeFalsy();
    expect(res.json.result.structuredContent).toMatchObject({ email: 'proto@example.com', role: 'member' });

    expect(portkey.requests).toHaveLength(1);
    const sent = portkey.requests[0]!;
    expect(validateCreateInvite(sent.body)).toBeUndefined();
    expect(sent.rawBody).not.toContain('polluted');
    expect(sent.rawBody).not.toContain('__proto__');
    const body = sent.body as { role: string; workspace_api_key_details?: { metadata?: Record<string, string> } };
    expect(body.role).toBe('member');
    if (metadata) {
      const sentMetadata = body.workspace_api_key_details!.metadata!;
      expect(Object.getPrototypeOf(sentMetadata)).toBe(Object.prototype);
      expect(Object.fromEntries(Object.entries(sentMetadata))).toEqual(metadata);
    } else {
      expect(body.workspace_api_key_details).toBeUndefined();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Size and time limits on the connection
// ---------------------------------------------------------------------------------------------

describe('a 10 MiB body', () => {
  it('announced by Content-Length: 413 before it is read, and the connection is closed', async () => {
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${bearer}\r\nContent-Type: application/json\r\nContent-Length: ${10 * MiB}\r\n\r\n`;
    // Only the headers and the first 64 KiB are sent: the answer must not wait for the rest.
    const res = await rawSocket(server.port, Buffer.concat([Buffer.from(head), Buffer.alloc(64 * 1024, 'x')]));
    expect(statusOf(res.data)).toBe(413);
    expect(res.data).toMatch(/\r\nconnection: close\r\n/i);
    expect(res.data).toMatch(/limit is 1048576 bytes/);
    expect(res.closedByServer).toBe(true);
    expect(res.ms).toBeLessThan(3000);
    expect(portkey.requests).toHaveLength(0);
  });

  it('sent chunked: 413 once it passes 1 MiB, and the connection is closed', async () => {
    const head = `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${bearer}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    // Up to 160 chunks of 64 KiB (10 MiB), each written once the socket drains, until the server answers.
    const res = await new Promise<{ data: string; closedByServer: boolean; bytesSent: number }>((resolve, reject) => {
      let data = '';
      let bytesSent = 0;
      let answered = false;
      const sock = net.connect(server.port, '127.0.0.1', async () => {
        sock.write(head);
        for (let i = 0; i < 160 && !answered && !sock.destroyed; i++) {
          bytesSent += framed.length;
          if (!sock.write(framed)) await new Promise((r) => sock.once('drain', r).once('close', r));
        }
      });
      let finished = false;
      const done = (closedByServer: boolean) => {
        if (finished) return;
        finished = true;
        observed.responses.push(data);
        sock.destroy();
        resolve({ data, closedByServer, bytesSent });
      };
      sock.on('data', (d) => {
        data += d.toString('latin1');
        answered = true;
      });
      sock.on('end', () => done(true));
      sock.on('error', (err: NodeJS.ErrnoException) => (data ? done(true) : reject(err)));
      setTimeout(() => done(false), 5000).unref();
    });
    expect(statusOf(res.data)).toBe(413);
    expect(res.data).toMatch(/\r\nconnection: close\r\n/i);
    expect(res.closedByServer).toBe(true);
    // Answered long before the 10 MiB were sent.
    expect(res.bytesSent).toBeLessThan(5 * MiB);
    expect(portkey.requests).toHaveLength(0);
  });
});

describe('slow clients (slow-loris) on Node', () => {
  const TIMEOUTS: Partial<NodeServerTimeouts> = { headersTimeout: 1000, requestTimeout: 1000, connectionsCheckingInterval: 200 };
  let slow: RunningServer;
  const logs: string[] = [];

  beforeAll(async () => {
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: '0',
      PUBLIC_URL,
      AUTH_JWT_SECRET: SECRETS.jwtSecret,
      PORTKEY_API_KEY: SECRETS.portkeyKey,
      PORTKEY_BASE_URL: portkey.url,
      RATE_LIMIT_TENANT_PER_MINUTE: '0',
      RATE_LIMIT_CALLER_PER_MINUTE: '0',
    });
    const logger = createLogger((line) => {
      logs.push(line);
      observed.logLines.push(line);
    });
    slow = await startNodeServer(config, { logger }, TIMEOUTS);
  });
  afterAll(() => slow?.close(100));

  const headOf = (framing: string) =>
    `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${bearer}\r\nContent-Type: application/json\r\nAccept: application/json\r\n${framing}\r\n`;

  it.each([
    ['a body trickled after complete headers (Content-Length)', () => `${headOf('Content-Length: 5000\r\n')}{"jsonrpc":`, ' '],
    ['a chunked body trickled after complete headers', () => `${headOf('Transfer-Encoding: chunked\r\n')}1\r\n{\r\n`, '1\r\n \r\n'],
    ['headers trickled one line at a time', () => 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Pad: 1\r\n'],
  ])('%s is cut off with 408 by requestTimeout, while others are served', async (_label, head, drip) => {
    const before = logs.length;
    const cut = rawSocket(slow.port, head(), { drip, everyMs: 100, giveUpMs: 6000 });
    // Meanwhile a well-behaved caller is served.
    await new Promise((r) => setTimeout(r, 300));
    const ok = await rawHttp({
      port: slow.port,
      headers: { ...auth(), 'content-type': 'application/json', accept: 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    });
    expect(ok.status).toBe(200);
    const res = await cut;
    expect(statusOf(res.data)).toBe(408);
    expect(res.closedByServer).toBe(true);
    expect(res.ms).toBeGreaterThan(900);
    expect(res.ms).toBeLessThan(2500);
    // Not a server fault: nothing logged as a 5xx or an unhandled error.
    await new Promise((r) => setTimeout(r, 50));
    const lines = logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.event === 'http.unhandled_error')).toEqual([]);
    expect(lines.filter((l) => l.event === 'http.request' && Number(l.status) >= 500)).toEqual([]);
    expect((await rawHttp({ port: slow.port, method: 'GET', path: '/healthz' })).status).toBe(200);
    expect(portkey.requests).toHaveLength(0);
  });

  it('a client that goes away mid-body is logged as a client error, not a 500', async () => {
    const before = logs.length;
    await rawSocket(slow.port, `${headOf('Content-Length: 5000\r\n')}{"jsonrpc":`, { giveUpMs: 200 });
    await new Promise((r) => setTimeout(r, 100));
    const lines = logs.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.filter((l) => l.event === 'http.unhandled_error')).toEqual([]);
    expect(lines.find((l) => l.event === 'http.request')).toMatchObject({ method: 'POST', path: '/mcp', status: 400 });
  });

  it('the default timeouts bound headers, the whole request, idle keep-alive, and are checked every second', async () => {
    const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', PUBLIC_URL, AUTH_JWT_SECRET: SECRETS.jwtSecret });
    const running = await startNodeServer(config, { logger: createLogger(() => {}) });
    const s = running.server as http.Server;
    try {
      expect({
        headersTimeout: s.headersTimeout,
        requestTimeout: s.requestTimeout,
        keepAliveTimeout: s.keepAliveTimeout,
        connectionsCheckingInterval: (s as http.Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval,
      }).toEqual({ headersTimeout: 15_000, requestTimeout: 30_000, keepAliveTimeout: 65_000, connectionsCheckingInterval: 1_000 });
    } finally {
      await running.close(100);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Many connections at once
// ---------------------------------------------------------------------------------------------

describe('200 concurrent connections', () => {
  it('are all answered, none with a 5xx, and only the valid invites reach Portkey, once each', async () => {
    portkey.setLatency(20);
    const json = { ...auth(), 'content-type': 'application/json', accept: 'application/json' };
    const kinds = [
      (i: number) => ({ kind: 'invite', headers: json, body: JSON.stringify(inviteCall({ email: `c${i}@example.com`, role: 'member', workspaces: [] }, i)) }),
      (i: number) => ({ kind: 'list', headers: json, body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/list' }) }),
      (i: number) => ({ kind: 'malformed', headers: json, body: `{"jsonrpc":"2.0","id":${i},` }),
      (i: number) => ({ kind: 'batch', headers: json, body: JSON.stringify([{ jsonrpc: '2.0', id: i, method: 'ping' }]) }),
      (i: number) => ({ kind: 'no-token', headers: { 'content-type': 'application/json' }, body: '{}' }),
      (i: number) => ({ kind: 'bad-args', headers: json, body: JSON.stringify(inviteCall({ email: `c${i}@example.com\r\nBcc: x@evil.example`, role: 'member', workspaces: [] }, i)) }),
      (i: number) => ({ kind: 'text-plain', headers: { ...json, 'content-type': 'text/plain' }, body: '{}' }),
      (i: number) => ({ kind: 'invite', headers: json, body: JSON.stringify(inviteCall({ email: `d${i}@example.com`, role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] }, i)) }),
    ];
    const planned = Array.from({ length: 200 }, (_, i) => kinds[i % kinds.length]!(i));
    const answers = await Promise.all(planned.map((p) => rawHttp({ headers: p.headers, body: p.body })));

    const expected: Record<string, number> = { invite: 200, list: 200, malformed: 400, batch: 400, 'no-token': 401, 'bad-args': 200, 'text-plain': 415 };
    answers.forEach((a, i) => {
      expect(a.status, `${planned[i]!.kind}: ${a.body.slice(0, 200)}`).toBe(expected[planned[i]!.kind]);
      if (planned[i]!.kind === 'invite') expect(JSON.parse(a.body).result.structuredContent.invite_id).toEqual(expect.any(String));
      if (planned[i]!.kind === 'bad-args') expect(JSON.parse(a.body).result.isError).toBe(true);
    });
    const invites = planned.filter((p) => p.kind === 'invite').length;
    expect(portkey.requests).toHaveLength(invites);
    expect(new Set(portkey.requests.map((r) => (r.body as { email: string }).email)).size).toBe(invites);
    for (const r of portkey.requests) expect(validateCreateInvite(r.body)).toBeUndefined();
    expect(server.events('http.request').filter((l) => Number(l.status) >= 500)).toEqual([]);
    expect((await recordingFetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe('secrets', () => {
  it('raw answers are recorded for the leak check, and no recorded header carries a key, the signing secret or a token', async () => {
    const viaHttp = await rawHttp({ headers: { ...auth(), 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":"raw-http-recorded","method":"ping"}' });
    expect(viaHttp.status).toBe(200);
    const viaSocket = await rawSocket(server.port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: raw-socket-recorded\r\nConnection: close\r\n\r\n`);
    expect(statusOf(viaSocket.data)).toBe(200);
    // Both answers, headers included, are in what setup.ts scans after the file.
    expect(observed.responses.some((r) => r.startsWith('200 {') && r.includes('"content-type":"application/json"') && r.includes('"id":"raw-http-recorded"'))).toBe(true);
    expect(observed.responses.some((r) => /x-request-id: raw-socket-recorded/i.test(r))).toBe(true);
    for (const secret of observed.secrets) expect(observed.responses.filter((r) => r.includes(secret))).toEqual([]);
  });
});
