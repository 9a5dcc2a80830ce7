import { errorCode } from '../src/portkey/transport.js';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request as undiciRequest } from 'undici';
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { startPortkeyDouble, validateCreateInvite, type PortkeyDouble } from './support/portkey-double.js';

const ADMIN_KEY = 'pk-admin-test-key';
const WORKSPACE_KEY = 'pk-workspace-test-key';

const validBody = {
  email: 'ada@example.com',
  role: 'member',
  workspaces: [{ id: 'ws-slug', role: 'admin' }],
  workspace_api_key_details: { scopes: ['logs.list', 'logs.view'], name: 'ada key', metadata: { team: 'core' } },
  first_name: 'Ada',
  last_name: 'Lovelace',
};

let double: PortkeyDouble;



function invite(body: unknown, init: { key?: string | null; contentType?: string; raw?: string; signal?: AbortSignal } = {}) {
  const headers: Record<string, string> = { 'content-type': init.contentType ?? 'application/json', accept: 'application/json' };
  const key = init.key === undefined ? ADMIN_KEY : init.key;
  if (key !== null) headers['x-portkey-api-key'] = key;
  return fetch(`${double.url}/admin/users/invites`, {
    method: 'POST',
    headers,
    body: init.raw ?? JSON.stringify(body),
    signal: init.signal ?? null,
  });
}

beforeAll(async () => {
  double = await startPortkeyDouble({ adminKeys: [ADMIN_KEY], workspaceKeys: [WORKSPACE_KEY] });
});

afterAll(async () => {
  await double.close();
});

beforeEach(() => {
  double.reset();
});

