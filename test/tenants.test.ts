import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/server-config.js';
import { DEFAULT_PORTKEY_BASE_URL } from '../src/config/variables.js';
import { loadNodeConfig, readNodeEnv } from '../src/node.js';
import {
  SECRETS,
  connectClient,
  inviteCall,
  postMcp,
  rememberSecret,
  resultText,
  startTestServer,
  token,
  type TestServer,
} from './support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

/** Two tenants, two Portkey organisations, two keys: each double accepts only its own tenant's key. */
const ACME_KEY = SECRETS.portkeyKey;
const GLOBEX_KEY = SECRETS.otherTenantKey;
/** A third tenant's key, for the tenant that has no baseUrl of its own. */
const INITECH_KEY = 'pk-admin-INITECH-SECRET-9c4e2f';
/** A key written into broken TENANTS entries: no configuration error may repeat it. */
const BAD_ENTRY_KEY = 'pk-admin-BADENTRY-SECRET-3d7b0a';
rememberSecret(INITECH_KEY);
rememberSecret(BAD_ENTRY_KEY);

const MEMBER = { email: 'jane@example.com', role: 'member', workspaces: [] };

let acmeDouble: PortkeyDouble;
let globexDouble: PortkeyDouble;
let server: TestServer;

const tenantsJson = () =>
  JSON.stringify({
    acme: { apiKey: ACME_KEY, baseUrl: acmeDouble.url },
    globex: { apiKey: { env: 'PORTKEY_KEY_GLOBEX' }, baseUrl: globexDouble.url },
  });

beforeAll(async () => {
  acmeDouble = await startPortkeyDouble({ adminKeys: [ACME_KEY] });
  globexDouble = await startPortkeyDouble({ adminKeys: [GLOBEX_KEY] });
  server = await startTestServer({ TENANTS: tenantsJson(), PORTKEY_KEY_GLOBEX: GLOBEX_KEY });
});
afterEach(() => {
  acmeDouble.reset();
  globexDouble.reset();
});
afterAll(async () => {
  await server?.close(100);
  await acmeDouble?.close();
  await globexDouble?.close();
});

const allRequests = () => [...acmeDouble.requests, ...globexDouble.requests];

/** One raw tools/call invite_user; returns the tool result (asserting it was an HTTP 200 JSON-RPC result). */
async function invite(bearer: string, args: Record<string, unknown>, headers: Record<string, string> = {}, url = server.mcpUrl) {
  const res = await postMcp(url, inviteCall(args), { authorization: `Bearer ${bearer}`, ...headers });
  expect(res.status, res.text).toBe(200);
  expect(res.json?.result, res.text).toBeDefined();
  return res.json.result as { isError?: boolean; content: { type: string; text: string }[]; structuredContent?: unknown };
}

describe('tenants: each caller reaches only its own Portkey organisation', () => {
  it.each([
    { tenant: 'acme', key: ACME_KEY, own: () => acmeDouble, other: () => globexDouble },
    { tenant: 'globex', key: GLOBEX_KEY, own: () => globexDouble, other: () => acmeDouble },
  ])("a $tenant caller's invite goes to its own Portkey with its own key only", async ({ tenant, key, own, other }) => {
    const result = await invite(await token({ claims: { org_id: tenant } }), { ...MEMBER, email: `jane@${tenant}.example` });
    expect(result.isError, resultText(result)).toBeFalsy();

    expect(own().requests).toHaveLength(1);
    const sent = own().requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1/admin/users/invites');
    expect(sent.headers['x-portkey-api-key']).toBe(key);
    expect(sent.body).toEqual({ ...MEMBER, email: `jane@${tenant}.example` });
    expect(other().requests).toEqual([]);
    // The other tenant's key was sent nowhere, in any header or body.
    const otherKey = key === ACME_KEY ? GLOBEX_KEY : ACME_KEY;
    expect(JSON.stringify(allRequests())).not.toContain(otherKey);
  });

  it('the key given as {"env": ...} is read from that variable', () => {
    const { tenants } = server.config;
    expect(tenants.mode).toBe('multi');
    if (tenants.mode !== 'multi') return;
    expect(tenants.tenants.get('globex')).toEqual({ id: 'globex', apiKey: GLOBEX_KEY, baseUrl: globexDouble.url, allow: {} });
    expect(tenants.tenants.get('acme')).toEqual({ id: 'acme', apiKey: ACME_KEY, baseUrl: acmeDouble.url, allow: {} });
  });

  it('the audit line names the tenant the call went to', async () => {
    const before = server.events('audit.invite_user').length;
    await invite(await token({ claims: { org_id: 'globex' } }), { ...MEMBER, email: 'audit@globex.example' });
    const lines = server.events('audit.invite_user').slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ tenant: 'globex', outcome: 'invited', upstream_status: 200 });
  });
});

