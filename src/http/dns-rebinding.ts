import type { MiddlewareHandler } from 'hono';
import type { Config } from '../server-config.js';
import { jsonRpcError } from './json-rpc-error.js';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
/** Distinct Host values whose verdict is remembered; past it the memory starts over. */
const MAX_REMEMBERED_HOSTS = 256;

/** The hostname of a Host header or an origin, lowercased, without the port. */
function hostnameOf(value: string): string | undefined {
  try {
    return new URL(value.includes('://') ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

export interface RequestSourcePolicy {
  originAllowed(origin: string): boolean;
  hostAllowed(host: string): boolean;
}

/**
 * Which browser origins and Host headers may reach /mcp (MCP transports §"Security Warning":
 * validate Origin to prevent DNS rebinding). Allowed origins: ALLOWED_ORIGINS, the server's own
 * PUBLIC_URL origin, and, on a loopback-bound server, loopback origins. The Host header is checked
 * when the server listens on loopback (where a rebinding attack lands), when ALLOWED_HOSTS is set,
 * and always on Workers (config.checkHost): it must name PUBLIC_URL's host, an ALLOWED_HOSTS
 * entry, or (on loopback) a loopback name. A Worker is never loopback, whatever HOST says.
 */
export function requestSourcePolicy(config: Config): RequestSourcePolicy {
  const origins = new Set(config.allowedOrigins.map((o) => o.toLowerCase()));
  const anyOrigin = origins.has('*');
  const publicUrl = new URL(config.publicUrl);
  const publicOrigin = publicUrl.origin.toLowerCase();
  const hosts = new Set([publicUrl.hostname.toLowerCase(), ...config.allowedHosts.map((h) => h.toLowerCase())]);
  const hostAllowed = (host: string): boolean => {
    const name = hostnameOf(host);
    if (name === undefined) return false;
    return hosts.has(name) || (config.loopback && LOOPBACK_NAMES.has(name));
  };
  // Every request carries one of a handful of Host values: the verdict is kept per value rather
  // than parsing a URL per request. Bounded, since the value comes from the client.
  const verdicts = new Map<string, boolean>();
  return {
    originAllowed(origin) {
      const o = origin.toLowerCase();
      if (anyOrigin || origins.has(o) || o === publicOrigin) return true;
      const name = hostnameOf(o);
      return config.loopback && name !== undefined && LOOPBACK_NAMES.has(name);
    },
    hostAllowed(host) {
      if (!config.checkHost) return true;
      let allowed = verdicts.get(host);
      if (allowed === undefined) {
        allowed = hostAllowed(host);
        if (verdicts.size >= MAX_REMEMBERED_HOSTS) verdicts.clear();
        verdicts.set(host, allowed);
      }
      return allowed;
    },
  };
}

/** 403 for a foreign Host or Origin, before anything else runs. */
export function guardRequestSource(policy: RequestSourcePolicy): MiddlewareHandler {
  return async (c, next) => {
    // The Host header where the runtime passes it (Node), else the request URL's host (Workers).
    const host = c.req.header('host') ?? new URL(c.req.url).host;
    if (!policy.hostAllowed(host)) {
      return jsonRpcError(
        c,
        403,
        -32000,
        `Host ${JSON.stringify(host.slice(0, 200))} is not this server's. Use the URL in PUBLIC_URL; the operator can add more names to ALLOWED_HOSTS.`,
        { closeConnection: true },
      );
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && !policy.originAllowed(origin)) {
      return jsonRpcError(c, 403, -32000, `Origin ${JSON.stringify(origin.slice(0, 200))} is not allowed. The server operator can add it to ALLOWED_ORIGINS.`, {
        closeConnection: true,
      });
    }
    await next();
  };
}
