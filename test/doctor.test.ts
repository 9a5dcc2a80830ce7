/**
 * Issue 28 item 4: `npm run doctor` names the right fix for each way a deployment can be wrong
 * for Claude, and passes a correct one. The deployments are real: this server (on loopback) and
 * panva's oidc-provider as the authorization server, set up right and wrong through its own
 * settings. They are reached under public names (https://mcp.example.com, https://auth.example.com)
 * through a fetch that maps those origins to loopback, and a resolver that answers a public IPv4
 * address, as DNS would for a real deployment. One misconfiguration oidc-provider cannot be set up
 * with (no PKCE S256: it always offers it) is made by altering its discovery answer in that fetch.
 * The CLI itself runs against a local-mode server, as an operator would run it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor, type Check } from '../src/node/doctor/checks.js';
import { banner, repo, startChild, waitFor } from './support/child.js';
import { SECRETS, rememberSecret, serverPool } from './support/harness.js';
import { OTHER_RESOURCE, startOidcProvider, type TestOidcProvider } from './support/oidc-provider.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const PUBLIC = 'https://mcp.example.com';
const MCP_URL = `${PUBLIC}/mcp`;
const ISSUER = 'https://auth.example.com';
const MACHINE = { clientId: 'doctor-machine', clientSecret: `doctor-SECRET-${randomBytes(8).toString('hex')}`, scope: 'portkey.invite' };
rememberSecret(MACHINE.clientSecret);

const start = serverPool();
let portkey: PortkeyDouble;
const providers: TestOidcProvider[] = [];
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await portkey.close();
});

async function authorizationServer(o: Partial<Parameters<typeof startOidcProvider>[0]> = {}): Promise<TestOidcProvider> {
  const as = await startOidcProvider({ resource: MCP_URL, tenant: 'acme', machineClient: MACHINE, issuer: ISSUER, ...o });
  providers.push(as);
  return as;
}

async function deployment(o: { as?: TestOidcProvider; env?: Record<string, string | undefined>; alterMetadata?: (m: Record<string, unknown>) => void } = {}) {
  const as = o.as ?? (await authorizationServer());
  const server = await start({
    PUBLIC_URL: PUBLIC,
    AUTH_JWT_SECRET: undefined,
    AUTH_JWKS_URL: `${as.local}/jwks`,
    AUTH_ISSUER: as.issuer,
    PORTKEY_API_KEY: SECRETS.portkeyKey,
    PORTKEY_BASE_URL: portkey.url,
    ...o.env,
  });
  const routes: Record<string, string> = { [PUBLIC]: server.url, [ISSUER]: as.local };
  const mapped: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const res = await routed(routes, url, init);
    if (o.alterMetadata && /\/\.well-known\/(openid-configuration|oauth-authorization-server)/.test(url.pathname) && res.ok) {
      const m = (await res.json()) as Record<string, unknown>;
      o.alterMetadata(m);
      return Response.json(m);
    }
    return res;
  };
  const doctor = (target = MCP_URL, token?: string) =>
    runDoctor(target, { token }, { fetch: mapped, lookup: async () => [{ address: '203.0.113.7', family: 4 }] });
  const machineToken = async (resource = MCP_URL) => {
    const res = await fetch(`${as.local}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${MACHINE.clientId}:${MACHINE.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'portkey.invite', resource }),
    });
    const t = ((await res.json()) as { access_token: string }).access_token;
    rememberSecret(t);
    return t;
  };
  return { as, server, doctor, machineToken };
}

const byId = (checks: Check[], id: string) => checks.find((c) => c.id === id);
const failures = (checks: Check[]) => checks.filter((c) => c.status === 'fail').map((c) => c.id);

describe('npm run doctor against a correct deployment', () => {
  it('passes every check, and with a token times initialize against the 10 s deadline and finds invite_user', async () => {
    const d = await deployment();
    const checks = await d.doctor(MCP_URL, await d.machineToken());
    expect(failures(checks), JSON.stringify(checks, null, 1)).toEqual([]);
    expect(checks.map((c) => c.id)).toEqual(['https', 'dns', 'challenge', 'resource', 'as-metadata', 'registration', 'pkce', 'as-https', 'scopes', 'iss', 'initialize', 'tools', 'token-scopes', 'tenant-claim']);
    expect(checks.every((c) => c.status === 'pass'), JSON.stringify(checks.filter((c) => c.status !== 'pass'))).toBe(true);
    expect(byId(checks, 'initialize')!.summary).toMatch(/^initialize answered in \d+ ms \(claude\.ai allows 10 s\)$/);
    expect(byId(checks, 'tools')!.summary).toContain('invite_user');
  });
});

describe('npm run doctor names the fix, and its side, for each misconfiguration', () => {
  it('the URL given with a trailing slash: the resource must be given exactly', async () => {
    const d = await deployment();
    const check = byId(await d.doctor(`${MCP_URL}/`), 'challenge')!;
    expect(check).toMatchObject({ status: 'fail', side: 'server' });
    expect(check.fix).toContain(`Give Claude the URL without the trailing slash, ${MCP_URL}:`);
  });

  it('PUBLIC_URL not the public URL: resource_metadata points elsewhere, fix PUBLIC_URL', async () => {
    const d = await deployment({ env: { PUBLIC_URL: 'https://internal.example.com' } });
    const check = byId(await d.doctor(), 'challenge')!;
    expect(check).toMatchObject({ status: 'fail', side: 'server', fix: `Set PUBLIC_URL to ${PUBLIC} (this server's public URL, without /mcp).` });
  });

  it('an authorization server without dynamic registration: the client id in the advanced settings, or turn registration on', async () => {
    const d = await deployment({ as: await authorizationServer({ registration: false }) });
    const check = byId(await d.doctor(), 'registration')!;
    expect(check).toMatchObject({ status: 'warn', side: 'authorization server' });
    expect(check.fix).toMatch(/Enable dynamic client registration.*https:\/\/claude\.ai\/api\/mcp\/auth_callback/);
  });

  it('an authorization server that does not define the connect-time scope', async () => {
    const d = await deployment({ as: await authorizationServer({ resourceScopes: 'invites.write' }) });
    const check = byId(await d.doctor(), 'scopes')!;
    expect(check).toMatchObject({ status: 'fail', side: 'authorization server', fix: 'Define the scope(s) portkey.invite on the API/resource for this server.' });
  });

  it('an authorization server on plain http', async () => {
    const as = await authorizationServer({ issuer: undefined });
    const d = await deployment({ as });
    const checks = await d.doctor();
    expect(byId(checks, 'as-https')).toMatchObject({ status: 'fail', side: 'authorization server' });
    expect(byId(checks, 'as-https')!.summary).toMatch(/^not https: authorization_endpoint http:\/\/127\.0\.0\.1/);
  });

  it('an authorization server that does not offer PKCE S256 (its discovery answer altered)', async () => {
    const d = await deployment({ alterMetadata: (m) => void (m.code_challenge_methods_supported = ['plain']) });
    expect(byId(await d.doctor(), 'pkce')).toMatchObject({ status: 'fail', side: 'authorization server' });
  });

  it('a token issued for another audience: explained from our own 401, with the authorization-server setting that fixes it', async () => {
    const d = await deployment();
    const check = byId(await d.doctor(MCP_URL, await d.machineToken(OTHER_RESOURCE)), 'initialize')!;
    expect(check).toMatchObject({ status: 'fail', side: 'authorization server' });
    expect(check.summary).toMatch(/"The token audience does not include this resource" \(the token says aud "https:\/\/other\.example\/mcp"/);
    expect(check.fix).toMatch(/the API\/resource identifier must be the \/mcp URL exactly.*Auth0: the Resource Parameter Compatibility Profile/);
  });

  it('AUTH_ISSUER not what the tokens carry: fix AUTH_ISSUER', async () => {
    const d = await deployment({ env: { AUTH_ISSUER: `${ISSUER}/` , AUTH_SERVERS: ISSUER } });
    const check = byId(await d.doctor(MCP_URL, await d.machineToken()), 'initialize')!;
    expect(check).toMatchObject({ status: 'fail' });
    expect(check.fix).toMatch(/^Set AUTH_ISSUER to the "iss" the authorization server puts in its tokens, exactly/);
  });

  it('the token names no tenant: a warning naming TENANT_CLAIM', async () => {
    const d = await deployment();
    const token = await d.machineToken();
    const checks = await runDoctor(MCP_URL, { token, tenantClaim: 'tid' }, { fetch: (await mappedFetchOf(d)), lookup: async () => [{ address: '203.0.113.7', family: 4 }] });
    expect(byId(checks, 'tenant-claim')).toMatchObject({ status: 'warn', side: 'authorization server' });
  });

  it('a private or CGNAT address, or no IPv4 at all: the network in front', async () => {
    const d = await deployment();
    for (const [addresses, pattern] of [
      [[{ address: '10.0.0.5', family: 4 }], /10\.0\.0\.5 \(private \(RFC 1918\)\)/],
      [[{ address: '100.64.1.2', family: 4 }], /carrier-grade NAT/],
      [[{ address: '2001:db8::1', family: 6 }], /has no IPv4 address/],
    ] as const) {
      const checks = await runDoctor(MCP_URL, {}, { fetch: await mappedFetchOf(d), lookup: async () => [...addresses] });
      expect(byId(checks, 'dns')).toMatchObject({ status: 'fail', side: 'network', summary: expect.stringMatching(pattern) });
    }
  });
});

/** The doctor's fetch of a deployment, for calls with other options than d.doctor's. */
async function mappedFetchOf(d: Awaited<ReturnType<typeof deployment>>): Promise<typeof fetch> {
  const routes: Record<string, string> = { [PUBLIC]: d.server.url, [ISSUER]: d.as.local };
  return (input, init) => routed(routes, new URL(input instanceof Request ? input.url : String(input)), init);
}