describe('tenants: the tenant claim', () => {
  it('a token without the claim can still list the tools', async () => {
    const client = await connectClient(server.mcpUrl, await token());
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(['invite_user', 'list_invites']);
    } finally {
      await client.close();
    }
  });

  it('a token without the claim cannot invite: isError naming "org_id", and nothing is sent upstream', async () => {
    const result = await invite(await token(), MEMBER);
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/Your token has no "org_id" claim/);
    expect(allRequests()).toEqual([]);
  });

  it('an unknown tenant id gives isError saying it is not configured', async () => {
    const result = await invite(await token({ claims: { org_id: 'initech' } }), MEMBER);
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/Tenant "initech" \(from the "org_id" claim\) is not configured on this server/);
    expect(allRequests()).toEqual([]);
  });

  it.each([
    ['a number', 42],
    ['an array holding a tenant id', ['acme']],
    ['an array of two tenant ids', ['acme', 'globex']],
    ['an object', { id: 'acme' }],
    ['a boolean', true],
    ['null', null],
    ['an empty string', ''],
  ])('a claim that is %s counts as missing', async (_label, value) => {
    const result = await invite(await token({ claims: { org_id: value } }), MEMBER);
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/Your token has no "org_id" claim/);
    expect(allRequests()).toEqual([]);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    'a claim %j is an unknown tenant, not a crash',
    async (value) => {
      const result = await invite(await token({ claims: { org_id: value } }), MEMBER);
      expect(result.isError).toBe(true);
      expect(resultText(result)).toContain(`Tenant ${JSON.stringify(value)} (from the "org_id" claim) is not configured`);
      expect(allRequests()).toEqual([]);
    },
  );

  it('the server keeps serving after those', async () => {
    const result = await invite(await token({ claims: { org_id: 'acme' } }), { ...MEMBER, email: 'after@acme.example' });
    expect(result.isError).toBeFalsy();
    expect(acmeDouble.requests).toHaveLength(1);
  });

  describe('TENANT_CLAIM=tenant', () => {
    let custom: TestServer;
    beforeAll(async () => {
      custom = await startTestServer({ TENANTS: tenantsJson(), PORTKEY_KEY_GLOBEX: GLOBEX_KEY, TENANT_CLAIM: 'tenant' });
    });
    afterAll(async () => {
      await custom?.close(100);
    });

    it('reads the tenant from the "tenant" claim', async () => {
      const result = await invite(await token({ claims: { tenant: 'globex' } }), MEMBER, {}, custom.mcpUrl);
      expect(result.isError, resultText(result)).toBeFalsy();
      expect(globexDouble.requests).toHaveLength(1);
      expect(globexDouble.requests[0]!.headers['x-portkey-api-key']).toBe(GLOBEX_KEY);
      expect(acmeDouble.requests).toEqual([]);
    });

    it('ignores "org_id", and the refusal names the configured claim', async () => {
      const result = await invite(await token({ claims: { org_id: 'acme' } }), MEMBER, {}, custom.mcpUrl);
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(/Your token has no "tenant" claim/);
      expect(allRequests()).toEqual([]);
    });

    it('when both claims are present, only "tenant" counts', async () => {
      const result = await invite(await token({ claims: { org_id: 'globex', tenant: 'acme' } }), MEMBER, {}, custom.mcpUrl);
      expect(result.isError, resultText(result)).toBeFalsy();
      expect(acmeDouble.requests).toHaveLength(1);
      expect(globexDouble.requests).toEqual([]);
    });

    it('an unknown tenant names the "tenant" claim', async () => {
      const result = await invite(await token({ claims: { tenant: 'initech' } }), MEMBER, {}, custom.mcpUrl);
      expect(resultText(result)).toMatch(/Tenant "initech" \(from the "tenant" claim\) is not configured/);
    });
  });
});