describe('Portkey double: normal behaviour', () => {
  it('serves on loopback under /v1', () => {
    expect(double.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });

  it('creates an invite and records exactly what was sent', async () => {
    const res = await invite(validBody);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const json = (await res.json()) as { id: string; invite_link: string };
    expect(json.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(json.invite_link).toBe(`https://app.portkey.ai/invite/${json.id}`);

    expect(double.requests).toHaveLength(1);
    const [req] = double.requests;
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/v1/admin/users/invites');
    expect(req!.headers['x-portkey-api-key']).toBe(ADMIN_KEY);
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.body).toEqual(validBody);
    expect(req!.rawBody).toBe(JSON.stringify(validBody));
    expect(double.invites).toEqual([
      {
        id: json.id,
        email: validBody.email,
        body: validBody,
        role: 'member',
        workspaces: [{ workspace_id: 'ws-slug', role: 'admin' }],
        createdAt: expect.any(Date),
        status: 'pending',
      },
    ]);
  });

  it('answers 401 AB05 for a missing or unknown key', async () => {
    for (const key of [null, 'wrong-key']) {
      const res = await invite(validBody, { key });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ success: false, data: { message: 'Unauthorised Request', errorCode: 'AB05' } });
    }
    expect(double.requests).toHaveLength(2);
    expect(double.invites).toHaveLength(0);
  });

  it('answers 403 AB03 for a workspace key', async () => {
    const res = await invite(validBody, { key: WORKSPACE_KEY });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      success: false,
      data: { message: 'You do not have enough permissions to execute this request', errorCode: 'AB03' },
    });
    expect(double.invites).toHaveLength(0);
  });

  it('answers 400 AB01 naming the field for a bad workspace role', async () => {
    const res = await invite({ ...validBody, workspaces: [{ id: 'ws', role: 'owner' }] });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      success: false,
      data: { message: 'workspaces[0].role must be one of admin, member, manager', errorCode: 'AB01' },
    });
    expect(double.invites).toHaveLength(0);
  });

  it('answers 400 AB01 naming the field for a null', async () => {
    const res = await invite({ ...validBody, first_name: null });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { data: { message: string; errorCode: string } };
    expect(json.data).toEqual({ message: 'first_name must not be null', errorCode: 'AB01' });
  });

  it('answers 400 AB01 for a non-JSON content type or body', async () => {
    const wrongType = await invite(validBody, { contentType: 'text/plain' });
    expect(wrongType.status).toBe(400);
    expect(((await wrongType.json()) as { data: { errorCode: string } }).data.errorCode).toBe('AB01');
    const notJson = await invite(undefined, { raw: '{nope' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { data: { errorCode: string } }).data.errorCode).toBe('AB01');
    expect(double.requests.map((r) => r.rawBody)).toEqual([JSON.stringify(validBody), '{nope']);
  });

  it('answers 409 AB07 for an email invited before, case-insensitively', async () => {
    expect((await invite(validBody)).status).toBe(200);
    const again = await invite({ ...validBody, email: 'ADA@Example.com' });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ success: false, data: { message: 'User already invited', errorCode: 'AB07' } });
    expect(double.invites).toHaveLength(1);
    double.reset();
    expect((await invite(validBody)).status).toBe(200);
  });

  it('lists invites, filtered by email and status', async () => {
    await invite(validBody);
    await invite({ ...validBody, email: 'bob@example.com' });
    const headers = { 'x-portkey-api-key': ADMIN_KEY };
    const res = await fetch(`${double.url}/admin/users/invites?email=ADA%40example.com&status=pending`, { headers });
    expect(res.status).toBe(200);
    const list = (await res.json()) as { object: string; total: number; data: Array<Record<string, unknown>> };
    expect(list.object).toBe('list');
    expect(list.total).toBe(1);
    expect(list.data[0]).toMatchObject({ object: 'invite', email: 'ada@example.com', role: 'member', status: 'pending' });
    expect(list.data[0]!.created_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    // Listed as Portkey reports workspaces elsewhere: by id, not the slug the invite named.
    expect(list.data[0]!.workspaces).toEqual([{ workspace_id: double.workspaceId('ws-slug'), role: 'admin' }]);
    const workspace = await fetch(`${double.url}/admin/workspaces/ws-slug`, { headers });
    expect(await workspace.json()).toEqual({ object: 'workspace', id: double.workspaceId('ws-slug'), slug: 'ws-slug', name: 'ws-slug' });
    const accepted = (await (await fetch(`${double.url}/admin/users/invites?status=accepted`, { headers })).json()) as { total: number };
    expect(accepted.total).toBe(0);
    expect((await fetch(`${double.url}/admin/users/invites`)).status).toBe(401);
  });

  it('seeded invites are listed with their own status and creation time, and only a pending one refuses a new invite', async () => {
    const headers = { 'x-portkey-api-key': ADMIN_KEY };
    const old = double.seedInvite({ email: 'ada@example.com', status: 'accepted', createdAt: new Date('2026-01-02T03:04:05Z') });
    const list = async (query: string) =>
      ((await (await fetch(`${double.url}/admin/users/invites?${query}`, { headers })).json()) as { data: Array<Record<string, unknown>> }).data;
    expect(await list('email=ada%40example.com&status=pending')).toEqual([]);
    expect(await list('email=ada%40example.com&status=accepted')).toEqual([
      expect.objectContaining({ id: old.id, status: 'accepted', created_at: '2026-01-02 03:04:05' }),
    ]);
    expect((await invite(validBody)).status).toBe(200);
    expect(await list('email=ada%40example.com&status=pending')).toHaveLength(1);
    expect((await invite(validBody)).status).toBe(409);
  });

  it('answers 404 AB08 for other routes', async () => {
    const res = await fetch(`${double.url}/admin/users`, { headers: { 'x-portkey-api-key': ADMIN_KEY } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ success: false, data: { message: 'Not found', errorCode: 'AB08' } });
  });
});

