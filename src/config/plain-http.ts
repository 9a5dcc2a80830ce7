/** Loopback names and addresses: traffic to them never leaves the machine. */
export const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i;

/** The setting that names the non-loopback hosts plain http may reach. */
export const INSECURE_HTTP_HOSTS = 'INSECURE_HTTP_HOSTS';

/**
 * Plain `http` to a host other than loopback sends what travels on it in the clear: a tenant's
 * admin key (PORTKEY_BASE_URL, a tenant's baseUrl), the keys every token is checked against
 * (AUTH_JWKS_URL: anyone on the path could then forge tokens), or callers' bearer tokens
 * (PUBLIC_URL; RFC 6750 §5.3: always use TLS). So it needs an explicit opt-in naming the host
 * (INSECURE_HTTP_HOSTS, e.g. a control plane on a private network); undefined when allowed.
 */
export function plainHttpProblem(value: string, name: string, insecureHosts: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined; // not a URL: checkOriginAndPath reports it
  }
  if (url.protocol !== 'http:' || LOOPBACK_HOST.test(url.hostname)) return undefined;
  // As in PORTKEY_ALLOWED_HOSTS: `host` allows the scheme's default port only, `host:port` that port
  // (WHATWG URL leaves the port empty for the default one, and url.host then has no port).
  if (insecureHosts.includes(url.host)) return undefined;
  return (
    `${name} uses plain http to ${JSON.stringify(url.host)}, which is not a loopback address: use https, ` +
    `or, if this host is on a network you trust, name it in ${INSECURE_HTTP_HOSTS} (e.g. ${INSECURE_HTTP_HOSTS}=${url.host}).`
  );
}
