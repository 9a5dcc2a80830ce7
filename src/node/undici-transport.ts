/**
 * The Node transport: undici, the Node project's own HTTP client, without the WHATWG fetch layer
 * (on Node most of fetch's cost per call). Imported only by the Node entry, never by the core.
 *
 * - One keep-alive pool per upstream origin (undici's Agent makes one Pool per origin), at most
 *   `connectionsPerOrigin` connections each; calls beyond it wait in the pool's queue, inside
 *   their own deadline.
 * - No interceptors: undici's request() follows no redirect (that needs the redirect
 *   interceptor), retries nothing (that needs the retry interceptor) and decodes nothing (that
 *   needs the decompress interceptor), so the bytes read are the decoded bytes once the answer
 *   is known to be identity-encoded.
 * - One deadline per exchange: an AbortSignal over the whole of it, with undici's connect,
 *   headers and body timeouts set to the same span as a backstop.
 */
import { Agent } from 'undici';
import { BoundedText, transportFailure, unaskedEncoding, type HttpAnswer, type HttpTransport } from '../portkey/transport.js';

export interface UndiciTransportOptions {
  /** Connect timeout (ms); the Node entry passes PORTKEY_TIMEOUT_MS. */
  connectTimeoutMs: number;
  /** Most connections kept per upstream origin. */
  connectionsPerOrigin?: number;
}

/** Enough for the concurrency one process serves; bounds what a slow upstream can hold open. */
const DEFAULT_CONNECTIONS_PER_ORIGIN = 64;

export function createUndiciTransport(options: UndiciTransportOptions): Required<HttpTransport> {
  const agent = new Agent({
    connections: options.connectionsPerOrigin ?? DEFAULT_CONNECTIONS_PER_ORIGIN,
    connect: { timeout: options.connectTimeoutMs },
  });

  return {
    async exchange(request) {
      const deadline = startDeadline(request.timeoutMs);
      const url = targetOf(request.url);
      let answered = false;
      try {
        const response = await agent.request({
          origin: url.origin,
          path: url.path,
          method: request.method,
          headers: { ...request.headers, 'accept-encoding': 'identity' },
          body: request.body,
          signal: deadline.signal,
          headersTimeout: request.timeoutMs,
          bodyTimeout: request.timeoutMs,
        });
        answered = true;
        // Abandoning a body (below) makes undici emit an abort error on it: expected, not a crash.
        response.body.on('error', () => {});
        const headers = headerReader(response.headers);
        const answer = (body: HttpAnswer['body']): HttpAnswer => ({ status: response.statusCode, headers, body });
        const encoding = unaskedEncoding(headers.get('content-encoding'));
        if (encoding !== undefined) {
          response.body.destroy();
          return answer({ kind: 'encoded', encoding });
        }
        const text = new BoundedText(request.maxBodyBytes);
        for await (const chunk of response.body as AsyncIterable<Buffer>) {
          if (!text.add(chunk)) {
            // Abandons the answer; undici closes that connection rather than reuse it mid-body.
            response.body.destroy();
            return answer({ kind: 'too_large' });
          }
        }
        return answer({ kind: 'text', text: text.finish() });
      } catch (err) {
        throw transportFailure(err, deadline.signal, answered);
      } finally {
        deadline.clear();
      }
    },
    close: () => agent.close(),
  };
}

/** Distinct upstream URLs whose parts are remembered: a few per tenant, from configuration. */
const MAX_REMEMBERED_URLS = 256;
const targets = new Map<string, { origin: string; path: string }>();

/**
 * The origin and path undici's request() takes, parsed once per upstream URL rather than per call.
 * Only URLs without a query are remembered: a query carries call data (the invite lookup's email),
 * which has no business staying in memory after the call.
 */
function targetOf(href: string): { origin: string; path: string } {
  let target = targets.get(href);
  if (target === undefined) {
    const url = new URL(href);
    target = { origin: url.origin, path: `${url.pathname}${url.search}` };
    if (url.search) return target;
    if (targets.size >= MAX_REMEMBERED_URLS) targets.clear();
    targets.set(href, target);
  }
  return target;
}

/**
 * What AbortSignal.timeout gives (an AbortSignal that aborts with a TimeoutError DOMException),
 * but with a timer that is cleared once the exchange is over: AbortSignal.timeout's timer cannot
 * be cleared, so under load every call would leave one pending for the whole timeout.
 */
function startDeadline(ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), ms);
  // As AbortSignal.timeout's: a pending deadline does not keep the process alive.
  timer.unref();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

function headerReader(raw: Record<string, string | string[] | undefined>): HttpAnswer['headers'] {
  return {
    get(name) {
      const value = raw[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  };
}