describe('Portkey double: faults', () => {
  it('status: sends the chosen status, body and headers, once', async () => {
    double.failNext({ kind: 'status', status: 503, body: { error: { message: 'down' } }, headers: { 'x-extra': '1' } });
    const res = await invite(validBody);
    expect(res.status).toBe(503);
    expect(res.headers.get('x-extra')).toBe('1');
    expect(await res.json()).toEqual({ error: { message: 'down' } });
    expect((await invite(validBody)).status).toBe(200); // consumed
    expect(double.requests).toHaveLength(2);
  });

  it('status: rawBody is sent as-is, and a bare status gets the Admin API envelope', async () => {
    double.failNext({ kind: 'status', status: 502, rawBody: 'bad gateway', contentType: 'text/plain' }, { kind: 'status', status: 500 });
    const raw = await invite(validBody);
    expect(raw.status).toBe(502);
    expect(raw.headers.get('content-type')).toBe('text/plain');
    expect(await raw.text()).toBe('bad gateway');
    const bare = await invite(validBody);
    expect(await bare.json()).toEqual({ success: false, data: { message: 'Internal Server Error', errorCode: 'AB04' } });
    expect(double.invites).toHaveLength(0);
  });

  it('delay: longer than the client timeout makes fetch time out', async () => {
    double.failNext({ kind: 'delay', ms: 400 });
    const started = Date.now();
    await expect(invite(validBody, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeLessThan(350);
    expect(double.requests).toHaveLength(1);
  });

  it('delay: shorter than the timeout answers normally after the delay', async () => {
    double.failNext({ kind: 'delay', ms: 60 });
    const started = Date.now();
    const res = await invite(validBody);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    expect(double.invites).toHaveLength(1);
  });

  it('drop: fetch rejects without a response', async () => {
    double.failNext({ kind: 'drop' });
    const err = await invite(validBody).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    expect(errorCode(err)).toBe('UND_ERR_SOCKET');
    expect(double.requests).toHaveLength(1);
    expect(double.invites).toHaveLength(0);
  });

  it('reset-mid-body: headers arrive, then reading the body fails', async () => {
    double.failNext({ kind: 'reset-mid-body' });
    const res = await invite(validBody);
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
  });

  it('non-json: HTML body with the given status', async () => {
    double.failNext({ kind: 'non-json' }, { kind: 'non-json', status: 502 });
    const ok = await invite(validBody);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await ok.text()).toMatch(/^<html>.*<\/html>$/);
    const bad = await invite(validBody);
    expect(bad.status).toBe(502);
    await expect(bad.json()).rejects.toThrow(SyntaxError);
  });

  it('truncated-json: a complete message whose JSON is broken', async () => {
    double.failNext({ kind: 'truncated-json' });
    const res = await invite(validBody);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    await expect(res.json()).rejects.toThrow(SyntaxError);
  });

  it('success-body: 200 with exactly the given body', async () => {
    double.failNext({ kind: 'success-body', body: { id: 'abc' } });
    const res = await invite(validBody);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'abc' });
  });

  it('rate-limit: 429 AB06 with Retry-After when given', async () => {
    double.failNext({ kind: 'rate-limit', retryAfter: '7' }, { kind: 'rate-limit' });
    const first = await invite(validBody);
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('7');
    expect(await first.json()).toEqual({ success: false, data: { message: 'Rate limit exceeded', errorCode: 'AB06' } });
    const second = await invite(validBody);
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBeNull();
    await second.text();
  });

  it('encoded: a bomb is small on the wire, honest in Content-Length, and inflates to valid JSON of the given size', async () => {
    double.failNext({ kind: 'encoded', encoding: 'gzip', decodedBytes: 70 * 1024 * 1024 }, { kind: 'encoded', encoding: 'br', decodedBytes: 1024 * 1024 });
    for (const [encoding, decodedBytes, inflate] of [
      ['gzip', 70 * 1024 * 1024, gunzipSync],
      ['br', 1024 * 1024, brotliDecompressSync],
    ] as const) {
      // undici's request() decodes nothing: these are the bytes on the wire.
      const res = await undiciRequest(`${double.url}/admin/users/invites`, {
        method: 'POST',
        headers: { 'x-portkey-api-key': ADMIN_KEY, 'content-type': 'application/json' },
        body: JSON.stringify(validBody),
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-encoding']).toBe(encoding);
      const wire = Buffer.from(await res.body.arrayBuffer());
      expect(Number(res.headers['content-length'])).toBe(wire.length);
      expect(wire.length).toBeLessThan(decodedBytes / 100);
      const decoded = inflate(wire);
      expect(decoded.length).toBe(decodedBytes);
      expect(JSON.parse(decoded.toString('utf8'))).toEqual({ id: 'inv-padded', invite_link: 'https://app.portkey.ai/invite/inv-padded' });
    }
  });

  it('huge-body: streams the given number of bytes, chunked, as valid JSON', async () => {
    double.failNext({ kind: 'huge-body', bytes: 3 * 1024 * 1024 + 7 });
    const res = await invite(validBody);
    expect(res.headers.get('content-length')).toBeNull();
    const text = await res.text();
    expect(text.length).toBe(3 * 1024 * 1024 + 7);
    expect(JSON.parse(text)).toMatchObject({ id: 'inv-padded' });
  });

  it('hang: holds the request past the client, creates nothing, then drops the connection', async () => {
    double.failNext({ kind: 'hang', ms: 150 });
    await expect(invite(validBody, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
    await new Promise((r) => setTimeout(r, 250));
    expect(double.invites).toHaveLength(0);
    double.failNext({ kind: 'hang', ms: 20 });
    const err = await invite(validBody).then(() => undefined, (e: unknown) => e);
    expect(errorCode(err)).toBe('UND_ERR_SOCKET');
    expect(double.invites).toHaveLength(0);
  });

  it('create-then: creates the invite, then answers late, drops, or garbles the answer', async () => {
    double.failNext({ kind: 'create-then', then: { kind: 'delay', ms: 300 } });
    await expect(invite(validBody, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(double.invites).toHaveLength(1); // created before the client gave up

    double.failNext({ kind: 'create-then', then: { kind: 'drop' } });
    const err = await invite({ ...validBody, email: 'bob@example.com' }).then(() => undefined, (e: unknown) => e);
    expect(errorCode(err)).toBe('UND_ERR_SOCKET');
    expect(double.invites.map((i) => i.email)).toEqual(['ada@example.com', 'bob@example.com']);

    double.failNext({ kind: 'create-then', then: { kind: 'truncated-json' } });
    const garbled = await invite({ ...validBody, email: 'cy@example.com' });
    expect(garbled.status).toBe(200);
    expect(await garbled.text()).toBe('{"id": "abc');
    expect(double.invites).toHaveLength(3);

    // A refused POST creates nothing, whatever fault follows.
    double.failNext({ kind: 'create-then', then: { kind: 'drop' } });
    await invite(validBody).catch(() => undefined);
    expect(double.invites).toHaveLength(3);

    double.failNext({ kind: 'create-then', then: { kind: 'delay', ms: 10 } });
    const late = await invite({ ...validBody, email: 'dee@example.com' });
    expect(late.status).toBe(200);
    expect(((await late.json()) as { id: string }).id).toBe(double.invites[3]!.id);
  });

  it('failNextList: faults for the next GET list requests only, in order', async () => {
    const headers = { 'x-portkey-api-key': ADMIN_KEY };
    double.failNextList({ kind: 'status', status: 500 }, { kind: 'non-json' });
    expect((await invite(validBody)).status).toBe(200);
    const first = await fetch(`${double.url}/admin/users/invites?email=ada%40example.com`, { headers });
    expect(first.status).toBe(500);
    await first.text();
    const second = await fetch(`${double.url}/admin/users/invites?email=ada%40example.com`, { headers });
    expect(await second.text()).toMatch(/^<html>/);
    const third = (await (await fetch(`${double.url}/admin/users/invites?email=ada%40example.com`, { headers })).json()) as { total: number };
    expect(third.total).toBe(1);
    expect(() => double.failNextList({ kind: 'create-then', then: { kind: 'drop' } } as never)).toThrow(/POST invite requests only/);
  });

  it('faults are consumed only by POST invite requests, in order', async () => {
    double.failNext({ kind: 'rate-limit' });
    const list = await fetch(`${double.url}/admin/users/invites`, { headers: { 'x-portkey-api-key': ADMIN_KEY } });
    expect(list.status).toBe(200);
    await list.text();
    expect((await invite(validBody)).status).toBe(429);
  });

  it('setLatency delays every answer', async () => {
    double.setLatency(50);
    const started = Date.now();
    const res = await fetch(`${double.url}/nowhere`);
    expect(res.status).toBe(404);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});

describe('Portkey double: lifecycle', () => {
  it('stop refuses connections; restart listens on the same port and keeps state', async () => {
    expect((await invite(validBody)).status).toBe(200);
    const url = double.url;
    await double.stop();
    const refused = await invite(validBody).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(errorCode(refused)).toBe('ECONNREFUSED'); // not a stale keep-alive socket

    await double.restart();
    expect(double.url).toBe(url);
    const again = await invite(validBody);
    expect(again.status).toBe(409); // the repeated-email memory survived
    expect(double.requests).toHaveLength(2); // the refused attempt never arrived
    expect(double.invites).toHaveLength(1);
  });

  it('close does not hang on a pending delayed answer or keep-alive sockets', async () => {
    const other = await startPortkeyDouble({ adminKeys: [ADMIN_KEY], basePath: '' });
    expect(other.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    other.failNext({ kind: 'delay', ms: 60_000 });
    const pending = fetch(`${other.url}/admin/users/invites`, {
      method: 'POST',
      headers: { 'x-portkey-api-key': ADMIN_KEY, 'content-type': 'application/json' },
      body: JSON.stringify(validBody),
    }).then(
      () => 'answered',
      (err: unknown) => err,
    );
    while (other.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const started = Date.now();
    await other.close();
    expect(await pending).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(500);
    expect(other.invites).toHaveLength(0);
  });
});

describe('validateCreateInvite', () => {
  it('accepts the documented examples and the extra fields', () => {
    expect(validateCreateInvite({ email: 'test@john.doe', role: 'admin', workspaces: [{ id: 'ws-slug', role: 'member' }] })).toBeUndefined();
    expect(validateCreateInvite(validBody)).toBeUndefined();
  });

  it('names the first problem', () => {
    const cases: Array<[unknown, string]> = [
      [[], 'body must be a JSON object'],
      [{ ...validBody, email: undefined }, 'email is required'],
      [{ ...validBody, email: 'not-an-email' }, 'email must be a valid email address'],
      [{ ...validBody, role: 'owner' }, 'role must be one of admin, member'],
      [{ ...validBody, workspaces: 'ws' }, 'workspaces must be an array'],
      [{ ...validBody, workspaces: [{ id: '', role: 'admin' }] }, 'workspaces[0].id must not be empty'],
      [{ ...validBody, workspaces: [{ id: 'a', role: 'admin' }, { id: 'b', role: null }] }, 'workspaces[1].role must not be null'],
      [{ ...validBody, nickname: 'x' }, 'nickname is not an allowed field (allowed: email, role, workspaces, workspace_api_key_details, first_name, last_name)'],
      [{ ...validBody, workspace_api_key_details: {} }, 'workspace_api_key_details.scopes is required'],
      [{ ...validBody, workspace_api_key_details: { scopes: ['a', 1] } }, 'workspace_api_key_details.scopes[1] must be a string'],
      [{ ...validBody, workspace_api_key_details: { scopes: [], metadata: { team: 3 } } }, 'workspace_api_key_details.metadata.team must be a string'],
      [{ ...validBody, last_name: 5 }, 'last_name must be a string'],
    ];
    for (const [body, message] of cases) {
      // JSON round trip: undefined fields disappear, as on the wire
      expect(validateCreateInvite(JSON.parse(JSON.stringify(body)))).toBe(message);
    }
  });
});
