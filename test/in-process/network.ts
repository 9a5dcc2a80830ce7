/**
 * A network inside the test process: origins registered here are answered by their handler
 * (the app's own `fetch`, or the Portkey double's), with no socket, on Node and in workerd alike.
 * An origin nobody registered fails as a refused connection does (fetch's TypeError).
 */
type Handler = (request: Request) => Promise<Response> | Response;

const handlers = new Map<string, Handler>();
/** Fake ports: the origins are loopback (http://127.0.0.1:<port>), which the server treats as its own machine. */
let nextPort = 40_000;

export function listen(handler: Handler, path = ''): { url: string; close(): void } {
  const origin = `http://127.0.0.1:${nextPort++}`;
  handlers.set(origin, handler);
  return { url: `${origin}${path}`, close: () => void handlers.delete(origin) };
}

export const inProcessFetch: typeof fetch = async (input, init) => {
  const request = new Request(input, init);
  // What Node's fetch sends over a socket unless told otherwise: servers may tell clients apart by it.
  if (!request.headers.has('user-agent')) request.headers.set('user-agent', 'node');
  const handler = handlers.get(new URL(request.url).origin);
  if (!handler) {
    const refused = Object.assign(new Error(`nothing listens at ${new URL(request.url).origin} (in-process network)`), { code: 'ECONNREFUSED' });
    throw new TypeError('fetch failed', { cause: refused });
  }
  if (request.signal.aborted) throw request.signal.reason;
  // As over a socket, the caller's deadline ends the exchange even if the handler never answers.
  return await new Promise<Response>((resolve, reject) => {
    const abort = () => reject(request.signal.reason);
    request.signal.addEventListener('abort', abort, { once: true });
    Promise.resolve(handler(request)).then(resolve, reject).finally(() => request.signal.removeEventListener('abort', abort));
  });
};
