/**
 * Node only: bounds on connections that Node's own timeouts leave open.
 *
 * - A connection that never sends a byte: headersTimeout only starts at the first byte of a
 *   request, so a silent socket was held forever (and enough of them exhaust file descriptors).
 *   Here a connection must complete its first request's headers within `firstRequestMs` of
 *   connecting (headersTimeout: a client sending its first request normally spends microseconds
 *   before the first byte); later requests on a keep-alive connection are bounded by Node's
 *   keepAliveTimeout and headersTimeout as before.
 * - How many connections are open at once: past `maxConnections`, Node closes a new connection as
 *   soon as it is accepted (net.Server#maxConnections), and that is logged, at most once per interval.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

export interface ConnectionBounds {
  /** Time from accepting a connection to its first request's headers (ms). */
  firstRequestMs: number;
  /** Most connections open at once (HTTP_MAX_CONNECTIONS). */
  maxConnections: number;
}

/** What Node itself answers a request whose headers took too long (RFC 9110 §15.5.9). */
const REQUEST_TIMEOUT_ANSWER = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';

/** Dropped connections are reported at most this often: a flood must not become a flood of log lines. */
const DROP_REPORT_INTERVAL_MS = 60_000;

export function boundConnections(server: Server, bounds: ConnectionBounds, logger: Logger): void {
  const waiting = new WeakMap<Socket, NodeJS.Timeout>();
  server.on('connection', (socket: Socket) => {
    const timer = setTimeout(() => socket.end(REQUEST_TIMEOUT_ANSWER, () => socket.destroy()), bounds.firstRequestMs);
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
  server.prependListener('request', (req) => {
    const timer = waiting.get(req.socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    waiting.delete(req.socket);
  });

  server.maxConnections = bounds.maxConnections;
  let dropped = 0;
  let reportedAt = -Infinity;
  server.on('drop', () => {
    dropped++;
    const now = performance.now();
    if (now - reportedAt < DROP_REPORT_INTERVAL_MS) return;
    reportedAt = now;
    logger.warn('server.connections_dropped', { dropped, max_connections: bounds.maxConnections, hint: 'raise HTTP_MAX_CONNECTIONS or add replicas' });
    dropped = 0;
  });
}
