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
  /** Exports what is buffered and stops, giving up after `withinMs`; called once the server has stopped. */
  shutdown(withinMs?: number): Promise<void>;
}

/** The most the flush at shutdown may take: part of the grace formula in docs/deploy-node.md (PORTKEY_TIMEOUT_MS + 7 s). */
export const TELEMETRY_FLUSH_MS = 2_000;

/** Longest attribute value the SDK keeps (OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT), unless the operator sets one. */
const ATTRIBUTE_VALUE_LIMIT = '256';

export interface TelemetryOptions {
  /** HOST: Prometheus's /metrics listens there too unless OTEL_EXPORTER_PROMETHEUS_HOST says otherwise. */
  host: string;
  /** Local mode alone may write the console exporter's (non-JSON) lines on stdout. */
  localMode: boolean;
}

/**
 * Registration rule: OTEL_SDK_DISABLED=true never registers; otherwise an exporter other than
 * `none` in OTEL_TRACES_EXPORTER or OTEL_METRICS_EXPORTER, or an OTLP endpoint, does.
 */
function telemetryRequested(env: Env): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const asks = (name: string) => (env[name] ?? '').split(',').some((e) => e.trim() !== '' && e.trim() !== 'none');
  return (
    asks('OTEL_TRACES_EXPORTER') ||
    asks('OTEL_METRICS_EXPORTER') ||
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'].some((n) => (env[n] ?? '').trim() !== '')
  );
}

/** Starts the SDK when asked; call before the app is built (the API does not proxy meters made earlier). */
export async function startTelemetry(env: Env, logger: Logger, options: TelemetryOptions = { host: '127.0.0.1', localMode: false }): Promise<RunningTelemetry | undefined> {
  if (!telemetryRequested(env)) return undefined;
  // The SDK reads process.env: settings that came from .env are handed over, the environment's winning.
  for (const [name, value] of Object.entries(env)) if (name.startsWith('OTEL_') && process.env[name] === undefined && value !== undefined) process.env[name] = value;
  const p = process.env;
  // Logs stay JSON lines on stdout: the SDK is not asked to export them.
  p.OTEL_LOGS_EXPORTER ??= 'none';
  // No attribute grows a span past this, whatever a caller sends.
  p.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT ??= ATTRIBUTE_VALUE_LIMIT;
  // /metrics names tenants and the process: on the server's own interface unless told otherwise.
  p.OTEL_EXPORTER_PROMETHEUS_HOST ??= options.host;
  if (!options.localMode) refuseConsoleExporters(p, logger);
  // The SDK's own messages become JSON lines too (its default writes plain text to the console).
  const diagLevel = p.OTEL_LOG_LEVEL;
  delete p.OTEL_LOG_LEVEL;
  const { diag, DiagLogLevel } = await import('@opentelemetry/api');
  diag.setLogger(jsonDiagLogger(logger), { logLevel: diagLogLevel(diagLevel, DiagLogLevel), suppressOverrideMessage: true });
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const sdk = new NodeSDK({ serviceName: p.OTEL_SERVICE_NAME ? undefined : 'portkey-invite-mcp', instrumentations: [] });
  sdk.start();
  logger.info('telemetry.started', {
    traces: process.env.OTEL_TRACES_EXPORTER ?? 'otlp',
    metrics: process.env.OTEL_METRICS_EXPORTER ?? 'otlp',
    protocol: process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
  });
  return {
    shutdown: async (withinMs = TELEMETRY_FLUSH_MS) => {
      // A hung collector must not hold the process past its grace period (the orchestrator kills it mid-flush).
      let timer: NodeJS.Timeout | undefined;
      const gaveUp = new Promise<'gave_up'>((r) => (timer = setTimeout(() => r('gave_up'), Math.max(0, withinMs))));
      const flushed = sdk.shutdown().then(
        () => 'flushed' as const,
        (err: unknown) => {
          logger.warn('telemetry.flush_failed', { error: err instanceof Error ? err.name : 'unknown' });
          return 'failed' as const;
        },
      );
      const outcome = await Promise.race([flushed, gaveUp]);
      clearTimeout(timer);
      if (outcome === 'gave_up') logger.warn('telemetry.flush_abandoned', { after_ms: withinMs, hint: 'the collector did not take the last spans and metrics in time' });
    },
  };
}

/** Outside local mode stdout carries JSON lines only: the console exporters' plain text would break them. */
function refuseConsoleExporters(p: NodeJS.ProcessEnv, logger: Logger): void {
  for (const name of ['OTEL_TRACES_EXPORTER', 'OTEL_METRICS_EXPORTER'] as const) {
    const chosen = (p[name] ?? '').split(',').map((e) => e.trim()).filter(Boolean);
    if (!chosen.includes('console')) continue;
    const rest = chosen.filter((e) => e !== 'console');
    p[name] = rest.length ? rest.join(',') : 'none';
    logger.warn('telemetry.console_refused', {
      variable: name,
      hint: 'the console exporter writes plain text into the JSON log on stdout; it works in local mode only. Use otlp, or prometheus for metrics.',
    });
  }
}

type DiagLevels = typeof import('@opentelemetry/api').DiagLogLevel;

function diagLogLevel(value: string | undefined, levels: DiagLevels): number {
  const wanted = (value ?? '').trim().toUpperCase();
  const known = levels[wanted as keyof DiagLevels];
  return typeof known === 'number' ? known : levels.WARN;
}

/** Longest SDK message kept in a log line: its debug output can quote whole exports. */
const DIAG_MESSAGE_LIMIT = 500;

const LISTEN_FAILURE = /EADDRINUSE|EACCES|EADDRNOTAVAIL/;

function jsonDiagLogger(logger: Logger) {
  const line = (level: 'error' | 'warn' | 'info' | 'debug') => (message: string, ...args: unknown[]) => {
    // The Prometheus exporter reports a failed listen only as diag.error(err).
    const listenCode = [message, ...args].map((a) => (a instanceof Error ? LISTEN_FAILURE.exec(`${(a as NodeJS.ErrnoException).code ?? ''} ${a.message}`)?.[0] : undefined)).find(Boolean);
    if (listenCode) {
      logger.warn('telemetry.metrics_endpoint_unavailable', {
        code: listenCode,
        hint: 'Prometheus /metrics could not listen: choose a free OTEL_EXPORTER_PROMETHEUS_PORT (default 9464) or OTEL_EXPORTER_PROMETHEUS_HOST',
      });
      return;
    }
    const text = [message, ...args].map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : typeof a === 'string' ? a : safeJson(a))).join(' ');
    const fields = { message: text.length > DIAG_MESSAGE_LIMIT ? `${text.slice(0, DIAG_MESSAGE_LIMIT)}…` : text };
    // The SDK's errors are ours to see, but they are not the server's: warn at most.
    if (level === 'error' || level === 'warn') logger.warn('telemetry.sdk', fields);
    else if (level === 'info') logger.info('telemetry.sdk', fields);
    else logger.debug('telemetry.sdk', fields);
  };
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug'), verbose: line('debug') };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
