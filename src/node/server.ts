/**
 * Node only: the HTTP server. @hono/node-server serving the app, with bounds on how long a client
 * may hold a socket, Portkey over undici, and the shutdown sequence (./lifecycle.ts).
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createApp, type AppDeps } from '../app.js';
import { ConfigError, type Config } from '../server-config.js';
import { createLogger } from '../log.js';
import { MAX_LOOKUP_MS } from '../portkey/call-budget.js';
import { createUndiciTransport } from './undici-transport.js';
import { createSandbox } from '../sandbox/sandbox.js';
import { createLifecycle, type ShutdownOptions } from './lifecycle.js';
import { boundConnections } from './connection-bounds.js';
import { createLingeringServer, DEFAULT_LINGER, type LingerBounds } from './lingering-close.js';
import { batchedStdout } from './stdout.js';

/** Time left, after the longest a call can spend on Portkey, to answer the caller and write the audit line. */
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * How long calls in flight get once the server stops accepting: PORTKEY_TIMEOUT_MS for the POST,
 * the lookup's cap (3 s) and the grace, i.e. PORTKEY_TIMEOUT_MS + 5 s, always more than a call's
 * whole Portkey budget (src/portkey/call-budget.ts).
 */
export function shutdownDeadlineMs(config: Config): number {
  return config.portkeyTimeoutMs + MAX_LOOKUP_MS + SHUTDOWN_GRACE_MS;
}

export interface RunningServer {
  url: string;
  port: number;
  server: ServerType;
  /** Stops accepting at once, lets in-flight requests finish (up to the deadline), then closes. */
  close(deadlineMs?: number): Promise<void>;
  /**
   * The signal-driven sequence: /readyz 503 at once, keep accepting for drainMs, stop accepting,
   * then in-flight calls get until deadlineMs (defaults: SHUTDOWN_DRAIN_MS; PORTKEY_TIMEOUT_MS + 5 s).
   */
  shutdown(options?: Partial<ShutdownOptions>): Promise<{ cutResponses: number }>;
}

/** How long a client may take (ms; see node:http Server), and how long a refused one may linger. Tests shorten them. */
export interface NodeServerTimeouts extends LingerBounds {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  /** How often Node checks headersTimeout/requestTimeout (its default, 30 s, would double them). */
  connectionsCheckingInterval: number;
}

/**
 * headersTimeout and requestTimeout bound a request from its first byte (slow-loris); since Node 18
 * an idle keep-alive connection is not counted against them (test/keep-alive.test.ts), so they stay
 * short while keepAliveTimeout (HTTP_KEEP_ALIVE_TIMEOUT_MS) outlasts a load balancer's idle timeout.
 */
const DEFAULT_TIMEOUTS: Omit<NodeServerTimeouts, 'keepAliveTimeout'> = {
  headersTimeout: 15_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1_000,
  ...DEFAULT_LINGER,
};

export async function startNodeServer(
  config: Config,
  deps: AppDeps = {},
  timeoutOverrides: Partial<NodeServerTimeouts> = {},
  /** Where tenant entries' {"env": NAME} keys are read (Redis tenants): the environment the config was read from. */
  env: Record<string, string | undefined> = process.env,
): Promise<RunningServer> {
  const timeouts: NodeServerTimeouts = { ...DEFAULT_TIMEOUTS, keepAliveTimeout: config.httpKeepAliveTimeoutMs, ...timeoutOverrides };
  if (config.localMode && !config.loopback) {
    throw new ConfigError(
      `Refusing to listen on ${config.host} in local mode: no AUTH_JWT_SECRET, AUTH_PUBLIC_KEY or AUTH_JWKS_URL is set, ` +
        'so tokens are signed with a throw-away secret meant for this machine only. Configure one of them, or use HOST=127.0.0.1.',
    );
  }
  // Portkey over undici: keep-alive pools per origin, without the fetch layer. A transport the
  // caller injects stays the caller's to close; the one made here is closed with the server.
  // Local mode without a Portkey key (src/config/settings.ts): Portkey answered in memory, no transport needed.
  const sandbox = deps.sandbox ?? (config.sandbox ? createSandbox() : undefined);
  const ownTransport = deps.transport || sandbox ? undefined : createUndiciTransport({ connectTimeoutMs: config.portkeyTimeoutMs });
  const lifecycle = createLifecycle();
  const isShuttingDown = deps.isShuttingDown ? () => lifecycle.isShuttingDown() || deps.isShuttingDown!() : lifecycle.isShuttingDown;
  // Default logger: JSON lines to stdout, batched per event-loop turn.
  const logger = deps.logger ?? createLogger(batchedStdout().write, config.logLevel);
  // REDIS_URL: limits (and tenants, with TENANTS_REDIS_PREFIX) shared by every replica; closed with the server.
  // Loaded only when configured: a server without Redis never loads ioredis.
  // Injected limiters (tests, benches) replace Redis's limits only: its tenant lookup stays.
  const redis = config.redis ? (await import('./redis.js')).createRedisState(config, config.redis, logger, env) : undefined;
  try {
    await redis?.checkAtStart();
  } catch (err) {
    await redis?.close();
    throw err;
  }
  const { fetch, warmUp } = createApp(config, {
    // The peer of the TCP connection (a proxy's, when behind one: see TRUST_PROXY).
    socketAddress: (c) => getConnInfo(c).remote.address,
    ...deps,
    // Each of Redis's parts gives way only to its own injected replacement.
    rateLimiters: deps.rateLimiters ?? redis?.rateLimiters,
    tenantStore: deps.tenantStore ?? redis?.tenantStore,
    transport: deps.transport ?? ownTransport,
    sandbox,
    isShuttingDown,
    responsesCutAt: lifecycle.responsesCutAt,
    logger,
  });
  void warmUp();
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve(
      {
        fetch,
        port: config.port,
        hostname: config.host,
        serverOptions: { connectionsCheckingInterval: timeouts.connectionsCheckingInterval },
        createServer: createLingeringServer(timeouts),
      },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  // Bound how long a slow client may hold a socket (slow-loris) without cutting off real calls.
  const http = server as import('node:http').Server;
  http.headersTimeout = timeouts.headersTimeout;
  http.requestTimeout = timeouts.requestTimeout;
  http.keepAliveTimeout = timeouts.keepAliveTimeout;
  // A silent connection is closed within headersTimeout of connecting; at most HTTP_MAX_CONNECTIONS are
  // open, idle ones give way to new ones, and one address holds at most its share.
  boundConnections(
    http,
    { firstRequestMs: timeouts.headersTimeout, maxConnections: config.httpMaxConnections, maxPerPeer: config.httpMaxConnectionsPerPeer },
    logger,
  );
  lifecycle.attach(http);
  // In-flight Portkey calls have finished with their requests once the server has closed: the pools can go.
  const closeTransport = async () => {
    await (ownTransport?.close() ?? Promise.resolve()).catch(() => {});
    await redis?.close();
  };
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    server,
    close: async (deadlineMs = shutdownDeadlineMs(config)) => {
      await lifecycle.shutdown({ drainMs: 0, deadlineMs });
      await closeTransport();
    },
    shutdown: async (options = {}) => {
      const outcome = await lifecycle.shutdown({
        drainMs: options.drainMs ?? config.shutdownDrainMs,
        deadlineMs: options.deadlineMs ?? shutdownDeadlineMs(config),
        onStopAccepting: options.onStopAccepting,
      });
      await closeTransport();
      return outcome;
    },
  };
}
