/**
 * Node only (imported by src/node.ts, never by the core): the shutdown sequence that loses
 * nothing. Readiness turns 503 at once, so a load balancer stops sending; the listener keeps
 * accepting for the drain period, because balancers take a few probe intervals to notice; then
 * it stops accepting, and calls in flight finish up to a deadline longer than the Portkey timeout,
 * so an invite that reached Portkey always gets its answer back to the caller (and its audit line).
 */
import type { Server, ServerResponse } from 'node:http';

export interface ShutdownOptions {
  /** Keep accepting new connections this long after shutdown begins (SHUTDOWN_DRAIN_MS). */
  drainMs: number;
  /** Then give calls in flight this long to finish before their connections are cut. */
  deadlineMs: number;
  /** Called when the listener closes (the drain is over). */
  onStopAccepting?: () => void;
}

export interface Lifecycle {
  /** Handed to the core (AppDeps.isShuttingDown): /readyz answers 503 once this is true. */
  isShuttingDown: () => boolean;
  /** Handed to the core (AppDeps.responsesCutAt): once the listener has closed, when in-flight responses will be cut. */
  responsesCutAt: () => number | undefined;
  /** Wires the sequence to the HTTP server; call once, before it serves. */
  attach(server: Server): void;
  /** Runs the sequence; resolves once every connection is closed, with how many had to be cut. */
  shutdown(options: ShutdownOptions): Promise<{ cutResponses: number }>;
}

export function createLifecycle(): Lifecycle {
  let shuttingDown = false;
  let listenerClosed = false;
  let cutAt: number | undefined;
  let server: Server | undefined;
  const inFlight = new Set<ServerResponse>();

  /** RFC 9112 §9.6: a server that is closing says so with `Connection: close`, then closes after the response. */
  const markClosing = (res: ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };

  return {
    isShuttingDown: () => shuttingDown,
    responsesCutAt: () => cutAt,
    attach(s) {
      server = s;
      // Prepended so it runs before the app writes anything (@hono/node-server may answer synchronously).
      s.prependListener('request', (_req, res: ServerResponse) => {
        if (listenerClosed) markClosing(res);
        inFlight.add(res);
        res.once('close', () => {
          inFlight.delete(res);
          // A keep-alive connection whose response was already on the wire goes idle now: close it.
          if (listenerClosed) setImmediate(() => s.closeIdleConnections());
        });
      });
    },
    async shutdown({ drainMs, deadlineMs, onStopAccepting }) {
      const s = server;
      if (!s) throw new Error('createLifecycle(): attach(server) was not called');
      shuttingDown = true;
      if (drainMs > 0) await new Promise((r) => setTimeout(r, drainMs));
      listenerClosed = true;
      cutAt = Date.now() + deadlineMs;
      for (const res of inFlight) markClosing(res);
      let cutResponses = 0;
      await new Promise<void>((resolve) => {
        const deadline = setTimeout(() => {
          cutResponses = inFlight.size;
          s.closeAllConnections();
        }, deadlineMs);
        // close() stops accepting and closes idle keep-alive connections (Node ≥ 19); its callback
        // runs once the last connection has closed.
        s.close(() => {
          clearTimeout(deadline);
          resolve();
        });
        s.closeIdleConnections();
        onStopAccepting?.();
      });
      return { cutResponses };
    },
  };
}
