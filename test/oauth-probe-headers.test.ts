/**
 * The "no OAuth here" answers (issue 26): never cached by a shared cache (an operator may configure
 * an authorization server later), nosniff, and readable by a browser-based client (CORS, preflight
 * included). And INSECURE_HTTP_HOSTS=host means the default port only, as PORTKEY_ALLOWED_HOSTS does.
 */
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/server-config.js';
import { SECRETS } from './support/harness.js';

const app = createApp(loadConfig({ AUTH_JWT_SECRET: SECRETS.jwtSecret, PUBLIC_URL: 'http://mcp.test', PORTKEY_API_KEY: SECRETS.portkeyKey }));
const request = (path: string, init: RequestInit = {}) => app.fetch(new Request(`http://mcp.test${path}`, init));

describe('answers that say no OAuth runs here', () => {
  it.each([
    ['POST', '/register', 501],
    ['GET', '/authorize', 501],
    ['POST', '/token', 501],
    ['GET', '/.well-known/oauth-authorization-server', 404],
    ['GET', '/.well-known/openid-configuration', 404],
    ['GET', '/.well-known/oauth-protected-resource/mcp', 404],
  ])('%s %s: %i with no-store, nosniff and CORS', async (method, path, status) => {
    const res = await request(path, { method, headers: { origin: 'http://inspector.example' } });
    expect(res.status).toBe(status);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });

  it("a browser's preflight for POST /register passes, so the 501's advice can be read", async () => {
    const res = await request('/register', {
      method: 'OPTIONS',
      headers: { origin: 'http://inspector.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('INSECURE_HTTP_HOSTS', () => {
  const base = { AUTH_JWT_SECRET: SECRETS.jwtSecret, PUBLIC_URL: 'http://mcp.test', PORTKEY_API_KEY: SECRETS.portkeyKey };
  it('a bare host allows plain http on the default port only', () => {
    expect(() => loadConfig({ ...base, PORTKEY_BASE_URL: 'http://portkey.internal/v1', INSECURE_HTTP_HOSTS: 'portkey.internal' })).not.toThrow();
    expect(() => loadConfig({ ...base, PORTKEY_BASE_URL: 'http://portkey.internal:8080/v1', INSECURE_HTTP_HOSTS: 'portkey.internal' })).toThrow(/INSECURE_HTTP_HOSTS=portkey.internal:8080/);
    expect(() => loadConfig({ ...base, PORTKEY_BASE_URL: 'http://portkey.internal:8080/v1', INSECURE_HTTP_HOSTS: 'portkey.internal:8080' })).not.toThrow();
  });
});

describe('REDIS_URL and TENANTS_REDIS_PREFIX', () => {
  const base = { AUTH_JWT_SECRET: SECRETS.jwtSecret, PUBLIC_URL: 'http://mcp.test', PORTKEY_API_KEY: SECRETS.portkeyKey };
  it('a bare % in the password is explained, naming REDIS_URL, without showing the value', () => {
    const attempt = () => loadConfig({ ...base, REDIS_URL: 'redis://pim:pa%ss-SECRET@redis.internal:6379' });
    expect(attempt).toThrow(/REDIS_URL: the password holds a "%".*%25/);
    expect(attempt).not.toThrow(/pa%ss-SECRET/);
  });
  it.each(['pim:', 'pim:limit:', 'pim:limit:x', 'p'])('a tenants prefix overlapping the limit keys (%j) is refused', (prefix) => {
    expect(() => loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379', TENANTS_REDIS_PREFIX: prefix })).toThrow(/TENANTS_REDIS_PREFIX .* overlaps the keys the rate limits keep/);
  });
  it('a prefix of its own is accepted, and the database index is read from the path', () => {
    expect(loadConfig({ ...base, PORTKEY_API_KEY: undefined, REDIS_URL: 'redis://127.0.0.1:6379/3', TENANTS_REDIS_PREFIX: 'tenants:' }).redis).toMatchObject({ db: 3, tenantsPrefix: 'tenants:' });
  });
});
