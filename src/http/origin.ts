import type { MiddlewareHandler } from 'hono';
import { jsonRpcError } from './json-rpc-error.js';

/**
 * MCP transports §"Security Warning": servers MUST validate the Origin header to prevent DNS
 * rebinding. A request without Origin (not from a browser) is allowed; one from an origin not in
 * ALLOWED_ORIGINS gets 403 before anything else runs.
 */
export function checkOrigin(allowedOrigins: string[]): MiddlewareHandler {
  const allowAll = allowedOrigins.includes('*');
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin !== undefined && !allowAll && !allowed.has(origin.toLowerCase())) {
      return jsonRpcError(c, 403, -32000, `Origin ${JSON.stringify(origin.slice(0, 200))} is not allowed. The server operator can add it to ALLOWED_ORIGINS.`, {
        closeConnection: true,
      });
    }
    await next();
  };
}
