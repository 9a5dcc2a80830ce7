/**
 * Bearer token verification, end to end through the real Node server on loopback: every key
 * source (AUTH_JWT_SECRET, AUTH_PUBLIC_KEY, AUTH_JWKS_URL), every claim check, and the exact
 * RFC 6750 / RFC 9728 challenge each refusal carries.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  SignJWT,
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../src/server-config.js';
import {
  PUBLIC_URL,
  RESOURCE,
  SECRETS,
  connectClient,
  freePort,
  postMcp,
  rememberSecret,
  type TestServer,
  serverPool,
} from './support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const ISSUER = 'https://issuer.test';
const PRM_URL = `${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`;
const TOOLS_LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
const OTHER_SECRET = 'another-SECRET-for-signing-0123456789abcdefABCDEF';
rememberSecret(OTHER_SECRET);

const enc = new TextEncoder();
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const start = serverPool();

/** Signs exactly the given claims (nothing added), so tests can leave out exp, iat, etc. */
async function sign(payload: JWTPayload, key: CryptoKey | Uint8Array, header: JWTHeaderParameters = { alg: 'HS256', typ: 'JWT' }) {
  const t = await new SignJWT(payload).setProtectedHeader(header).sign(key);
  rememberSecret(t);
  return t;
}

const hs = (payload: JWTPayload, secret = SECRETS.jwtSecret) => sign(payload, enc.encode(secret));

/** A claim set the default server accepts; `undefined` values remove a claim. */
function claims(extra: Record<string, unknown> = {}): JWTPayload {
  const out: Record<string, unknown> = { sub: 'alice', aud: RESOURCE, scope: 'portkey.invite', iat: now(), exp: now() + 600, ...extra };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out as JWTPayload;
}

const list = (s: TestServer, authorization?: string) => postMcp(s.mcpUrl, TOOLS_LIST, authorization === undefined ? {} : { authorization });
const bearer = (s: TestServer, t: string) => list(s, `Bearer ${t}`);

/** The exact challenge: resource_metadata first when an authorization server is configured. */
function challenge(withMetadata: boolean, params: string): string {
  return `Bearer ${withMetadata ? `resource_metadata="${PRM_URL}", ` : ''}${params}`;
}
const invalidToken = (description: string) => `scope="portkey.invite", error="invalid_token", error_description="${description}"`;

async function expectInvalidToken(res: Awaited<ReturnType<typeof list>>, withMetadata: boolean, description: string) {
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe(challenge(withMetadata, invalidToken(description)));
  expect(res.json).toEqual({ error: 'invalid_token', error_description: `${description}.` });
}

/** 503, Retry-After and a JSON-RPC error that puts the fault on the server: the client keeps its token. */
function expectKeysUnavailable(res: Awaited<ReturnType<typeof list>>, retryAfterS: number) {
  expect(res.status, res.text).toBe(503);
  expect(res.headers.get('retry-after')).toBe(String(retryAfterS));
  expect(res.headers.get('www-authenticate')).toBeNull();
  expect(res.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
  expect(res.json.error.message).toMatch(/server-side fault, not a problem with your token.*retry in \d+ s/);
}

function expectAccepted(res: Awaited<ReturnType<typeof list>>) {
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get('www-authenticate')).toBeNull();
  const tools = (res.json as { result: { tools: { name: string }[] } }).result.tools;
  expect(tools.map((t) => t.name)).toContain('invite_user');
}

/** Unsigned token, crafted by hand: jose will not produce one. */
function unsignedToken(payload: JWTPayload): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const t = `${part({ alg: 'none', typ: 'JWT' })}.${part(payload)}.`;
  rememberSecret(t);
  return t;
}