describe('tenants: no argument, header or query lets an acme caller reach globex', () => {
  it('the tool has no parameter that picks a tenant, a key or a base URL', async () => {
    const client = await connectClient(server.mcpUrl, await token({ claims: { org_id: 'acme' } }));
    try {
      const { tools } = await client.listTools();
      const properties = Object.keys((tools[0]!.inputSchema as { properties: Record<string, unknown> }).properties).sort();
      expect(properties).toEqual(['email', 'first_name', 'last_name', 'role', 'workspace_api_key_details', 'workspaces']);
      expect(tools[0]!.inputSchema).toMatchObject({ additionalProperties: false });
    } finally {
      await client.close();
    }
  });

  it.each([
    ['tenant', { tenant: 'globex' }],
    ['org_id', { org_id: 'globex' }],
    ['tenant_id', { tenant_id: 'globex' }],
    ['apiKey', { apiKey: GLOBEX_KEY }],
    ['baseUrl', { baseUrl: 'http://127.0.0.1:1/v1' }],
    ['x-portkey-api-key', { 'x-portkey-api-key': GLOBEX_KEY }],
  ])('an extra %j argument is rejected and nothing is sent anywhere', async (_name, extra) => {
    const result = await invite(await token({ claims: { org_id: 'acme' } }), { ...MEMBER, ...extra });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/Invalid arguments|unrecognized|Unrecognized/i);
    expect(allRequests()).toEqual([]);
  });

  it('a "__proto__" argument cannot pick a tenant either: nothing reaches globex, nothing of it is forwarded', async () => {
    // Raw text: an object literal would not carry "__proto__" as an own key through JSON.stringify.
    const body =
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"invite_user",' +
      '"arguments":{"email":"p@example.com","role":"member","workspaces":[],"__proto__":{"org_id":"globex","apiKey":"x"}}}}';
    const res = await postMcp(server.mcpUrl, body, { authorization: `Bearer ${await token({ claims: { org_id: 'acme' } })}` });
    expect(res.status).toBe(200);
    // Whether it is rejected or dropped (the SDK's message parsing drops "__proto__" keys before the
    // tool's strict schema sees them), the call can only reach acme, with exactly the declared fields.
    expect(globexDouble.requests).toEqual([]);
    for (const r of acmeDouble.requests) {
      expect(r.headers['x-portkey-api-key']).toBe(ACME_KEY);
      expect(r.rawBody).toBe('{"email":"p@example.com","role":"member","workspaces":[]}');
    }
  });

  it('a tenant inside a workspace entry or the API key details is rejected too', async () => {
    const acme = await token({ claims: { org_id: 'acme' } });
    for (const args of [
      { ...MEMBER, workspaces: [{ id: 'ws-a', role: 'member', tenant: 'globex' }] },
      { ...MEMBER, workspace_api_key_details: { scopes: ['logs.view'], tenant: 'globex' } },
    ]) {
      const result = await invite(acme, args);
      expect(result.isError).toBe(true);
    }
    expect(allRequests()).toEqual([]);
  });

  it('headers, query parameters and _meta naming globex are ignored: the invite goes to acme', async () => {
    const acme = await token({ claims: { org_id: 'acme' } });
    const res = await postMcp(
      `${server.mcpUrl}?org_id=globex&tenant=globex`,
      { ...inviteCall(MEMBER), params: { name: 'invite_user', arguments: MEMBER, _meta: { org_id: 'globex', tenant: 'globex' } } },
      {
        authorization: `Bearer ${acme}`,
        'x-tenant': 'globex',
        'x-org-id': 'globex',
        'x-portkey-api-key': GLOBEX_KEY,
        'x-portkey-base-url': globexDouble.url,
      },
    );
    expect(res.status).toBe(200);
    expect(res.json.result.isError, res.text).toBeFalsy();
    expect(acmeDouble.requests).toHaveLength(1);
    expect(acmeDouble.requests[0]!.headers['x-portkey-api-key']).toBe(ACME_KEY);
    expect(globexDouble.requests).toEqual([]);
  });

  it('a token signed with another secret that claims globex is refused before any tool runs', async () => {
    const forged = await token({ claims: { org_id: 'globex' }, secret: 'some-other-secret-that-is-at-least-32-bytes!!' });
    const res = await postMcp(server.mcpUrl, inviteCall(MEMBER), { authorization: `Bearer ${forged}` });
    expect(res.status).toBe(401);
    expect(allRequests()).toEqual([]);
  });
});

