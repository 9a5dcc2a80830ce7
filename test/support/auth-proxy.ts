/**
 * Test-only loopback HTTP proxy that adds `Authorization: Bearer <token>` to every request.
 *
 * Some black-box MCP tools (the MCP conformance suite) cannot send an Authorization header, and
 * the server has, on purpose, no way to turn authentication off. This proxy sits in front of the
 * real server on 127.0.0.1 and forwards every request unchanged — method, path and query, every
 * header as sent (Host and Origin included, so Host/Origin checks see what the tool sent), body —
 * except that it sets the Authorization header. The response (status, headers, body) is streamed
 * back as it arrives, so SSE responses keep working.
 *
 * Hop-by-hop headers (RFC 9110 §7.6.1) are not forwarded in either direction: each side of the
 * proxy manages its own connection. The token never appears in a response or in `forwarded`.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface AuthProxyOptions {
  /** Where to forward, e.g. the test server's `url` (`http://127.0.0.1:PORT`); only the origin is used. */
  target: string;
  /** The bearer token to add; a function is called per request (e.g. to mint a fresh one). */
  token: string | (() => string);
  /** Port to listen on (default 0: any free port). The proxy only ever listens on 127.0.0.1. */
  port?: number;
}

export interface ForwardedRequest {
  method: string;
  /** Path plus query, as received. */
  path: string;
  /** The Host header as the client sent it (and as it was forwarded). */
  host: string | undefined;
  /** The Origin header as the client sent it, if any. */
  origin: string | undefined;
  /** The status the server answered, or 502 when it could not be reached. */
  status?: number;
}

export interface AuthProxy {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  port: number;
  /** Every request forwarded, in order (no Authorization values are kept). */
  forwarded: ForwardedRequest[];
  close(): Promise<void>;
}

/** Hop-by-hop headers: meaningful for one connection only, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** `rawHeaders` (name, value, name, value…) minus hop-by-hop headers, those named in `Connection`, and `drop`. */
function forwardableHeaders(raw: string[], drop: Set<string> = new Set()): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') {
      for (const token of raw[i + 1]!.split(',')) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name) || drop.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

export async function startAuthProxy(options: AuthProxyOptions): Promise<AuthProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:') throw new Error(`auth-proxy forwards to http:// targets only, not ${target.protocol}`);
  const forwarded: ForwardedRequest[] = [];
  const sockets = new Set<Socket>();
  const bearer = () => (typeof options.token === 'function' ? options.token() : options.token);

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const record: ForwardedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', host: req.headers.host, origin: req.headers.origin };
    forwarded.push(record);

    // rawHeaders keep the client's order, casing and repeats; Host stays as sent (Node does not add
    // its own when one is given). Any Authorization the client sent is replaced.
    const headers = forwardableHeaders(req.rawHeaders, new Set(['authorization']));
    headers.push('Authorization', `Bearer ${bearer()}`);

    const upstream = httpRequest({
      host: target.hostname.replace(/^\[(.*)\]$/, '$1'), // [::1] → ::1
      port: target.port || 80,
      method: req.method,
      path: req.url,
      headers,
      setHost: req.headers.host === undefined, // Host as sent; Node adds one only if the client sent none
    });

    upstream.on('response', (up) => {
      record.status = up.statusCode;
      res.writeHead(up.statusCode ?? 502, up.statusMessage, forwardableHeaders(up.rawHeaders));
      res.flushHeaders(); // an SSE stream's headers must not wait for its first event
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      record.status = 502;
      res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`auth-proxy: cannot reach ${target.origin}: ${err.message}\n`);
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy(); // the client went away before the whole answer
    });
    req.pipe(upstream);
  };

  const server: Server = createServer(handle);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
