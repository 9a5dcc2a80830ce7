import type { Context, MiddlewareHandler } from 'hono';

/**
 * Runs `middleware` only for requests that carry an Origin header (browsers). hono/cors touches
 * the response before and after the handler even when there is no Origin, which makes Hono
 * rebuild every response and costs @hono/node-server its single-write fast path.
 */
export function onlyWithOrigin(middleware: MiddlewareHandler): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.header('origin') === undefined) return next();
    // Responses differ by Origin (CORS headers), so caches must key on it.
    c.header('Vary', 'Origin');
    return middleware(c, next);
  };
}

/**
 * The body limit, decided from Content-Length alone when the request has one: reading
 * `c.req.raw.body` (as hono/body-limit does) builds a full Request and stream on Node and skips
 * its fast body read. Chunked bodies, which have no length up front, go to `streamingLimit`.
 */
export function bodyLimitByLength(maxBytes: number, tooLarge: (c: Context) => Response, streamingLimit: MiddlewareHandler): MiddlewareHandler {
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      return Number(length) > maxBytes ? tooLarge(c) : next();
    }
    return streamingLimit(c, next);
  };
}