describe('tenants: a tenant without baseUrl', () => {
  let initechDouble: PortkeyDouble;
  let fallback: TestServer;
  afterEach(() => initechDouble.reset());
  beforeAll(async () => {
    initechDouble = await startPortkeyDouble({ adminKeys: [INITECH_KEY] });
    fallback = await startTestServer({
      TENANTS: JSON.stringify({ initech: { apiKey: INITECH_KEY }, acme: { apiKey: ACME_KEY, baseUrl: acmeDouble.url } }),
      PORTKEY_BASE_URL: initechDouble.url,
    });
  });
  afterAll(async () => {
    await fallback?.close(100);
    await initechDouble?.close();
  });

  it('uses PORTKEY_BASE_URL', async () => {
    const result = await invite(await token({ claims: { org_id: 'initech' } }), MEMBER, {}, fallback.mcpUrl);
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(initechDouble.requests).toHaveLength(1);
    expect(initechDouble.requests[0]!.path).toBe('/v1/admin/users/invites');
    expect(initechDouble.requests[0]!.headers['x-portkey-api-key']).toBe(INITECH_KEY);
    expect(allRequests()).toEqual([]);
  });

  it('while a tenant with its own baseUrl keeps it', async () => {
    const result = await invite(await token({ claims: { org_id: 'acme' } }), { ...MEMBER, email: 'own@acme.example' }, {}, fallback.mcpUrl);
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(acmeDouble.requests).toHaveLength(1);
    expect(initechDouble.requests).toEqual([]);
  });

  it('defaults to the Portkey cloud when PORTKEY_BASE_URL is unset too', () => {
    const config = loadConfig({ TENANTS: JSON.stringify({ initech: { apiKey: INITECH_KEY } }) });
    expect(config.tenants).toEqual({
      mode: 'multi',
      tenants: new Map([['initech', { id: 'initech', apiKey: INITECH_KEY, baseUrl: DEFAULT_PORTKEY_BASE_URL, allow: {} }]]),
    });
  });
});