/** A public origin's request sent to where it listens, as through a TLS-terminating proxy (X-Forwarded-Proto/-Host). */
function routed(routes: Record<string, string>, url: URL, init: RequestInit | undefined): Promise<Response> {
  const to = routes[url.origin];
  if (!to) return fetch(url, init);
  const headers = new Headers(init?.headers);
  headers.set('x-forwarded-proto', url.protocol.slice(0, -1));
  headers.set('x-forwarded-host', url.host);
  return fetch(`${to}${url.pathname}${url.search}`, { ...init, headers });
}

describe('the doctor CLI against a local-mode server', () => {
  it('reports it unreachable for claude.ai (plain http, loopback), not broken, and exits 1; --json says the same', async () => {
    const s = startChild('npm', ['start', '--silent'], { PORT: '0' });
    await waitFor(() => s.stdout().includes('List the tools:'), 'the local-mode banner');
    const { url, token } = banner(s.stdout());
    rememberSecret(token);
    const run = (args: string[]) =>
      promisify(execFile)('node', ['bin/cli.mjs', 'doctor', ...args], { cwd: repo }).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      );
    const text = await run([url]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^✘ plain http: claude\.ai dials only https on port 443$/m);
    expect(text.stdout).toMatch(/^✘ localhost resolves to .*loopback.*$/m);
    expect(text.stdout).toMatch(/^! the 401 names no resource_metadata: this server takes bearer tokens only/m);
    expect(text.stdout).toContain('This server answers, but claude.ai cannot reach it at this address');
    const json = await run([url, '--json', '--token', token]);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; checks: Check[] };
    expect(report.ok).toBe(false);
    expect(failures(report.checks)).toEqual(['https', 'dns']);
    expect(byId(report.checks, 'tools')).toMatchObject({ status: 'pass' });
    expect(json.stdout).not.toContain(token);
    process.kill(-s.child.pid!, 'SIGTERM');
    await s.exited;
  });
});
