import type { MiddlewareHandler } from 'hono';

/** An incoming X-Request-Id is kept only when it is short and plain, so it can go into logs. */
const SAFE_ID = /^[\w\-=]{1,255}$/;

export type RequestIdVariables = { requestId: string };

/**
 * Request ids like hono/request-id, but the header is set on the finished response in place:
 * hono/request-id prepares it before the handler, and Hono drops prepared headers when a handler
 * returns its own Response (as the MCP transport does). Mutating the response's headers keeps
 * @hono/node-server's single-write fast path.
 */
export function requestId(): MiddlewareHandler<{ Variables: RequestIdVariables }> {
  return async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const id = incoming !== undefined && SAFE_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set('requestId', id);
    await next();
    c.res.headers.set('X-Request-Id', id);
  };
}
