/**
 * Configuration that cannot be unsafe (issue 20): keys that cannot travel in a header, plain http
 * to a host that is not loopback, a JWKS cooldown of zero, and an external tenant store's entry
 * borrowing another tenant's key are refused, naming the setting and never the value.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/server-config.js';
import { SERVER_VARIABLES } from '../src/config/variables.js';
import { createLogger } from '../src/log.js';
import { createStoreTenantLookup } from '../src/tenants/store-tenants.js';
import { TenantLookupError } from '../src/errors.js';
import { repo, startChild } from './support/child.js';
import { connectClient, observed, resultText, SECRETS, startTestServer, token } from './support/harness.js';
import { createTenantResolver } from '../src/tenants/resolve-tenant.js';
import { startPortkeyDouble } from './support/portkey-double.js';
import { join } from 'node:path';

const KEY = 'pk-safety-SECRET-0001';
observed.secrets.add(KEY);
const withBreak = `${KEY}\r\n`;

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('keys that are not valid header values are refused', () => {
  it.each([
    ['a CR/LF', `${KEY}\r\nX-Injected: 1`],
    ['a NUL', `${KEY}\u0000`],
    ['an inner space', 'pk-safety SECRET'],
    ['a non-ASCII character', 'pk-safety-SECRÉT'],
  ])('PORTKEY_API_KEY with %s stops start-up, naming the variable, never the value', (_label, key) => {
    const message = refusal({ PORTKEY_API_KEY: key });
    expect(message).toMatch(/^PORTKEY_API_KEY: the key contains .* which cannot be sent in an HTTP header/);
    expect(message).not.toContain('pk-safety');
  });

  it('a TENANTS key, inline or from its variable, with a line break stops start-up naming the tenant', () => {
    expect(refusal({ TENANTS: JSON.stringify({ acme: { apiKey: withBreak } }) })).toMatch(/^Tenant "acme": apiKey: the key contains a line break/);
    const fromVariable = refusal({ TENANTS: JSON.stringify({ acme: { apiKey: { env: 'PORTKEY_KEY_ACME' } } }), PORTKEY_KEY_ACME: `pk-a\nb` });
    expect(fromVariable).toMatch(/^Tenant "acme": apiKey \(variable PORTKEY_KEY_ACME\): the key contains a line break/);
    expect(fromVariable).not.toContain('pk-a');
  });

  it('the real entry refuses to start with a CR/LF key in TENANTS_FILE-style TENANTS, naming the tenant', async () => {
    const tsx = new URL(import.meta.resolve('tsx')).pathname;
    const child = startChild(
      process.execPath,
      ['--import', tsx, join(repo, 'src/node.ts')],
      { PORT: '0', AUTH_JWT_SECRET: SECRETS.jwtSecret, TENANTS: JSON.stringify({ acme: { apiKey: withBreak } }) },
    );
    expect(await child.exited).toBe(1);
    expect(child.stderr()).toMatch(/Configuration error: Tenant "acme": apiKey: the key contains a line break/);
    expect(child.stdout() + child.stderr()).not.toContain(KEY);
  });
});

describe('plain http to a host that is not loopback needs INSECURE_HTTP_HOSTS', () => {
  it.each([
    ['PORTKEY_BASE_URL', { PORTKEY_BASE_URL: 'http://api.portkey.ai/v1' }],
    ['AUTH_JWKS_URL', { AUTH_JWT_SECRET: '', AUTH_JWKS_URL: 'http://issuer.example.com/jwks.json', AUTH_ISSUER: 'https://issuer.example.com' }],
    ['Tenant "acme": baseUrl', { TENANTS: JSON.stringify({ acme: { apiKey: KEY, baseUrl: 'http://portkey.internal:8080/v1' } }) }],
  ])('%s over plain http is refused, naming the setting and the fix', (name, env) => {
    const message = refusal(env as Record<string, string>);
    expect(message).toContain(`${name} uses plain http to`);
    expect(message).toContain('INSECURE_HTTP_HOSTS=');
  });

  it('the hosts named in INSECURE_HTTP_HOSTS, and loopback, may use plain http', () => {
    expect(() =>
      loadConfig({
        AUTH_JWT_SECRET: SECRETS.jwtSecret,
        INSECURE_HTTP_HOSTS: 'api.portkey.ai, portkey.internal:8080',
        PORTKEY_BASE_URL: 'http://api.portkey.ai/v1',
        TENANTS: JSON.stringify({ acme: { apiKey: KEY, baseUrl: 'http://portkey.internal:8080/v1' }, local: { apiKey: KEY, baseUrl: 'http://127.0.0.1:9/v1' } }),
      }),
    ).not.toThrow();
    // host:port names that port only.
    expect(refusal({ INSECURE_HTTP_HOSTS: 'portkey.internal:8080', PORTKEY_BASE_URL: 'http://portkey.internal:9090/v1' })).toContain('PORTKEY_BASE_URL uses plain http');
  });

  it('PUBLIC_URL over plain http on a public name is a warning (a TLS-terminating proxy may stand in front)', () => {
    const config = loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, PORTKEY_API_KEY: KEY, PUBLIC_URL: 'http://mcp.example.com' });
    expect(config.warnings.join('\n')).toContain('PUBLIC_URL uses plain http to "mcp.example.com"');
  });
});

describe('AUTH_JWKS_COOLDOWN_MS has a minimum', () => {
  it('0 is refused with the minimum named; 1000 is accepted', () => {
    const jwks = { AUTH_JWT_SECRET: '', AUTH_JWKS_URL: 'https://issuer.example.com/jwks.json', AUTH_ISSUER: 'https://issuer.example.com', PORTKEY_API_KEY: KEY };
    expect(refusal({ ...jwks, AUTH_JWKS_COOLDOWN_MS: '0' })).toMatch(/^Invalid AUTH_JWKS_COOLDOWN_MS: .* at least 1000/);
    expect(() => loadConfig({ ...jwks, AUTH_JWKS_COOLDOWN_MS: '1000' })).not.toThrow();
  });
});

describe('an external tenant store (KV) entry', () => {
  const logs: string[] = [];
  const lookupWith = (entries: Record<string, string>, env: Record<string, string> = {}, defaultBaseUrl = 'https://api.portkey.ai/v1') =>
    createStoreTenantLookup({
      kv: { get: async (k: string) => entries[k] ?? null },
      env,
      defaultBaseUrl,
      serverVariables: SERVER_VARIABLES,
      logger: createLogger((line) => logs.push(line)),
    });
  const problemFor = async (lookup: ReturnType<typeof lookupWith>, id: string) => {
    logs.length = 0;
    await expect(lookup(id)).rejects.toBeInstanceOf(TenantLookupError);
    return (JSON.parse(logs.find((l) => l.includes('tenants.store_entry_invalid'))!) as { problem: string }).problem;
  };

  it("may not read another tenant's key variable; its own, or an inline key, is fine", async () => {
    const env = { PORTKEY_KEY_ACME: KEY, PORTKEY_KEY_EVIL: 'pk-evil-SECRET-0002' };
    observed.secrets.add(env.PORTKEY_KEY_EVIL);
    const lookup = lookupWith(
      {
        evil: JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_ACME' } }),
        'evil-corp': JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_EVIL' } }),
        good: JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_EVIL' } }),
      },
      env,
    );
    expect(await problemFor(lookup, 'evil')).toMatch(/^Tenant "evil": apiKey: \{"env": "PORTKEY_KEY_ACME"\} is not this tenant's key variable: .* only its own, PORTKEY_KEY_EVIL/);
    expect(await problemFor(lookup, 'good')).toMatch(/only its own, PORTKEY_KEY_GOOD/);
    const own = lookupWith({ evil: JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_EVIL' } }), inline: JSON.stringify({ apiKey: KEY }) }, env);
    expect((await own('evil'))?.apiKey).toBe(env.PORTKEY_KEY_EVIL);
    expect((await own('inline'))?.apiKey).toBe(KEY);
    expect(logs.join('\n')).not.toContain(KEY);
  });

  it('with a CR/LF key, or plain http to api.portkey.ai:8080, is refused per entry', async () => {
    const lookup = lookupWith({
      crlf: JSON.stringify({ apiKey: withBreak }),
      plain: JSON.stringify({ apiKey: KEY, baseUrl: 'http://api.portkey.ai:8080/v1' }),
      port: JSON.stringify({ apiKey: KEY, baseUrl: 'https://api.portkey.ai:8080/v1' }),
    });
    expect(await problemFor(lookup, 'crlf')).toMatch(/apiKey: the key contains a line break/);
    expect(await problemFor(lookup, 'plain')).toMatch(/baseUrl uses plain http to "api.portkey.ai:8080"/);
    // Another port on the default host is another origin: not allowed by the default rule.
    expect(await problemFor(lookup, 'port')).toMatch(/host "api.portkey.ai:8080" is not in PORTKEY_ALLOWED_HOSTS/);
    expect(logs.join('\n')).not.toContain(KEY);
  });

  it('through the real server: the borrowing entry gets the broken-entry error and Portkey receives nothing', async () => {
    const portkey = await startPortkeyDouble({ adminKeys: [KEY] });
    const env = { PORTKEY_KEY_ACME: KEY };
    const lookup = lookupWith({ evil: JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_ACME' } }) }, env, portkey.url);
    const server = await startTestServer({}, { resolveTenant: createTenantResolver({ mode: 'multi', tenants: new Map() }, 'org_id', lookup) });
    try {
      const client = await connectClient(server.mcpUrl, await token({ claims: { org_id: 'evil' } }));
      const result = await client.callTool({ name: 'invite_user', arguments: { email: 'x@example.com', role: 'member', workspaces: [] } });
      expect(result.isError).toBe(true);
      expect(resultText(result)).toMatch(/entry in the tenant store is invalid, so nothing was sent to Portkey/);
      expect(portkey.requests).toHaveLength(0);
      await client.close();
    } finally {
      await server.close();
      await portkey.close();
    }
  });
});
