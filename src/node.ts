/**
 * Node entry: reads the environment (and .env) once, builds the app, serves it with
 * @hono/node-server, and shuts down gracefully. Everything else lives in the runtime-neutral core.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { constants } from 'node:os';
import { pathToFileURL } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { createApp, type AppDeps } from './app.js';
import { mintToken } from './auth/mint.js';
import { allScopes, ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './log.js';
import { isLocalMode, LOCAL_SECRET_FILE, readOrCreateLocalSecret, withDotEnv } from './node/env.js';
import { createLingeringServer, DEFAULT_LINGER, type LingerBounds } from './node/lingering-close.js';
import { MAX_LOOKUP_MS } from './portkey/call-budget.js';
import { createUndiciTransport } from './portkey/undici-transport.js';
import { createLifecycle, type ShutdownOptions } from './node/lifecycle.js';

/** Time left, after the longest a call can spend on Portkey, to answer the caller and write the audit line. */
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * How long calls in flight get once the server stops accepting: PORTKEY_TIMEOUT_MS for the POST,
 * the lookup's cap (3 s) and the grace, i.e. PORTKEY_TIMEOUT_MS + 5 s, always more than a call's
 * whole Portkey budget (src/portkey/call-budget.ts).
 */
function shutdownDeadlineMs(config: Config): number {
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
  const ownTransport = deps.transport ? undefined : createUndiciTransport({ connectTimeoutMs: config.portkeyTimeoutMs });
  const lifecycle = createLifecycle();
  const isShuttingDown = deps.isShuttingDown ? () => lifecycle.isShuttingDown() || deps.isShuttingDown!() : lifecycle.isShuttingDown;
  // Default logger: JSON lines to stdout, batched per event-loop turn.
  const { fetch, warmUp } = createApp(config, {
    // The peer of the TCP connection (a proxy's, when behind one: see TRUST_PROXY).
    socketAddress: (c) => getConnInfo(c).remote.address,
    ...deps,
    transport: deps.transport ?? ownTransport,
    isShuttingDown,
    logger: deps.logger ?? createLogger(batchedStdout().write, config.logLevel),
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
  lifecycle.attach(http);
  // In-flight Portkey calls have finished with their requests once the server has closed: the pools can go.
  const closeTransport = () => (ownTransport?.close() ?? Promise.resolve()).catch(() => {});
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

async function main(): Promise<void> {
  const stdout = batchedStdout();
  let config: Config;
  try {
    config = loadNodeConfig(await withFreePort(withDotEnv(process.env)));
  } catch (err) {
    if (err instanceof ConfigError) refuseToStart(err, stdout);
    throw err;
  }
  const logger = createLogger(stdout.write, config.logLevel);
  for (const message of config.warnings) logger.warn('config.warning', { message });
  let running: RunningServer;
  try {
    running = await startNodeServer(config, { logger });
  } catch (err) {
    if (err instanceof ConfigError) refuseToStart(err, stdout);
    console.error(`Cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  logger.info('server.started', { url: running.url, resource: config.resource, local_mode: config.localMode, tenants: config.tenants.mode });
  if (config.localMode) await printLocalBanner(config, logger);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second signal: the operator wants out now. Whatever is in flight is cut.
      logger.warn('server.stopped_at_once', { signal });
      stdout.flush();
      process.exit(128 + (constants.signals[signal] ?? 1));
    }
    stopping = true;
    const deadlineMs = shutdownDeadlineMs(config);
    logger.info('server.stopping', { signal, drain_ms: config.shutdownDrainMs, deadline_ms: deadlineMs });
    void running
      .shutdown({ drainMs: config.shutdownDrainMs, deadlineMs, onStopAccepting: () => logger.info('server.not_accepting', {}) })
      .then(({ cutResponses }) => {
        if (cutResponses > 0) logger.warn('server.cut_responses', { responses: cutResponses, deadline_ms: deadlineMs });
        logger.info('server.stopped', {});
        // Log lines are batched per event-loop turn: write the last ones (audit lines included) before exiting.
        stdout.flush();
        process.exit(0);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * Log lines gathered per event-loop turn and written with one syscall: stdout to a pipe or file
 * is synchronous on Linux, and two lines per request cost a write each otherwise.
 */
function batchedStdout(): { write: (line: string) => void; flush: () => void } {
  let lines: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    lines = [];
    process.stdout.write(text);
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
  };
}

/** The environment as the core expects it: on Node, TENANTS may also come from a file. */
export function readNodeEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const file = env.TENANTS_FILE?.trim();
  if (!file) return env;
  if (env.TENANTS?.trim()) throw new ConfigError('Both TENANTS and TENANTS_FILE are set: choose one.');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`TENANTS_FILE ${JSON.stringify(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path.`);
  }
  return { ...env, TENANTS: text };
}

/**
 * The Node configuration: the environment, TENANTS_FILE read in (messages naming the file), and
 * in local mode the secret kept in .local-secret. Every problem is reported at once.
 */
export function loadNodeConfig(env: Record<string, string | undefined>): Config {
  const file = env.TENANTS_FILE?.trim();
  const problems: string[] = [];
  let withTenants = env;
  try {
    withTenants = readNodeEnv(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  let localSecret: Uint8Array | undefined;
  const warnings: string[] = [];
  if (isLocalMode(env)) {
    try {
      localSecret = readOrCreateLocalSecret();
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      // An unwritable working directory: this run's tokens still work, npm run token cannot mint more.
      else warnings.push(`${LOCAL_SECRET_FILE} cannot be written here (${(err as NodeJS.ErrnoException).code ?? 'error'}): tokens are signed with a secret for this run only, so npm run token cannot mint more.`);
    }
  }
  const config = loadConfig(withTenants, { tenantsSource: file ? `TENANTS_FILE ${JSON.stringify(file)}` : undefined, localSecret, problems });
  return { ...config, warnings: [...config.warnings, ...warnings] };
}

/**
 * PORT=0 without PUBLIC_URL: a free port is chosen before the configuration is built, so the
 * resource (and a token's audience, http://localhost:<PORT>/mcp) names the port actually served.
 */
async function withFreePort(env: Record<string, string | undefined>): Promise<Record<string, string | undefined>> {
  if (env.PORT?.trim() !== '0' || env.PUBLIC_URL?.trim()) return env;
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, env.HOST?.trim() || '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  return { ...env, PORT: String(port) };
}

/** Configuration problems, for people (stderr) and as a JSON line (stdout); never a value. */
function refuseToStart(err: ConfigError, stdout: { write: (line: string) => void; flush: () => void }): never {
  const { problems } = err;
  console.error(
    problems.length === 1
      ? `Configuration error: ${problems[0]}`
      : `Configuration errors (${problems.length}):\n${problems.map((p) => `- ${p}`).join('\n')}`,
  );
  createLogger(stdout.write).error('config.invalid', { problems });
  stdout.flush();
  process.exit(1);
}

async function printLocalBanner(config: Config, logger: Logger): Promise<void> {
  if (config.auth.keySource.kind !== 'secret') return;
  const claims: Record<string, unknown> = {};
  if (config.tenants.mode === 'multi') claims[config.auth.tenantClaim] = [...config.tenants.tenants.keys()][0];
  const token = await mintToken({
    secret: config.auth.keySource.secret,
    audience: config.auth.audience,
    issuer: config.auth.issuer,
    subject: 'local-user',
    scopes: allScopes(config.auth),
    claims,
    ttlSeconds: 3600,
  });
  // The URL the token's audience names (http://localhost:PORT/mcp): a client that checks the
  // resource against the URL it was given (RFC 9728 §3.3) refuses any other spelling.
  const mcpUrl = config.resource;
  const missingKey = config.tenants.mode === 'single' && !config.tenants.tenant.apiKey;
  process.stdout.write(
    [
      '',
      `portkey-invite-mcp is running in LOCAL MODE at ${mcpUrl}`,
      `(no AUTH_JWT_SECRET / AUTH_PUBLIC_KEY / AUTH_JWKS_URL set: tokens are signed with the local secret in ${LOCAL_SECRET_FILE}, made on the first start)`,
      '',
      'Bearer token (valid 1 hour):',
      token,
      '',
      'List the tools:',
      `curl -s ${mcpUrl} -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'`,
      '',
      missingKey
        ? 'PORTKEY_API_KEY is not set: invite_user will answer with an error until you set it (environment or .env).'
        : 'Portkey key: configured.',
      '',
      `A token for another user or tenant (signed with the secret in ${LOCAL_SECRET_FILE}):`,
      'TOKEN=$(npm run -s token -- --sub bob --tenant acme)',
      ...(config.warnings.length ? ['', 'Warnings:', ...config.warnings.map((w) => `- ${w}`)] : []),
      '',
    ].join('\n'),
  );
  // For log readers: where, and how to get more tokens; the banner's token stays on the terminal.
  logger.info('server.local_mode', { mcp_url: mcpUrl, token_ttl_s: 3600, local_secret_file: LOCAL_SECRET_FILE });
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