describe.each([
  ['HS256 secret, no AUTH_ISSUER', {}, false],
  ['HS256 secret with AUTH_ISSUER', { AUTH_ISSUER: ISSUER }, true],
] as const)('token verification matrix (%s)', (_label, env, withMetadata) => {
  let server: TestServer;
  const base = (extra: Record<string, unknown> = {}) => claims(withMetadata ? { iss: ISSUER, ...extra } : extra);

  beforeAll(async () => {
    server = await start(env);
  });

  it('accepts a valid token', async () => {
    expectAccepted(await bearer(server, await hs(base())));
  });

  it('no token: 401 with a bare challenge and no error code (RFC 6750 §3.1)', async () => {
    const res = await list(server);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(challenge(withMetadata, 'scope="portkey.invite"'));
    expect(res.json.error).toBe('unauthorized');
  });

  it('Authorization: Basic gets a bare Bearer challenge, no error code (RFC 6750 §3.1: unsupported method)', async () => {
    const res = await list(server, `Basic ${Buffer.from('alice:pw').toString('base64')}`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(challenge(withMetadata, 'scope="portkey.invite"'));
  });

  it('a malformed Bearer header is an invalid_request', async () => {
    const res = await list(server, 'Bearer not a token');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      challenge(withMetadata, 'scope="portkey.invite", error="invalid_request", error_description="The Authorization header must be Bearer <token>"'),
    );
  });

  it.each([
    ['a bad signature (another 32+ byte secret)', () => hs(base(), OTHER_SECRET), 'The token signature is invalid'],
    ['alg: none', async () => unsignedToken(base()), 'The token signing algorithm is not allowed'],
    ['an HS512 token with a wrong secret', () => sign(base(), enc.encode(OTHER_SECRET), { alg: 'HS512' }), 'The token signature is invalid'],
    ['expired beyond the 60 s tolerance', () => hs(base({ exp: now() - 120 })), 'The token has expired'],
    ['nbf beyond the 60 s tolerance', () => hs(base({ nbf: now() + 120 })), 'The token is not yet valid'],
    ['a wrong audience', () => hs(base({ aud: 'http://other.test/mcp' })), 'The token audience does not include this resource'],
    ['an audience with a trailing slash', () => hs(base({ aud: `${RESOURCE}/` })), 'The token audience does not include this resource'],
    ['an audience array without the resource', () => hs(base({ aud: ['http://other.test/mcp', `${RESOURCE}/`] })), 'The token audience does not include this resource'],
    ['no audience', () => hs(base({ aud: undefined })), 'The token audience does not include this resource'],
    ['no exp', () => hs(base({ exp: undefined })), 'The token has no exp claim'],
    ['a non-numeric iat', () => hs(base({ iat: 'yesterday' })), 'The token iat claim is invalid'],
  ])('refuses %s: 401 invalid_token', async (_case, make, description) => {
    const res = await bearer(server, await make());
    await expectInvalidToken(res, withMetadata, description);
  });

  it.each([
    ['expired within the 60 s tolerance', () => base({ exp: now() - 30 })],
    ['nbf within the 60 s tolerance', () => base({ nbf: now() + 30 })],
    ['an audience array containing the resource', () => base({ aud: ['http://other.test/mcp', RESOURCE] })],
    ['scp as an array (and no scope)', () => base({ scope: undefined, scp: ['portkey.invite'] })],
    ['scope among several space-separated scopes', () => base({ scope: 'openid portkey.invite profile' })],
  ])('accepts %s', async (_case, payload) => {
    expectAccepted(await bearer(server, await hs(payload())));
  });

  it('a token without the required scope: 403 insufficient_scope naming the scope', async () => {
    const res = await bearer(server, await hs(base({ scope: 'openid profile' })));
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toBe(
      challenge(withMetadata, 'scope="portkey.invite", error="insufficient_scope", error_description="The token lacks the required scope(s): portkey.invite"'),
    );
    expect(res.json.error).toBe('insufficient_scope');
  });

  it('scp given as a space-separated string also counts', async () => {
    expectAccepted(await bearer(server, await hs(base({ scope: undefined, scp: 'portkey.invite' }))));
  });
});

describe('issuer check (AUTH_ISSUER with AUTH_JWT_SECRET)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start({ AUTH_ISSUER: ISSUER });
  });

  it.each([
    ['a wrong issuer', { iss: 'https://evil.test' }],
    ['an issuer with a trailing slash', { iss: `${ISSUER}/` }],
    ['no issuer', { iss: undefined }],
  ])('refuses %s', async (_case, extra) => {
    const res = await bearer(server, await hs(claims(extra)));
    await expectInvalidToken(res, true, 'The token issuer is not the expected issuer');
  });
});