/** The ConfigError loadConfig throws for this environment (fails the test if it does not throw one). */
function configError(env: Record<string, string | undefined>, load: (env: Record<string, string | undefined>) => unknown = loadConfig): ConfigError {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(Object.keys(env))}`);
}

/** A good tenant carrying BAD_ENTRY_KEY next to the broken one, so a message that echoed the document would show it. */
const good = { apiKey: BAD_ENTRY_KEY };

describe('TENANTS configuration errors', () => {
  it('TENANTS and PORTKEY_API_KEY together: asks to choose one', () => {
    const err = configError({ TENANTS: JSON.stringify({ acme: good }), PORTKEY_API_KEY: INITECH_KEY });
    expect(err.message).toMatch(/Both PORTKEY_API_KEY and TENANTS are set: choose one/);
    expect(err.message).not.toContain(BAD_ENTRY_KEY);
    expect(err.message).not.toContain(INITECH_KEY);
  });

  it.each<[string, unknown, RegExp[]]>([
    ['an unknown field', { acme: { apiKey: BAD_ENTRY_KEY, region: 'eu' } }, [/^Tenant "acme": /, /unknown field\(s\) "region"/]],
    ['an unknown field inside allow', { acme: { apiKey: BAD_ENTRY_KEY, allow: { orgRole: ['member'] } } }, [/^Tenant "acme": allow: /, /unknown field\(s\) "orgRole"/]],
    ['a missing apiKey', { acme: good, globex: { baseUrl: 'https://portkey.globex.example/v1' } }, [/^Tenant "globex": apiKey: missing/]],
    ['an apiKey that is a number', { acme: good, globex: { apiKey: 12345 } }, [/^Tenant "globex": apiKey: expected a string or {"env": "PORTKEY_KEY_\.\.\."}/]],
    ['an empty apiKey', { acme: good, globex: { apiKey: '' } }, [/^Tenant "globex": apiKey: must not be empty/]],
    ['an {"env"} apiKey with an extra field holding the key', { acme: { apiKey: { env: 'PORTKEY_KEY_ACME', value: BAD_ENTRY_KEY } } }, [/^Tenant "acme": apiKey: /]],
    ['an entry that is the key itself', { acme: BAD_ENTRY_KEY }, [/^Tenant "acme": /]],
    ['a baseUrl that is not a URL', { acme: { apiKey: BAD_ENTRY_KEY, baseUrl: 'portkey.example/v1' } }, [/^Tenant "acme": baseUrl: expected an http\(s\) URL/]],
    ['a baseUrl that is not http(s)', { acme: { apiKey: BAD_ENTRY_KEY, baseUrl: 'ftp://portkey.example/v1' } }, [/^Tenant "acme": baseUrl: expected an http\(s\) URL/]],
    ['an unknown org role', { acme: { apiKey: BAD_ENTRY_KEY, allow: { orgRoles: ['owner'] } } }, [/^Tenant "acme": allow\.orgRoles\.0: expected one of "admin", "member"/]],
    ['an unknown workspace role', { acme: { apiKey: BAD_ENTRY_KEY, allow: { workspaceRoles: ['owner'] } } }, [/^Tenant "acme": allow\.workspaceRoles\.0: expected one of/]],
    ['an empty workspaces list', { acme: { apiKey: BAD_ENTRY_KEY, allow: { workspaces: [] } } }, [/^Tenant "acme": allow\.workspaces: must not be empty/]],
    ['a document that is an array', [{ apiKey: BAD_ENTRY_KEY }], [/TENANTS must be a JSON object/]],
    ['no tenants', {}, [/TENANTS has no tenants/]],
  ])('%s: the message names the tenant and the field, never the key', (_label, doc, patterns) => {
    const err = configError({ TENANTS: JSON.stringify(doc), PORTKEY_KEY_ACME: BAD_ENTRY_KEY });
    for (const p of patterns) expect(err.message).toMatch(p);
    expect(err.message).not.toContain(BAD_ENTRY_KEY);
  });

  it('an {"env": ...} variable that is unset names the tenant and the variable', () => {
    const err = configError({ TENANTS: JSON.stringify({ acme: good, globex: { apiKey: { env: 'PORTKEY_KEY_NOPE' } } }) });
    expect(err.message).toMatch(/^Tenant "globex": apiKey: variable PORTKEY_KEY_NOPE is not set/);
    expect(err.message).not.toContain(BAD_ENTRY_KEY);
  });

  it('an {"env": ...} variable that is blank counts as unset', () => {
    const err = configError({ TENANTS: JSON.stringify({ globex: { apiKey: { env: 'PORTKEY_KEY_NOPE' } } }), PORTKEY_KEY_NOPE: '   ' });
    expect(err.message).toMatch(/^Tenant "globex": apiKey: variable PORTKEY_KEY_NOPE is not set/);
  });

  it.each([
    ['a trailing comma', `{"acme": {"apiKey": "${BAD_ENTRY_KEY}",}}`],
    ['a missing quote', `{"acme": {"apiKey": "${BAD_ENTRY_KEY}}}`],
    ['single quotes', `{'acme': {'apiKey': '${BAD_ENTRY_KEY}'}}`],
  ])('invalid JSON (%s) says so without quoting the document', (_label, text) => {
    const err = configError({ TENANTS: text });
    expect(err.message).toMatch(/^TENANTS is not valid JSON/);
    expect(err.message).not.toContain(BAD_ENTRY_KEY);
    expect(err.cause).toBeUndefined();
  });
});

