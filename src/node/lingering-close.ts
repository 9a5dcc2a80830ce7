/**
 * Lingering close for Node's http server (RFC 9112 §9.6; Apache's and nginx's "lingering close").
 *
 * An early refusal (401/403, 413, 415) is answered with `Connection: close` before the request
 * body has been read. Node then ends the connection at once (`socket.destroySoon()` in
 * `resOnFinish`, lib/_http_server.js) with the rest of the body still arriving, so the kernel
 * answers it with a TCP reset. A client that writes its whole body before reading (Node's fetch,
 * hence the MCP SDK client) fails with EPIPE or ECONNRESET and never reads the answer, and may
 * retry the same request as a network fault.
 *
 * Instead, once such an answer is sent, the server half-closes (its FIN follows the answer) and
 * keeps reading and discarding the body until the body ends or the client closes, then closes. A
 * client that keeps sending is cut off, as before, once `lingerMaxBytes` more bytes or `lingerMs`
 * have passed; requestTimeout and headersTimeout keep applying while it lingers.
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerOptions, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface LingerBounds {
  /** Most time a refused request's connection stays open for the rest of its body (ms). */
  lingerMs: number;
  /** Most body bytes read and discarded after the answer. */
  lingerMaxBytes: number;
}

export const DEFAULT_LINGER: LingerBounds = { lingerMs: 5_000, lingerMaxBytes: 4 * 1024 * 1024 };

/** `http.createServer` with lingering close, for @hono/node-server's `createServer` option. */
export function createLingeringServer(bounds: LingerBounds): typeof createServer {
  // @hono/node-server always calls it as (options, listener).
  const create = (options: ServerOptions, listener: RequestListener) => createServer(options, lingerAfterEarlyAnswers(listener, bounds));
  return create as typeof createServer;
}

/** A request answered before its body was read: the rest of the body, counted as it is discarded. */
interface UnreadBody {
  req: IncomingMessage;
  bytes: number;
  lingering: boolean;
  onData?: () => void;
}

const unreadBodies = new WeakMap<Socket, UnreadBody>();
/** Connections the server has decided to close: no further request on them is processed. */
const closing = new WeakSet<Socket>();
/** Per connection, the latest response not yet finished: a request pipelined behind it waits for it. */
const unfinished = new WeakMap<Socket, ServerResponse>();

/** Wraps a request listener so that connections closed with a body left unread linger first. */
function lingerAfterEarlyAnswers(listener: RequestListener, bounds: LingerBounds): RequestListener {
  return (req, res) => {
    const socket = req.socket;
    // RFC 9112 §9.6: after a response with "close", the server MUST NOT process further requests
    // on the connection (here: bytes the client pipelined behind a refused body).
    if (closing.has(socket)) {
      socket.destroy();
      return;
    }
    if (!Object.hasOwn(socket, 'destroySoon')) lingerInsteadOfClosing(socket, bounds);
    // Node emits a request pipelined in the same write as soon as it is parsed, while the one ahead
    // is still being answered, so the answer "401, Connection: close" came too late to stop it.
    // A pipelined request is processed only once the response ahead of it has finished, and not at
    // all when that response closed the connection (RFC 9112 §9.3.2, §9.6).
    const ahead = unfinished.get(socket);
    unfinished.set(socket, res);
    const done = () => {
      if (unfinished.get(socket) === res) unfinished.delete(socket);
    };
    res.once('finish', done);
    res.once('close', done);
    if (ahead && !ahead.writableFinished && !ahead.destroyed) {
      const proceed = () => {
        if (closing.has(socket) || socket.destroyed || !ahead.shouldKeepAlive) {
          req.resume();
          return;
        }
        handle(req, res, socket, listener);
      };
      onceFinishedOrClosed(ahead, proceed);
      return;
    }
    handle(req, res, socket, listener);
  };
}

function onceFinishedOrClosed(res: ServerResponse, then: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    // After Node's own 'finish' handler (resOnFinish), which decides whether the connection closes.
    setImmediate(then);
  };
  res.once('finish', once);
  res.once('close', once);
}

function handle(req: IncomingMessage, res: ServerResponse, socket: Socket, listener: RequestListener): void {
  // Runs before Node's own 'finish' listener, which would _dump() the unread body where no byte
  // can be counted. This does what _dump() does (drop the body's readers, let it flow into the
  // void), and counts.
  res.prependOnceListener('finish', () => {
    if (req.complete || req.destroyed) {
      unreadBodies.delete(socket);
      return;
    }
    const unread: UnreadBody = { req, bytes: 0, lingering: false };
    req.removeAllListeners('data');
    req.on('data', (chunk: Buffer) => {
      unread.bytes += chunk.length;
      unread.onData?.();
    });
    req.resume();
    unreadBodies.set(socket, unread);
  });
  listener(req, res);
}

/** Node closes a "Connection: close" answer's socket with destroySoon(); this one lingers first. */
function lingerInsteadOfClosing(socket: Socket, bounds: LingerBounds): void {
  const destroySoon = socket.destroySoon;
  socket.destroySoon = function lingeringDestroySoon(this: Socket) {
    closing.add(this);
    const unread = unreadBodies.get(this);
    if (!unread || unread.req.complete || unread.req.destroyed) return destroySoon.call(this);
    if (unread.lingering) return; // already lingering (@hono/node-server's own drain calls this too)
    unread.lingering = true;
    // Half-close: the answer is followed by our FIN, and the client's bytes are still read.
    this.end();
    const close = () => {
      clearTimeout(timer);
      this.destroy();
    };
    const timer = setTimeout(close, bounds.lingerMs);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    // The body has ended: nothing unread is left, so closing sends no reset. (A client that closes
    // its side mid-body is closed by Node itself, with a parse error for the truncated message.)
    unread.req.once('end', close);
    unread.onData = () => {
      if (unread.bytes > bounds.lingerMaxBytes) close();
    };
    unread.onData();
  };
}
