import { BoundedText, transportFailure, unaskedEncoding, type HttpTransport } from './transport.js';

/**
 * The transport over WHATWG fetch: the native path on Workers, and the default when an entry
 * injects nothing. fetch decodes gzip/br/deflate on its own, so the body is bounded by counting
 * the DECODED bytes as they stream, never by Content-Length (the size on the wire); and an answer
 * in an encoding other than identity, which was not asked for, is refused before reading a byte.
 *
 * `fetch` is looked up at call time, so a runtime (or a test) that replaces the global is honoured.
 */
export function createFetchTransport(fetchImpl: typeof fetch = (input, init) => fetch(input, init)): HttpTransport {
  return {
    async exchange(request) {
      const deadline = AbortSignal.timeout(request.timeoutMs);
      let answered = false;
      try {
        const response = await fetchImpl(request.url, {
          method: request.method,
          headers: { ...request.headers, 'accept-encoding': 'identity' },
          body: request.body,
          signal: deadline,
          // Never follow a redirect: it would resend the admin key (a custom header, which fetch
          // does not strip across origins) and the request to wherever the Location points.
          redirect: 'manual',
        });
        answered = true;
        const encoding = unaskedEncoding(response.headers.get('content-encoding'));
        if (encoding !== undefined) {
          await response.body?.cancel().catch(() => {});
          return { status: response.status, headers: response.headers, body: { kind: 'encoded', encoding } };
        }
        if (!response.body) return { status: response.status, headers: response.headers, body: { kind: 'text', text: '' } };
        const reader = response.body.getReader();
        const text = new BoundedText(request.maxBodyBytes);
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return { status: response.status, headers: response.headers, body: { kind: 'text', text: text.finish() } };
          if (!text.add(value)) {
            await reader.cancel().catch(() => {});
            return { status: response.status, headers: response.headers, body: { kind: 'too_large' } };
          }
        }
      } catch (err) {
        throw transportFailure(err, deadline, answered);
      }
    },
  };
}
