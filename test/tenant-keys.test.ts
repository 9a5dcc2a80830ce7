/**
 * Issue 10 item 2: a tenant entry can only read its key from a variable meant for tenant keys
 * (PORTKEY_KEY_*), never from the server's own settings, and PORTKEY_ALLOWED_HOSTS bounds where a
 * tenant's key may be sent. Refused at start-up with the exact rename; the KV side (Workers) is in
 * test/workers/kv/store-tenants.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/server-config.js';
import { SERVER_VARIABLES } from '../src/config/variables.js';
import { parseTenantEntry } from '../src/tenants/tenant-table.js';
import { SECRETS, rememberSecret, resultText, connectClient, serverPool, token } from './support/harness.js';
import { startChild } from './support/child.js';
import { startPortkeyDouble } from './support/portkey-double.js';

const VALUE = 'pk-admin-VARVALUE-SECRET-61be0c';
rememberSecret(VALUE);

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, PUBLIC_URL: 'https://mcp.example.com', ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(Object.keys(env))}`);
}

const tenantReading = (name: string, id = 'acme') => JSON.stringify({ [id]: { apiKey: { env: name } } });

describe('{"env": NAME} may only name a tenant-key variable', () => {
  it.each([
    ['the signing secret', 'AUTH_JWT_SECRET'],
    ['the public key setting', 'AUTH_PUBLIC_KEY'],
    ['the single-tenant key setting', 'PORTKEY_API_KEY'],
    ['the tenant table itself', 'TENANTS'],
    ['an unrelated variable', 'HOME'],
    ['the old naming style', 'ACME_PORTKEY_KEY'],
    ['the prefix in lower case', 'portkey_key_acme'],
    ['the bare prefix', 'PORTKEY_KEY_'],
    ['the prefix without its underscore', 'PORTKEY_KEYACME'],
  ])('%s (%s) is refused at load time with the exact rename, never the value', (_label, name) => {
    // The server's own settings keep their values (the signing secret is one the harness watches for).
    const message = refusal({ TENANTS: tenantReading(name), ...(SERVER_VARIABLES.has(name) ? {} : { [name]: VALUE }) });
    expect(message).toMatch(/^Tenant "acme": apiKey: /);
    expect(message).toContain(`{"env": "${name}"}`);
    expect(message).toMatch(/PORTKEY_KEY_ACME/);
    expect(message).toMatch(/write \{"env": "PORTKEY_KEY_ACME"\}/);
    expect(message).not.toContain(VALUE);
  });

  it('the rename for the old style says exactly what to do', () => {
    expect(refusal({ TENANTS: tenantReading('ACME_PORTKEY_KEY'), ACME_PORTKEY_KEY: VALUE })).toMatch(
      /Rename the variable ACME_PORTKEY_KEY to PORTKEY_KEY_ACME and write \{"env": "PORTKEY_KEY_ACME"\}/,
    );
    // The suggestion follows the tenant id, whatever characters it has.
    expect(refusal({ TENANTS: tenantReading('GLOBEX_KEY', 'globex-corp.eu') })).toMatch(/Rename the variable GLOBEX_KEY to PORTKEY_KEY_GLOBEX_CORP_EU/);
  });

  it('a server setting is refused even when it carries the prefix', () => {
    const context = { env: { PORTKEY_KEY_SETTING: VALUE }, defaultBaseUrl: 'https://api.portkey.ai/v1', serverVariables: new Set([...SERVER_VARIABLES, 'PORTKEY_KEY_SETTING']) };
    expect(() => parseTenantEntry('acme', { apiKey: { env: 'PORTKEY_KEY_SETTING' } }, context)).toThrow(/names one of this server's own settings/);
  });

  it('something that is not a variable name (a pasted key?) is refused without being echoed', () => {
    const message = refusal({ TENANTS: tenantReading(VALUE) });
    expect(message).toMatch(/must name a variable .* starting with PORTKEY_KEY_/);
    expect(message).not.toContain(VALUE);
  });

  it('PORTKEY_KEY_* variables are read', () => {
    const config = loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, TENANTS: tenantReading('PORTKEY_KEY_ACME'), PORTKEY_KEY_ACME: VALUE });
    expect(config.tenants.mode === 'multi' && config.tenants.tenants.get('acme')?.apiKey).toBe(VALUE);
  });

  it('the real Node server refuses to start when a tenant reads AUTH_JWT_SECRET, and says how to fix it', async () => {
    const s = startChild(process.execPath, ['--import', 'tsx', 'src/node.ts'], {
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_JWT_SECRET: SECRETS.jwtSecret,
      TENANTS: JSON.stringify({ acme: { apiKey: { env: 'AUTH_JWT_SECRET' }, baseUrl: 'http://127.0.0.1:9/v1' } }),
    });
    expect(await s.exited).not.toBe(0);
    const out = s.stdout() + s.stderr();
    expect(out).toMatch(/Tenant "acme": apiKey: \{"env": "AUTH_JWT_SECRET"\} names one of this server's own settings/);
    expect(out).not.toContain(SECRETS.jwtSecret);
  });
});

describe('PORTKEY_ALLOWED_HOSTS', () => {
  const tenants = (baseUrl: string) => JSON.stringify({ acme: { apiKey: VALUE, baseUrl } });

  it('when set, a TENANTS baseUrl on another host stops start-up, naming the tenant and the host', () => {
    const message = refusal({ PORTKEY_ALLOWED_HOSTS: 'portkey.internal.acme.com', TENANTS: tenants('https://collector.evil.example/v1') });
    expect(message).toMatch(/^Tenant "acme": baseUrl: host "collector.evil.example" is not in PORTKEY_ALLOWED_HOSTS \(allowed: https:\/\/api\.portkey\.ai, portkey\.internal\.acme\.com\)/);
    expect(message).not.toContain(VALUE);
  });

  it.each([
    ['a listed host', 'https://portkey.internal.acme.com/v1', 'portkey.internal.acme.com'],
    ['a listed host:port', 'https://10.0.0.5:8080/v1', '10.0.0.5:8080'],
    ["PORTKEY_BASE_URL's host, always", 'https://api.portkey.ai/v2', 'portkey.internal.acme.com'],
  ])('%s is accepted', (_label, baseUrl, allowed) => {
    expect(() => loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, PORTKEY_ALLOWED_HOSTS: allowed, TENANTS: tenants(baseUrl) })).not.toThrow();
  });

  it('a host:port entry does not allow another port', () => {
    expect(refusal({ PORTKEY_ALLOWED_HOSTS: '10.0.0.5:8080', TENANTS: tenants('https://10.0.0.5:9090/v1') })).toMatch(/host "10.0.0.5:9090" is not in PORTKEY_ALLOWED_HOSTS/);
  });

  it('a host entry allows only the default port: port and scheme are compared, not the host alone', () => {
    expect(refusal({ PORTKEY_ALLOWED_HOSTS: 'portkey.internal.acme.com', TENANTS: tenants('https://portkey.internal.acme.com:8443/v1') })).toMatch(
      /host "portkey.internal.acme.com:8443" is not in PORTKEY_ALLOWED_HOSTS/,
    );
    // PORTKEY_BASE_URL's origin, not its host: another port on api.portkey.ai is not it.
    expect(refusal({ PORTKEY_ALLOWED_HOSTS: 'portkey.internal.acme.com', TENANTS: tenants('https://api.portkey.ai:8080/v1') })).toMatch(
      /host "api.portkey.ai:8080" is not in PORTKEY_ALLOWED_HOSTS/,
    );
  });

  it('when unset, TENANTS (the operator\'s own writing) may point anywhere', () => {
    expect(() => loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, TENANTS: tenants('https://portkey.self-hosted.example/v1') })).not.toThrow();
  });

  it.each(['https://portkey.example.com', 'portkey.example.com/v1', 'user@portkey.example.com', 'portkey.example.com:99999'])('an entry that is not a host (%s) is refused', (entry) => {
    expect(refusal({ PORTKEY_ALLOWED_HOSTS: entry })).toMatch(/^PORTKEY_ALLOWED_HOSTS entry .* is not a host name: use host or host:port/);
  });

  it('a tenant on an allowed host is served through the real server', async () => {
    const start = serverPool();
    const portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
    try {
      const server = await start({
        PORTKEY_ALLOWED_HOSTS: new URL(portkey.url).host,
        TENANTS: JSON.stringify({ acme: { apiKey: { env: 'PORTKEY_KEY_ACME' }, baseUrl: portkey.url } }),
        PORTKEY_KEY_ACME: SECRETS.portkeyKey,
      });
      const client = await connectClient(server.mcpUrl, await token({ claims: { org_id: 'acme' } }));
      const result = await client.callTool({ name: 'invite_user', arguments: { email: 'jane@example.com', role: 'member', workspaces: [] } });
      await client.close();
      expect(result.isError, resultText(result)).toBeFalsy();
      expect(portkey.requests.map((r) => r.headers['x-portkey-api-key'])).toEqual([SECRETS.portkeyKey]);
    } finally {
      await portkey.close();
    }
  });
});