describe('AUTH_AUDIENCE override', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start({ AUTH_AUDIENCE: 'api://portkey-invite' });
  });

  it('accepts a token for the configured audience', async () => {
    expectAccepted(await bearer(server, await hs(claims({ aud: 'api://portkey-invite' }))));
  });

  it('accepts the configured audience inside an array', async () => {
    expectAccepted(await bearer(server, await hs(claims({ aud: ['https://x.test', 'api://portkey-invite'] }))));
  });

  it.each([
    ['the canonical resource (replaced by the override)', RESOURCE],
    ['another audience', 'api://something-else'],
  ])('refuses %s', async (_case, aud) => {
    const res = await bearer(server, await hs(claims({ aud })));
    await expectInvalidToken(res, false, 'The token audience does not include this resource');
  });
});

describe("AUTH_REQUIRED_SCOPES='' (no scope required)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await start({ AUTH_REQUIRED_SCOPES: '' });
  });

  it('accepts a token without any scope', async () => {
    expectAccepted(await bearer(server, await hs(claims({ scope: undefined }))));
  });

  it('still verifies the token, and the challenge has no scope', async () => {
    const res = await bearer(server, await hs(claims(), OTHER_SECRET));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token", error_description="The token signature is invalid"');
  });
});

describe('AUTH_PUBLIC_KEY', () => {
  let rsa: { publicKey: CryptoKey; privateKey: CryptoKey };
  let rsaPem: string;
  let ec: { publicKey: CryptoKey; privateKey: CryptoKey };
  let pemServer: TestServer;
  let jwkServer: TestServer;

  beforeAll(async () => {
    rsa = await generateKeyPair('RS256', { extractable: true });
    rsaPem = await exportSPKI(rsa.publicKey);
    rememberSecret(await exportPKCS8(rsa.privateKey));
    ec = await generateKeyPair('ES256', { extractable: true });
    const ecPrivate = await exportJWK(ec.privateKey);
    rememberSecret(JSON.stringify(ecPrivate));
    rememberSecret(ecPrivate.d!);
    const ecPublic = JSON.stringify(await exportJWK(ec.publicKey));
    pemServer = await start({ AUTH_JWT_SECRET: undefined, AUTH_PUBLIC_KEY: rsaPem, AUTH_ISSUER: ISSUER });
    jwkServer = await start({ AUTH_JWT_SECRET: undefined, AUTH_PUBLIC_KEY: ecPublic, AUTH_ISSUER: ISSUER });
  });

  it('PEM SPKI (RS256): accepts a valid token', async () => {
    expectAccepted(await bearer(pemServer, await sign(claims({ iss: ISSUER }), rsa.privateKey, { alg: 'RS256' })));
  });

  it('PEM SPKI: accepts the same RSA key used with PS256 (default asymmetric allow-list)', async () => {
    const pss = await importPKCS8(await exportPKCS8(rsa.privateKey), 'PS256');
    expectAccepted(await bearer(pemServer, await sign(claims({ iss: ISSUER }), pss, { alg: 'PS256' })));
  });

  it('JWK JSON (ES256): accepts a valid token', async () => {
    expectAccepted(await bearer(jwkServer, await sign(claims({ iss: ISSUER }), ec.privateKey, { alg: 'ES256' })));
  });

  it('refuses an HS256 token whose HMAC secret is the public key PEM (cross-family)', async () => {
    for (const secret of [rsaPem, rsaPem.trim()]) {
      const res = await bearer(pemServer, await sign(claims({ iss: ISSUER }), enc.encode(secret), { alg: 'HS256' }));
      await expectInvalidToken(res, true, 'The token signing algorithm is not allowed');
    }
  });

  it('refuses alg: none', async () => {
    await expectInvalidToken(await bearer(pemServer, unsignedToken(claims({ iss: ISSUER }))), true, 'The token signing algorithm is not allowed');
  });

  it('refuses a token signed by another key', async () => {
    const other = await generateKeyPair('RS256');
    const res = await bearer(pemServer, await sign(claims({ iss: ISSUER }), other.privateKey, { alg: 'RS256' }));
    await expectInvalidToken(res, true, 'The token signature is invalid');
  });

  it('refuses an allowed algorithm the key cannot be used with (ES256 against an RSA key)', async () => {
    const res = await bearer(pemServer, await sign(claims({ iss: ISSUER }), ec.privateKey, { alg: 'ES256' }));
    await expectInvalidToken(res, true, 'The token could not be verified with the configured keys');
  });

  it('refuses a wrong issuer', async () => {
    const res = await bearer(jwkServer, await sign(claims({ iss: 'https://evil.test' }), ec.privateKey, { alg: 'ES256' }));
    await expectInvalidToken(res, true, 'The token issuer is not the expected issuer');
  });

  it('AUTH_ISSUER is required (PEM and JWK)', async () => {
    const ecPublic = JSON.stringify(await exportJWK(ec.publicKey));
    for (const key of [rsaPem, ecPublic]) {
      const load = () => loadConfig({ PUBLIC_URL, AUTH_PUBLIC_KEY: key });
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(/AUTH_ISSUER/);
    }
  });

  it('AUTH_ALGORITHMS cannot put an HMAC algorithm next to a public key', () => {
    expect(() => loadConfig({ PUBLIC_URL, AUTH_PUBLIC_KEY: rsaPem, AUTH_ISSUER: ISSUER, AUTH_ALGORITHMS: 'RS256,HS256' })).toThrow(ConfigError);
  });
});

