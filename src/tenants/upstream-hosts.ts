/**
 * PORTKEY_ALLOWED_HOSTS: the hosts a tenant's `baseUrl` may point at. A tenant's admin key is sent
 * to its base URL, so whoever can write a tenant entry could otherwise send that key anywhere.
 * PORTKEY_BASE_URL's origin (scheme, host and port) is always allowed: the operator chose it. Entries
 * are `host` (the scheme's default port only) or `host:port` (that port only), exact names, no
 * wildcards. The scheme counts too: `http` to a host other than loopback also needs
 * INSECURE_HTTP_HOSTS (config/plain-http.ts), checked with every baseUrl.
 */
export interface UpstreamHosts {
  allows(baseUrl: string): boolean;
  /** For messages: the allowed hosts, as written. */
  readonly names: string[];
}

export function upstreamHosts(allowed: string[], defaultBaseUrl: string): UpstreamHosts {
  const defaultOrigin = new URL(defaultBaseUrl).origin;
  const names = [...new Set([defaultOrigin, ...allowed])];
  const set = new Set(allowed);
  return {
    names,
    allows(baseUrl) {
      const url = new URL(baseUrl);
      if (url.origin === defaultOrigin) return true;
      // WHATWG URL leaves port empty for the scheme's default: `host` entries match only that,
      // so https://api.portkey.ai:8080 is not https://api.portkey.ai.
      return set.has(url.host) || (url.port === '' && set.has(url.hostname));
    },
  };
}
