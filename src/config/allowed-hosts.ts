import { ConfigError } from '../errors.js';

/** Parses PORTKEY_ALLOWED_HOSTS entries; a wrong one stops start-up naming it. */
export function parseAllowedHosts(entries: string[], variable = 'PORTKEY_ALLOWED_HOSTS'): string[] {
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
        `${variable} entry ${JSON.stringify(entry.slice(0, 100))} is not a host name: use host or host:port, e.g. portkey.internal.example.com.`,
      );
    }
    return host;
  });
}