/** A JWKS endpoint on loopback that counts its GETs and can be taken down and brought back. */
interface JwksHost {
  url: string;
  port: number;
  keys: JWK[];
  gets: number;
  /** Answer this status instead of the key set (e.g. 503), or undefined for 200. */
  failWith: number | undefined;
  down(): Promise<void>;
  up(): Promise<void>;
}

const jwksHosts: JwksHost[] = [];
afterAll(async () => {
  await Promise.all(jwksHosts.map((h) => h.down()));
});

async function startJwksHost(keys: JWK[], port = 0): Promise<JwksHost> {
  const sockets = new Set<Socket>();
  const host: JwksHost = {
    url: '',
    port,
    keys,
    gets: 0,
    failWith: undefined,
    down: async () => {
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
      });
    },
    up: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: '127.0.0.1', port: host.port }, () => {
          server.off('error', reject);
          host.port = (server.address() as AddressInfo).port;
          host.url = `http://127.0.0.1:${host.port}/jwks.json`;
          resolve();
        });
      }),
  };
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/jwks.json') {
      host.gets++;
      if (host.failWith !== undefined) {
        res.writeHead(host.failWith, { 'content-type': 'text/plain' }).end('unavailable');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: host.keys }));
      return;
    }
    res.writeHead(404).end();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await host.up();
  jwksHosts.push(host);
  return host;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function rsaKey(kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const priv = await exportJWK(privateKey);
  rememberSecret(JSON.stringify(priv));
  rememberSecret(priv.d!);
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

const jwksToken = (k: SigningKey, extra: Record<string, unknown> = {}) =>
  sign(claims({ iss: ISSUER, ...extra }), k.privateKey, { alg: 'RS256', typ: 'JWT', kid: k.kid });

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

const jwksEnv = (host: JwksHost | string, cooldownMs: number) => ({
  AUTH_JWT_SECRET: undefined,
  AUTH_JWKS_URL: typeof host === 'string' ? host : host.url,
  AUTH_ISSUER: ISSUER,
  AUTH_JWKS_COOLDOWN_MS: String(cooldownMs),
});

describe('AUTH_JWKS_URL', () => {
  let keyA: SigningKey;
  let keyB: SigningKey;
  let unknown: SigningKey;

  beforeAll(async () => {
    [keyA, keyB, unknown] = await Promise.all([rsaKey('key-a'), rsaKey('key-b'), rsaKey('key-unknown')]);
  });

  it('AUTH_ISSUER is required', () => {
    const load = () => loadConfig({ PUBLIC_URL, AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json' });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/AUTH_ISSUER/);
  });

  it('accepts a valid RS256 token, and fetches the key set exactly once across 1,000 requests', async () => {
    const host = await startJwksHost([keyA.jwk]);
    const server = await start(jwksEnv(host, 1000));
    const t = await jwksToken(keyA);
    expectAccepted(await bearer(server, t));
    const statuses = new Map<number, number>();
    const concurrency = 10;
    for (let i = 0; i < 1000 / concurrency; i++) {
      const batch = await Promise.all(Array.from({ length: concurrency }, () => bearer(server, t)));
      for (const r of batch) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (i === 50) await sleep(1050); // past the cooldown: a known kid still causes no refetch
    }
    expect(Object.fromEntries(statuses)).toEqual({ 200: 1000 });
    expect(host.gets).toBe(1);
  });

  it('an unknown kid causes at most one refetch per cooldown, then 401 invalid_token', async () => {
    const cooldown = 1000;
    const host = await startJwksHost([keyA.jwk]);
    const server = await start(jwksEnv(host, cooldown));
    await until(() => host.gets === 1, 'the start-up fetch');
    await sleep(cooldown + 50);

    const t = await jwksToken(unknown);
    const [r1, r2] = await Promise.all([bearer(server, t), bearer(server, t)]);
    const r3 = await bearer(server, t);
    for (const r of [r1!, r2!, r3]) await expectInvalidToken(r, true, 'No issuer key matches the token kid');
    expect(host.gets).toBeLessThanOrEqual(2);
    expect(host.gets).toBe(2); // the one refetch allowed did happen

    // A known kid still verifies inside the cooldown, without a fetch.
    expectAccepted(await bearer(server, await jwksToken(keyA)));
    expect(host.gets).toBe(2);

    // Once the cooldown has elapsed, one more refetch is allowed.
    await sleep(cooldown + 50);
    await Promise.all([bearer(server, t), bearer(server, t), bearer(server, t)]);
    expect(host.gets).toBe(3);
  });

  it('key rotation: a new kid added to the JWKS is accepted after a refetch', async () => {
    const cooldown = 1000;
    const host = await startJwksHost([keyA.jwk]);
    const server = await start(jwksEnv(host, cooldown));
    await until(() => host.gets === 1, 'the start-up fetch');
    const tokenB = await jwksToken(keyB);
    await sleep(cooldown + 50);
    await expectInvalidToken(await bearer(server, tokenB), true, 'No issuer key matches the token kid');
    const before = host.gets;

    host.keys = [keyA.jwk, keyB.jwk];
    await sleep(cooldown + 50);
    expectAccepted(await bearer(server, tokenB));
    expect(host.gets).toBe(before + 1);
    expectAccepted(await bearer(server, await jwksToken(keyA))); // the old key still works
    expect(host.gets).toBe(before + 1);
  });

  it('JWKS host down at start: the server starts, answers 503 (not 401) and logs it at warn, and verifies once the host is back', async () => {
    const cooldown = 1000;
    const port = await freePort();
    const server = await start(jwksEnv(`http://127.0.0.1:${port}/jwks.json`, cooldown));
    await until(() => server.events('auth.jwks_unavailable').length === 1, 'the failed start-up fetch to be logged');
    expect(server.events('auth.jwks_unavailable')[0]).toMatchObject({ level: 'warn', phase: 'start-up', reason: 'ECONNREFUSED' });
    const t = await jwksToken(keyA);
    expectKeysUnavailable(await bearer(server, t), 1);
    expect(server.events('auth.key_source_unavailable').at(-1)).toMatchObject({ level: 'warn', reason: 'ECONNREFUSED' });
    expect(server.events('auth.rejected')).toEqual([]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    const host = await startJwksHost([keyA.jwk], port);
    await sleep(cooldown + 50);
    expectAccepted(await bearer(server, t));
    expect(host.gets).toBe(1);
  });

  it('JWKS host failing at start is not fetched per request: at most once per cooldown, each answer a 503 with Retry-After', async () => {
    const cooldown = 2500;
    const host = await startJwksHost([keyA.jwk]);
    host.failWith = 503;
    const server = await start(jwksEnv(host, cooldown));
    await until(() => host.gets === 1, 'the start-up fetch');
    const t = await jwksToken(keyA);
    for (let i = 0; i < 5; i++) expectKeysUnavailable(await bearer(server, t), 3);
    expect(server.events('auth.key_source_unavailable').at(-1)).toMatchObject({ level: 'warn', reason: 'jwks_not_200' });
    expect(host.gets).toBe(1);

    host.failWith = undefined;
    await sleep(cooldown + 50);
    expectAccepted(await bearer(server, t));
    expect(host.gets).toBe(2);
  });

  it('while the JWKS host is down, a token that is bad on its face stays 401', async () => {
    const port = await freePort();
    const server = await start(jwksEnv(`http://127.0.0.1:${port}/jwks.json`, 60_000));
    await until(() => server.events('auth.jwks_unavailable').length === 1, 'the failed start-up fetch');
    // An algorithm that is not allowed, and a token that is not a JWT at all: no key is needed to refuse them.
    await expectInvalidToken(await bearer(server, await hs(claims({ iss: ISSUER })) ), true, 'The token signing algorithm is not allowed');
    await expectInvalidToken(await bearer(server, 'not.a.jwt'), true, 'The token is malformed or uses an unsupported algorithm');
    expectKeysUnavailable(await bearer(server, await jwksToken(keyA)), 60);
  });

  it('JWKS host down later: already-fetched kids keep verifying, fast; only an unknown kid gets 503', async () => {
    const cooldown = 1000;
    const host = await startJwksHost([keyA.jwk, keyB.jwk]);
    const server = await start(jwksEnv(host, cooldown));
    await until(() => host.gets === 1, 'the start-up fetch');
    const tA = await jwksToken(keyA, { exp: now() + 3600 });
    const tB = await jwksToken(keyB, { exp: now() + 3600 });
    const tUnknown = await jwksToken(unknown, { exp: now() + 3600 });
    expectAccepted(await bearer(server, tA));
    await host.down();
    await sleep(cooldown + 50); // past jose's own cooldown after the good fetch: an unknown kid now means a refetch

    const timed = async (t: string) => {
      const started = performance.now();
      const res = await bearer(server, t);
      expect(performance.now() - started).toBeLessThan(1000);
      expect([200, 503]).toContain(res.status);
      return res;
    };

    for (let round = 0; round < 3; round++) {
      expectAccepted(await timed(tA));
      expectAccepted(await timed(tB));
      // An unknown kid tries a refetch (the host is down): it may be a new key the host would have
      // served, so the token is not judged (503), and known kids are not disturbed.
      expectKeysUnavailable(await timed(tUnknown), 1);
      await sleep(cooldown + 50);
    }

    // Even once jose's own cache (10 min) has aged out, the keys fetched earlier keep verifying.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 11 * 60_000);
      const aged = await jwksToken(keyA, { exp: now() + 3600 });
      for (let i = 0; i < 3; i++) expectAccepted(await timed(aged));
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the caller's token is never forwarded to Portkey", () => {
  let portkey: PortkeyDouble;
  let server: TestServer;

  beforeAll(async () => {
    portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
    server = await start({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url });
  });
  afterAll(async () => {
    await portkey.close();
  });

  it('invite_user sends the admin key upstream, and neither an Authorization header nor the token', async () => {
    const t = await hs(claims());
    const client = await connectClient(server.mcpUrl, t);
    try {
      const result = await client.callTool({ name: 'invite_user', arguments: { email: 'jane@example.com', role: 'member', workspaces: [] } });
      expect(result.isError).toBeFalsy();
    } finally {
      await client.close();
    }
    expect(portkey.requests.length).toBeGreaterThan(0);
    for (const r of portkey.requests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers['x-portkey-api-key']).toBe(SECRETS.portkeyKey);
      for (const value of Object.values(r.headers)) {
        expect(value).not.toBe(t);
        expect(value).not.toContain(t);
      }
      expect(r.rawBody).not.toContain(t);
    }
  });
});
