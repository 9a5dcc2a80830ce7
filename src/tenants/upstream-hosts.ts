import { ConfigError } from '../errors.js';

/**
 * PORTKEY_ALLOWED_HOSTS: the hosts a tenant's `baseUrl` may point at. A tenant's admin key is sent
 * to its base URL, so whoever can write a tenant entry could otherwise send that key anywhere.
 * The host of PORTKEY_BASE_URL is always allowed (the operator chose it). Entries are `host` (any
 * port) or `host:port` (that port only), exact names, no wildcards.
 */
export interface UpstreamHosts {
  allows(baseUrl: string): boolean;
  /** For messages: the allowed hosts, as written. */
  readonly names: string[];
}

/** Parses PORTKEY_ALLOWED_HOSTS entries; a wrong one stops start-up naming it. */
export function parseAllowedHosts(entries: string[]): string[] {
  return entries.map((entry) => {
    let url: URL | undefined;
    try {
      url = new URL(`http://${entry}`);
    } catch {
      url = undefined;
    }
    const host = entry.toLowerCase();
    if (!url || (url.host !== host && url.hostname !== host) || url.pathname !== '/' || url.username || url.search || url.hash) {
      throw new ConfigError(
        `PORTKEY_ALLOWED_HOSTS entry ${JSON.stringify(entry.slice(0, 100))} is not a host name: use host or host:port, e.g. portkey.internal.example.com.`,
      );
    }
    return host;
  });
}

export function upstreamHosts(allowed: string[], defaultBaseUrl: string): UpstreamHosts {
  const names = [...new Set([new URL(defaultBaseUrl).host, ...allowed])];
  const set = new Set(names);
  return {
    names,
    allows(baseUrl) {
      const url = new URL(baseUrl);
      return set.has(url.host) || set.has(url.hostname);
    },
  };
}
