import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * A JSON-RPC error body with an HTTP status, the shape the MCP SDK itself answers with.
 * `closeConnection` is for answers sent before the request body was read: the unread bytes would
 * otherwise be parsed as the next request on a pooled keep-alive socket (RFC 9112 §9.6).
 */
export function jsonRpcError(
  c: Context,
  status: ContentfulStatusCode,
  code: number,
  message: string,
  options: { closeConnection?: boolean; id?: string | number } = {},
): Response {
  if (options.closeConnection) c.header('Connection', 'close');
  return c.json({ jsonrpc: '2.0', error: { code, message }, id: options.id ?? null }, status);
}