describe('TENANTS_FILE (Node)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tenants-test-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const loadFromNode = (env: Record<string, string | undefined>) => loadNodeConfig(env);

  it('a readable file is used as TENANTS', () => {
    const file = join(dir, 'tenants.json');
    writeFileSync(file, JSON.stringify({ acme: { apiKey: BAD_ENTRY_KEY, baseUrl: 'https://portkey.acme.example/v1', allow: { orgRoles: ['member'] } } }));
    const config = loadFromNode({ TENANTS_FILE: file });
    expect(config.tenants).toEqual({
      mode: 'multi',
      tenants: new Map([['acme', { id: 'acme', apiKey: BAD_ENTRY_KEY, baseUrl: 'https://portkey.acme.example/v1', allow: { orgRoles: ['member'] } }]]),
    });
  });

  it('a server started from TENANTS_FILE routes each tenant as TENANTS would', async () => {
    const file = join(dir, 'served.json');
    writeFileSync(file, tenantsJson());
    const fromFile = await startTestServer(readNodeEnv({ TENANTS_FILE: file, PORTKEY_KEY_GLOBEX: GLOBEX_KEY }));
    try {
      const result = await invite(await token({ claims: { org_id: 'globex' } }), MEMBER, {}, fromFile.mcpUrl);
      expect(result.isError, resultText(result)).toBeFalsy();
      expect(globexDouble.requests.map((r) => r.headers['x-portkey-api-key'])).toEqual([GLOBEX_KEY]);
      expect(acmeDouble.requests).toEqual([]);
    } finally {
      await fromFile.close(100);
    }
  });

  it.each([
    ['a path that does not exist', () => join(dir, 'missing', 'tenants.json'), /cannot be read \(ENOENT\): check the path/],
    ['a directory', () => dir, /cannot be read \(EISDIR\): check the path/],
  ])('%s: names the file and the reason', (_label, path, pattern) => {
    const file = path();
    const err = configError({ TENANTS_FILE: file }, loadFromNode);
    expect(err.message).toContain(`TENANTS_FILE ${JSON.stringify(file)}`);
    expect(err.message).toMatch(pattern);
  });

  it('TENANTS_FILE and TENANTS together: asks to choose one', () => {
    const file = join(dir, 'tenants.json');
    const err = configError({ TENANTS_FILE: file, TENANTS: JSON.stringify({ acme: good }) }, loadFromNode);
    expect(err.message).toMatch(/Both TENANTS and TENANTS_FILE are set: choose one/);
    expect(err.message).not.toContain(BAD_ENTRY_KEY);
  });

  it('a file with a broken entry gives the same message as TENANTS, without the key', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify({ acme: { apiKey: BAD_ENTRY_KEY, region: 'eu' } }));
    const err = configError({ TENANTS_FILE: file }, loadFromNode);
    expect(err.message).toMatch(/^Tenant "acme": .*unknown field\(s\) "region"/);
    expect(err.message).not.toContain(BAD_ENTRY_KEY);
  });

  it('a file that is not JSON says so without quoting it', () => {
    const file = join(dir, 'not-json.json');
    writeFileSync(file, `acme: { apiKey: ${BAD_ENTRY_KEY} }`);
    const err = configError({ TENANTS_FILE: file }, loadFromNode);
    expect(err.message).toMatch(/not valid JSON/);
    expect(err.message).not.toContain(BAD_ENTRY_KEY);
  });
});

describe('a tenant claim that is not well-formed text', () => {
  it('names no tenant, whatever the table holds (a lone surrogate would share a store entry with others)', async () => {
    const { createTenantResolver } = await import('../src/tenants/resolve-tenant.js');
    const tenant = { id: 'acme\uD800', apiKey: 'pk-x', baseUrl: 'https://x.example/v1', allow: {} };
    const resolve = createTenantResolver({ mode: 'multi', tenants: new Map([[tenant.id, tenant]]) }, 'org_id', async () => tenant);
    const caller = { tenantId: 'acme\uD800', scopes: new Set<string>(), claims: {} } as never;
    await expect(resolve(caller)).rejects.toThrow(/"org_id" claim is not well-formed text/);
  });
});
