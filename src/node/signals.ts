/**
 * Node only: SIGTERM and SIGINT start the graceful shutdown; a deliberate second signal stops at once.
 *
 * One delivery often arrives twice. A signal sent to the process group (Ctrl-C in a terminal;
 * systemd's default KillMode=control-group; Heroku; dumb-init and tini forwarding to the group)
 * reaches node directly and again through `npm start`, which forwards what it receives to its
 * child, a few milliseconds apart. Taking that echo for an operator's "now" would cut the calls in
 * flight, invites Portkey has already created included. So a repeat within REPEAT_WINDOW_MS of
 * the first is the same delivery; only a later one means "stop at once".
 */
import { constants } from 'node:os';
import type { Logger } from '../log.js';
import type { BatchedStdout } from './stdout.js';

/** A second signal this soon after the first is the same delivery, forwarded by a wrapper. */
export const REPEAT_WINDOW_MS = 2_000;

export interface SignalHandlingOptions {
  logger: Logger;
  stdout: BatchedStdout;
  /** The graceful sequence; resolves once every connection is closed. */
  shutdown: (signal: NodeJS.Signals) => Promise<void>;
}

/** How long the last log lines may take to leave before the process exits (a reader that is gone must not hold it). */
const FINAL_LOG_DRAIN_MS = 1_000;

export function handleSignals({ logger, stdout, shutdown }: SignalHandlingOptions): void {
  let firstAt: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (performance.now() - firstAt < REPEAT_WINDOW_MS) {
        logger.info('server.signal_repeated', { signal, window_ms: REPEAT_WINDOW_MS });
        return;
      }
      // A deliberate second signal: the operator wants out now. Whatever is in flight is cut.
      logger.warn('server.stopped_at_once', { signal });
      stdout.flush();
      process.exit(128 + (constants.signals[signal] ?? 1));
    }
    firstAt = performance.now();
    void shutdown(signal).then(() => {
      logger.info('server.stopped', {});
      // Log lines are batched per event-loop turn and stdout does not block: write the last ones
      // (audit lines included) and let them out, within a bound, before exiting.
      void stdout.drain(FINAL_LOG_DRAIN_MS).then(() => process.exit(0));
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
