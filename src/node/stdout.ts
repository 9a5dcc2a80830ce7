/**
 * Log lines gathered per event-loop turn and written with one syscall (two lines per request would
 * cost a write each otherwise), to a stdout that may not be read.
 *
 * Node writes to a terminal or a pipe synchronously on Linux: a terminal nobody reads (a paused
 * tmux pane, Ctrl-S) or a full pipe blocks the event loop in write(), and the server stops serving,
 * silent sockets no longer closed included. So stdout is switched to non-blocking writes, and what
 * waits to be written is bounded (MAX_PENDING_BYTES): past it, lines are dropped and counted, and
 * once stdout takes lines again the first one written says how many were lost (log.lines_dropped).
 */
import { once } from 'node:events';

export interface BatchedStdout {
  write: (line: string) => void;
  /** Hands what is gathered to stdout now (before process.exit, so the last lines, audit lines included, are not lost). */
  flush: () => void;
  /** flush(), then waits (at most `withinMs`) for stdout to have written everything. */
  drain: (withinMs: number) => Promise<void>;
}

/** What may wait for a slow reader: past it, log lines are dropped (and counted), not buffered. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

interface Sink {
  write(text: string): unknown;
  readonly writableLength: number;
  once(event: 'drain', listener: () => void): unknown;
}

export function batchedStdout(out: Sink = nonBlocking(process.stdout), maxPendingBytes = MAX_PENDING_BYTES): BatchedStdout {
  let lines: string[] = [];
  let scheduled = false;
  let dropped = 0;
  const flush = () => {
    scheduled = false;
    if (lines.length === 0) return;
    if (out.writableLength > maxPendingBytes) {
      dropped += lines.length;
      lines = [];
      return;
    }
    if (dropped > 0) {
      lines.unshift(JSON.stringify({ time: new Date().toISOString(), level: 'warn', event: 'log.lines_dropped', lines: dropped, hint: 'stdout was not read fast enough; its reader (terminal, pipe, log agent) fell behind' }));
      dropped = 0;
    }
    const text = `${lines.join('\n')}\n`;
    lines = [];
    out.write(text);
  };
  return {
    write: (line) => {
      lines.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
    drain: async (withinMs) => {
      flush();
      if (out.writableLength === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([once(out as unknown as NodeJS.EventEmitter, 'drain'), new Promise((r) => (timer = setTimeout(r, withinMs)))]);
      clearTimeout(timer);
    },
  };
}

/**
 * A terminal or pipe stdout written without blocking the event loop: unwritten data waits in the
 * stream (counted by writableLength, which the bound above reads). Files stay as they are: a write
 * to a file does not wait on a reader.
 */
function nonBlocking(stream: NodeJS.WriteStream): NodeJS.WriteStream {
  // libuv's uv_stream_set_blocking, reached through the stream's handle: Node has no public switch.
  const handle = (stream as unknown as { _handle?: { setBlocking?: (blocking: boolean) => number } })._handle;
  handle?.setBlocking?.(false);
  return stream;
}
