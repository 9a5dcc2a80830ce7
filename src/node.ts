/**
 * Node entry: reads the environment (and .env) once, builds the app, serves it with
 * @hono/node-server, and shuts down gracefully. Each step lives in src/node/; everything else
 * in the runtime-neutral core.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { ConfigError, type Config } from './server-config.js';
import { createLogger } from './log.js';
import { printLocalBanner } from './node/banner.js';
import { withDotEnv } from './node/env.js';
import { loadNodeConfig, refuseToStart, withFreePort } from './node/node-config.js';
import { startNodeServer, shutdownDeadlineMs, type RunningServer } from './node/server.js';
import { handleSignals } from './node/signals.js';
import { startTelemetry, TELEMETRY_FLUSH_MS } from './node/telemetry.js';
import { batchedStdout } from './node/stdout.js';

export { loadNodeConfig, readNodeEnv } from './node/node-config.js';
export { startNodeServer, type NodeServerTimeouts, type RunningServer } from './node/server.js';

async function main(): Promise<void> {
  const stdout = batchedStdout();
  // 1. Configuration, read once; a refusal names every problem and exits.
  let config: Config;
  let env: Record<string, string | undefined>;
  try {
    env = await withFreePort(withDotEnv(process.env));
    config = loadNodeConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) refuseToStart(err, stdout);
    throw err;
  }
  const logger = createLogger(stdout.write, config.logLevel);
  for (const message of config.warnings) logger.warn('config.warning', { message });
  // 2. Telemetry, when OTEL_* variables ask for it: before the app, whose meters it must provide.
  const telemetry = await startTelemetry(env, logger, { host: config.host, localMode: config.localMode });
  // 3. The server.
  let running: RunningServer;
  try {
    running = await startNodeServer(config, { logger }, {}, env);
  } catch (err) {
    if (err instanceof ConfigError) refuseToStart(err, stdout);
    console.error(`Cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  logger.info('server.started', { url: running.url, resource: config.resource, local_mode: config.localMode, tenants: config.tenants.mode });
  // 4. Local mode: a token and a curl to try.
  if (config.localMode) await printLocalBanner(config, logger);
  // 5. Signals: drain, stop accepting, let calls in flight finish, export what telemetry holds.
  handleSignals({
    logger,
    stdout,
    shutdown: async (signal) => {
      const deadlineMs = shutdownDeadlineMs(config);
      // Telemetry's flush comes last and ends by this time at the latest (docs/deploy-node.md: the grace formula).
      const flushBy = Date.now() + config.shutdownDrainMs + deadlineMs + TELEMETRY_FLUSH_MS;
      logger.info('server.stopping', { signal, drain_ms: config.shutdownDrainMs, deadline_ms: deadlineMs });
      const { cutResponses } = await running.shutdown({
        drainMs: config.shutdownDrainMs,
        deadlineMs,
        onStopAccepting: () => logger.info('server.not_accepting', {}),
      });
      if (cutResponses > 0) logger.warn('server.cut_responses', { responses: cutResponses, deadline_ms: deadlineMs });
      await telemetry?.shutdown(Math.min(TELEMETRY_FLUSH_MS, flushBy - Date.now()));
    },
  });
}

/** True when this file is the program node was started with (src/node.ts via tsx, or dist/node.js), even through a symlink. */
function isEntry(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(argv1)).href;
  } catch {
    return false;
  }
}

if (isEntry()) void main();
