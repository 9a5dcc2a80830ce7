/**
 * Ours: the real Node server (src/node.ts startNodeServer) with its default logger, i.e. the JSON
 * lines production writes to stdout (logging is part of our cost); the benchmark sends stdout to
 * /dev/null. Rate limits are off so the load is never refused; everything else is the
 * configuration a deployment would have.
 *
 * Env: PORT, PUBLIC_URL, PORTKEY_BASE_URL, PORTKEY_API_KEY, and either AUTH_JWT_SECRET (HS256) or
 * AUTH_JWKS_URL + AUTH_ISSUER (RS256 from a JWKS). bench/redis-limits.ts also sets
 * RATE_LIMIT_TENANT_PER_MINUTE / RATE_LIMIT_CALLER_PER_MINUTE (limits on, never reached) and REDIS_URL.
 */
import { loadConfig } from '../../src/server-config.js';
import { startNodeServer } from '../../src/node.js';
import { createLogger } from '../../src/log.js';
import { announceReady, envPort, requireEnv } from './common.js';

const config = loadConfig({
  HOST: '127.0.0.1',
  PORT: String(envPort()),
  PUBLIC_URL: requireEnv('PUBLIC_URL'),
  AUTH_JWT_SECRET: process.env.AUTH_JWKS_URL ? undefined : requireEnv('AUTH_JWT_SECRET'),
  AUTH_JWKS_URL: process.env.AUTH_JWKS_URL,
  AUTH_ISSUER: process.env.AUTH_ISSUER,
  PORTKEY_API_KEY: requireEnv('PORTKEY_API_KEY'),
  PORTKEY_BASE_URL: requireEnv('PORTKEY_BASE_URL'),
  RATE_LIMIT_TENANT_PER_MINUTE: process.env.RATE_LIMIT_TENANT_PER_MINUTE ?? '0',
  RATE_LIMIT_CALLER_PER_MINUTE: process.env.RATE_LIMIT_CALLER_PER_MINUTE ?? '0',
  REDIS_URL: process.env.REDIS_URL,
});

// As the entry does: OpenTelemetry only when OTEL_* variables ask for it (bench/telemetry.ts), before the app.
if (process.env.OTEL_TRACES_EXPORTER || process.env.OTEL_METRICS_EXPORTER) {
  const { startTelemetry } = await import('../../src/node/telemetry.js');
  await startTelemetry(process.env, createLogger(() => {}));
}
// No deps: whatever logger and Portkey transport (undici on Node) production uses by default is what is measured.
const running = await startNodeServer(config);
announceReady('ours', running.port);
