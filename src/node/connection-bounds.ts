/**
 * Node only: bounds on connections, so that no client can hold every slot.
 *
 * - A connection that never sends a byte is answered 408 and closed `firstRequestMs` after it
 *   connected. Node 20.20+ does close such a socket itself at headersTimeout (its periodic check),
 *   but only within connectionsCheckingInterval and as an internal detail; this bound holds
 *   whatever Node version or check interval is in use.
 * - How many connections are open at once: past `maxConnections`, Node closes a new connection as
 *   soon as it is accepted (net.Server#maxConnections), and that is logged, at most once per interval.
 * - Idle connections give way under pressure: once `maxConnections - reserve` are open, each new
 *   connection closes the connection that has been idle longest (a keep-alive connection between
 *   requests, or one that has not sent its first request yet). RFC 9112 §9.8: a server may close an
 *   idle connection at any time; clients retry on a new one. So a crowd of idle connections (one
 *   request each, then silence until keepAliveTimeout) cannot keep a new client out.
 * - One peer's share: without a trusted proxy (TRUST_PROXY=0), each remote address may hold at most
 *   `maxPerPeer` connections; the next one from it is closed at once. Behind a proxy every
 *   connection comes from the proxy, so the share is off (maxPerPeer: Infinity).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';

export interface ConnectionBounds {
  /** Time from accepting a connection to its first request's headers (ms). */
  firstRequestMs: number;
  /** Most connections open at once (HTTP_MAX_CONNECTIONS). */
  maxConnections: number;
  /** Most connections one remote address may hold (HTTP_MAX_CONNECTIONS_PER_PEER); Infinity: no share. */
  maxPerPeer: number;
}

/** What Node itself answers a request whose headers took too long (RFC 9110 §15.5.9). */
const REQUEST_TIMEOUT_ANSWER = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';

/** Dropped connections are reported at most this often: a flood must not become a flood of log lines. */
const DROP_REPORT_INTERVAL_MS = 60_000;

/** Slots kept free by closing idle connections: a tenth of the limit, at least one. */
const reservedSlots = (maxConnections: number): number => Math.max(1, Math.floor(maxConnections / 10));

interface Tracked {
  peer: string;
  /** Requests received and not yet answered on this connection. */
  busy: number;
}

export function boundConnections(server: Server, bounds: ConnectionBounds, logger: Logger): void {
  const waiting = new WeakMap<Socket, NodeJS.Timeout>();
  // Open connections in the order they last became idle (Map keeps insertion order: re-inserting
  // a connection when it turns idle moves it to the end, so the first idle one is the longest idle).
  const open = new Map<Socket, Tracked>();
  const perPeer = new Map<string, number>();
  const highWater = Math.max(1, bounds.maxConnections - reservedSlots(bounds.maxConnections));
  const report = dropReporter(logger, bounds.maxConnections);

  const forget = (socket: Socket) => {
    const t = open.get(socket);
    if (!t) return;
    open.delete(socket);
    const n = (perPeer.get(t.peer) ?? 1) - 1;
    if (n <= 0) perPeer.delete(t.peer);
    else perPeer.set(t.peer, n);
  };

  const closeLongestIdle = (): boolean => {
    for (const [socket, t] of open) {
      if (t.busy > 0) continue;
      forget(socket);
      socket.destroy();
      return true;
    }
    return false;
  };

  server.on('connection', (socket: Socket) => {
    const peer = socket.remoteAddress ?? '';
    if ((perPeer.get(peer) ?? 0) >= bounds.maxPerPeer) {
      socket.destroy();
      report('peer_share');
      return;
    }
    while (open.size >= highWater && closeLongestIdle()) report('idle_closed');
    open.set(socket, { peer, busy: 0 });
    perPeer.set(peer, (perPeer.get(peer) ?? 0) + 1);
    socket.once('close', () => forget(socket));

    const timer = setTimeout(() => socket.end(REQUEST_TIMEOUT_ANSWER, () => socket.destroy()), bounds.firstRequestMs);
    timer.unref();
    waiting.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });

  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const timer = waiting.get(socket);
    if (timer !== undefined) {
      clearTimeout(timer);
      waiting.delete(socket);
    }
    const t = open.get(socket);
    if (!t) return;
    t.busy++;
    res.once('close', () => {
      t.busy--;
      if (t.busy > 0 || !open.has(socket)) return;
      // Idle again: to the end of the line.
      open.delete(socket);
      open.set(socket, t);
    });
  });

  server.maxConnections = bounds.maxConnections;
  server.on('drop', () => report('max_connections'));
}

type DropReason = 'max_connections' | 'peer_share' | 'idle_closed';

const HINTS: Record<DropReason, string> = {
  max_connections: 'every slot held by a busy connection: raise HTTP_MAX_CONNECTIONS or add replicas',
  peer_share: 'one address opened more than HTTP_MAX_CONNECTIONS_PER_PEER connections; behind a proxy, set TRUST_PROXY',
  idle_closed: 'idle keep-alive connections were closed to make room for new ones',
};

/** Counts closed connections by reason and logs them at most once per interval. */
function dropReporter(logger: Logger, maxConnections: number): (reason: DropReason) => void {
  const counts: Record<DropReason, number> = { max_connections: 0, peer_share: 0, idle_closed: 0 };
  let reportedAt = -Infinity;
  return (reason) => {
    counts[reason]++;
    const now = performance.now();
    if (now - reportedAt < DROP_REPORT_INTERVAL_MS) return;
    reportedAt = now;
    for (const r of Object.keys(counts) as DropReason[]) {
      if (counts[r] === 0) continue;
      const fields = { reason: r, dropped: counts[r], max_connections: maxConnections, hint: HINTS[r] };
      // Closing idle connections is the bound working, not a failure: info, not warn.
      if (r === 'idle_closed') logger.info('server.idle_connections_closed', fields);
      else logger.warn('server.connections_dropped', fields);
      counts[r] = 0;
    }
  };
}
