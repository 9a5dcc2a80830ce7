/**
 * Issue 10 item 7: every configured URL is a plain http(s) origin plus a path. Credentials, a
 * query or a fragment are refused at start-up, naming the variable (or the tenant and field), so a
 * base URL can never swallow the invite path or carry the admin key somewhere unexpected.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/server-config.js';
import { SECRETS, rememberSecret } from './support/harness.js';
import { startChild } from './support/child.js';

const PASSWORD = 'url-password-SECRET-93ad';
rememberSecret(PASSWORD);

const base = { AUTH_JWT_SECRET: SECRETS.jwtSecret, PUBLIC_URL: 'https://mcp.example.com' };

function refusal(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

/** Each bad shape, applied to a good URL; `[label, bad URL, what the message must say]`. */
const variants = (good: string): [string, string, RegExp][] => {
  const u = new URL(good);
  const at = `${u.protocol}//`;
  return [
    ['userinfo', good.replace(at, `${at}admin:${PASSWORD}@`), /must not contain credentials/],
    ['a user only', good.replace(at, `${at}admin@`), /must not contain credentials/],
    ['an empty userinfo', good.replace(at, `${at}@`), /must not contain credentials/],
    ['a query', `${good}?x=1`, /must not contain a query/],
    ['an empty query', `${good}?`, /must not contain a query/],
    ['a fragment', `${good}#frag`, /must not contain a fragment/],
    ['an empty fragment', `${good}#`, /must not contain a fragment/],
  ];
};

describe('configured URLs are plain origins plus a path', () => {
  const cases: [string, (url: string) => Record<string, string>, string, RegExp][] = [
    ['PORTKEY_BASE_URL', (url) => ({ PORTKEY_BASE_URL: url }), 'https://api.portkey.ai/v1', /^PORTKEY_BASE_URL /],
    ['AUTH_JWKS_URL', (url) => ({ AUTH_JWT_SECRET: '', AUTH_JWKS_URL: url, AUTH_ISSUER: 'https://issuer.example.com/' }), 'https://issuer.example.com/jwks.json', /^AUTH_JWKS_URL /],
    ['PUBLIC_URL', (url) => ({ PUBLIC_URL: url }), 'https://mcp.example.com', /^PUBLIC_URL /],
    ['an AUTH_SERVERS entry', (url) => ({ AUTH_SERVERS: `https://ok.example.com ${url}` }), 'https://as.example.com', /^AUTH_SERVERS entry /],
    [
      "a TENANTS entry's baseUrl",
      (url) => ({ TENANTS: JSON.stringify({ acme: { apiKey: SECRETS.portkeyKey, baseUrl: url } }) }),
      'https://portkey.internal:8080/v1',
      /^Tenant "acme": baseUrl /,
    ],
  ];
  for (const [name, env, good, names] of cases) {
    it.each(variants(good))(`${name} with %s is refused, naming it, without echoing the URL`, (_label, bad, says) => {
      const message = refusal(env(bad));
      expect(message).toMatch(names);
      expect(message).toMatch(says);
      expect(message).not.toContain(PASSWORD);
      expect(message).not.toContain(bad);
    });

    it(`${name} as a plain origin plus a path is accepted`, () => {
      expect(() => loadConfig({ ...base, ...env(good) })).not.toThrow();
    });
  }

  it('a path-only or schemeless value is still refused as not an http(s) URL', () => {
    expect(refusal({ PORTKEY_BASE_URL: 'ftp://portkey.example/v1' })).toMatch(/PORTKEY_BASE_URL/);
    expect(refusal({ TENANTS: JSON.stringify({ acme: { apiKey: SECRETS.portkeyKey, baseUrl: 'javascript:alert(1)' } }) })).toMatch(/^Tenant "acme": baseUrl/);
  });

  it('the real Node server refuses to start with a fragment in PORTKEY_BASE_URL, and says why', async () => {
    const s = startChild(process.execPath, ['--import', 'tsx', 'src/node.ts'], {
      HOST: '127.0.0.1',
      PORT: '0',
      AUTH_JWT_SECRET: SECRETS.jwtSecret,
      PORTKEY_API_KEY: SECRETS.portkeyKey,
      PORTKEY_BASE_URL: 'https://api.portkey.ai/v1#frag',
    });
    const code = await s.exited;
    expect(code).not.toBe(0);
    expect(s.stdout() + s.stderr()).toMatch(/PORTKEY_BASE_URL must not contain a fragment/);
    expect(s.stdout() + s.stderr()).not.toContain(SECRETS.portkeyKey);
  });
});
