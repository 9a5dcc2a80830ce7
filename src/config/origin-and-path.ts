import { ConfigError } from '../errors.js';

/**
 * The one validator for every URL this server is configured with (PORTKEY_BASE_URL, a tenant's
 * baseUrl, AUTH_JWKS_URL, PUBLIC_URL, AUTH_SERVERS entries): an http(s) origin plus a path,
 * nothing else.
 * - No userinfo: `user:pass@` is not how Portkey or a JWKS host authenticates, and WHATWG fetch
 *   refuses such URLs, which surfaced as a misleading "may or may not have been created".
 * - No query: paths are joined to a base URL as strings, so `?x=1` would swallow the path
 *   (`/v1?x=1/admin/users/invites`).
 * - No fragment: `#frag` would swallow it too, sending the admin key to the bare base URL.
 *   (RFC 8707 §2 and RFC 8414 §2 also forbid a fragment in a resource or issuer identifier.)
 * Plain `http` is allowed: loopback test doubles, and self-hosted control planes on a private
 * network; docs/security.md says so.
 *
 * Returns the value unchanged: with no query or fragment, joining a path to it and parsing the
 * result (as fetch does) lands on the origin and path checked here.
 */
export function checkOriginAndPath(value: string, name: string, example: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a URL: expected an http(s) URL such as ${example}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name} must use http or https: expected an http(s) URL such as ${example}.`);
  }
  // The raw text is checked too: WHATWG drops an empty userinfo, query or fragment ("https://@h/", "…/v1?", "…/v1#").
  const authority = value.slice(value.indexOf('//') + 2).split(/[/\\?#]/, 1)[0] ?? '';
  if (url.username || url.password || authority.includes('@')) {
    throw new ConfigError(`${name} must not contain credentials (user:password@): remove them; keys and tokens are configured separately.`);
  }
  if (url.search || value.includes('?')) {
    throw new ConfigError(`${name} must not contain a query (?…): give the origin and path only, e.g. ${example}.`);
  }
  if (url.hash || value.includes('#')) {
    throw new ConfigError(`${name} must not contain a fragment (#…): give the origin and path only, e.g. ${example}.`);
  }
  return value;
}
