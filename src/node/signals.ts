/**
 * Node only: SIGTERM and SIGINT start the graceful shutdown; a second signal stops at once.
 */
import { constants } from 'node:os';
import type { Logger } from '../log.js';
import type { BatchedStdout } from './stdout.js';

export interface SignalHandlingOptions {
  logger: Logger;
  stdout: BatchedStdout;
  /** The graceful sequence; resolves once every connection is closed. */
  shutdown: (signal: NodeJS.Signals) => Promise<void>;
}

export function handleSignals({ logger, stdout, shutdown }: SignalHandlingOptions): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal: the operator wants out now. Whatever is in flight is cut.
      logger.warn('server.stopped_at_once', { signal });
      stdout.flush();
      process.exit(128 + (constants.signals[signal] ?? 1));
    }
    stopping = true;
    void shutdown(signal).then(() => {
      logger.info('server.stopped', {});
      // Log lines are batched per event-loop turn: write the last ones (audit lines included) before exiting.
      stdout.flush();
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
