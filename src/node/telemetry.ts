/**
 * Node only: the OpenTelemetry SDK, registered only when the standard OTEL_* variables ask for an
 * exporter, and loaded lazily (a dynamic import), so a server without telemetry starts as fast
 * as before and never loads it. `@opentelemetry/sdk-node` reads the variables itself, as it
 * documents them: OTEL_TRACES_EXPORTER and OTEL_METRICS_EXPORTER (otlp, prometheus, console,
 * none), OTEL_EXPORTER_OTLP_ENDPOINT and _PROTOCOL (http/protobuf, http/json, grpc),
 * OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_PROMETHEUS_HOST/_PORT,
 * OTEL_SDK_DISABLED, OTEL_BSP_* and OTEL_METRIC_EXPORT_INTERVAL. No automatic instrumentation is
 * loaded: the core makes its own spans (src/telemetry/telemetry.ts), so no URL with a query (the
 * lookup's carries an email) is ever recorded.
 */
import type { Logger } from '../log.js';

type Env = Record<string, string | undefined>;

export interface RunningTelemetry {
  /** Exports what is buffered and stops; called once the server has stopped. */
  shutdown(): Promise<void>;
}

/**
 * Registration rule: OTEL_SDK_DISABLED=true never registers; otherwise an exporter other than
 * `none` in OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER, or an OTLP endpoint, does.
 */
export function telemetryRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const asks = (name: string) => (env[name] ?? '').split(',').some((e) => e.trim() !== '' && e.trim() !== 'none');
  return (
    asks('OTEL_TRACES_EXPORTER') ||
    asks('OTEL_METRICS_EXPORTER') ||
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'].some((n) => (env[n] ?? '').trim() !== '')
  );
}

/** Starts the SDK when asked; call before the app is built (the API does not proxy meters made earlier). */
export async function startTelemetry(env: Env, logger: Logger): Promise<RunningTelemetry | undefined> {
  if (!telemetryRequested(env)) return undefined;
  // The SDK reads process.env: settings that came from .env are handed over, the environment's winning.
  for (const [name, value] of Object.entries(env)) if (name.startsWith('OTEL_') && process.env[name] === undefined && value !== undefined) process.env[name] = value;
  // Logs stay JSON lines on stdout: the SDK is not asked to export them.
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({ serviceName: process.env.OTEL_SERVICE_NAME ? undefined : 'portkey-invite-mcp', instrumentations: [] });
  sdk.start();
  logger.info('telemetry.started', {
    traces: process.env.OTEL_TRACES_EXPORTER ?? 'otlp',
    metrics: process.env.OTEL_METRICS_EXPORTER ?? 'otlp',
    protocol: process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
  });
  return {
    shutdown: async () => {
      await sdk.shutdown().catch((err: unknown) => logger.warn('telemetry.flush_failed', { error: err instanceof Error ? err.name : 'unknown' }));
    },
  };
}
