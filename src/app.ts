import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { createTokenVerifier } from './auth/verifier.js';
import { hasAuthorizationServer, protectedResourceMetadata, publicPath } from './auth/challenge.js';
import { allScopes } from './config/auth-settings.js';
import { type Config } from './server-config.js';
import { createMemoryRateLimiter, type InviteRateLimiters } from './limits/rate-limiter.js';
import { createLogger, type Logger } from './log.js';
import { authenticate } from './http/authenticate.js';
import { guardRequestSource, requestSourcePolicy } from './http/dns-rebinding.js';
import { bodyLimitByLength, onlyWithOrigin } from './http/fast-paths.js';
import { answerOAuthProbes, NO_OAUTH_HEADERS } from './http/oauth-probes.js';
import { requestId } from './http/request-id.js';
import type { AppEnv } from './http/app-env.js';
import { jsonRpcError } from './http/json-rpc-error.js';
import { createPortkeyClient } from './portkey/client.js';
import type { HttpTransport } from './portkey/transport.js';
import type { Sandbox } from './sandbox/sandbox.js';
import { keyLabel, type TenantResolver } from './tenants/resolve-tenant.js';
import { createConfiguredTenantResolver, type TenantStore } from './tenants/store-tenants.js';
import { createTelemetry, type Telemetry } from './telemetry/telemetry.js';
import { createMcpHandler, SERVER_INFO } from './mcp/mcp-handler.js';
import { mcpRoute } from './mcp/mcp-route.js';
import { createReadinessCheck } from './readiness.js';

export interface AppDeps {
  /** The HTTP transport for Portkey calls (undici on Node, fetch on Workers); fetch when absent. */
  transport?: HttpTransport;
  /** The embedded Portkey sandbox (Node, local mode only): answers every Portkey call, and every tool answer says so. */
  sandbox?: Sandbox;
  logger?: Logger;
  /** Tenants beyond TENANTS: Workers KV, or Redis on Node (TENANTS_REDIS_PREFIX). */
  tenantStore?: TenantStore;
  /** Replaces the tenant resolver built from config and tenantStore (tests). */
  resolveTenant?: TenantResolver;
  /** Overrides the in-process rate limiters (e.g. Cloudflare's rate-limiting binding). */
  rateLimiters?: InviteRateLimiters;
  /** The address the request came from as the runtime sees it (Node: the socket's peer; Workers: CF-Connecting-IP). */
  socketAddress?: (c: Context) => string | undefined;
  /** True once the runtime has begun shutting down: /readyz answers 503 from then on (Node). */
  isShuttingDown?: () => boolean;
  /** Traces and metrics; by default through the global OpenTelemetry API (a no-op until a runtime registers an SDK). */
  telemetry?: Telemetry;
  /** Once shutdown has begun: when responses still in flight will be cut (ms since the epoch); no POST starts that could not answer by then. */
  responsesCutAt?: () => number | undefined;
}

export interface InviteServer {
  app: Hono<AppEnv>;
  fetch: (request: Request, ...rest: unknown[]) => Response | Promise<Response>;
  /** Fetches remote keys ahead of the first request (a failure is logged at warn); never throws. */
  warmUp(): Promise<void>;
}

/** Headers a browser-based MCP client needs (MCP transports §"Streamable HTTP", RFC 6750, RFC 9728). */
const CORS_ALLOW_HEADERS = ['Authorization', 'Content-Type', 'Mcp-Protocol-Version', 'Mcp-Session-Id', 'Last-Event-ID'];
const CORS_EXPOSE_HEADERS = ['WWW-Authenticate', 'Mcp-Session-Id', 'Mcp-Protocol-Version', 'X-Request-Id'];

/** Probes arrive every few seconds from every balancer: an info line each would drown the log, so they log at debug. */
const PROBE_PATHS = new Set(['/healthz', '/readyz']);

/** Builds the whole server once; nothing in here reads the environment or touches a runtime API. */
export function createApp(config: Config, deps: AppDeps = {}): InviteServer {
  const logger = deps.logger ?? createLogger();
  // Read after the runtime has registered its OpenTelemetry SDK, if any (src/node/telemetry.ts).
  const telemetry = deps.telemetry ?? createTelemetry(SERVER_INFO.version);
  const verify = createTokenVerifier(config.auth);
  const resolveTenant = deps.resolveTenant ?? createConfiguredTenantResolver(config, deps.tenantStore, logger);
  const handleMcp = createMcpHandler({
    resolveTenant,
    keyLabel: (tenant) => keyLabel(config.tenants, tenant),
    portkey: createPortkeyClient({ timeoutMs: config.portkeyTimeoutMs, transport: deps.sandbox?.transport ?? deps.transport, telemetry }),
    answerNotice: deps.sandbox?.notice,
    adminScope: config.auth.adminScope,
    defaultTools: config.defaultTools,
    rateLimiters: deps.rateLimiters ?? memoryRateLimiters(config),
    logger,
    responsesCutAt: deps.responsesCutAt,
    telemetry,
  });
  const metadata = protectedResourceMetadata(config, allScopes(config.auth));
  const route = mcpRoute({ config, resolveTenant, logger, telemetry, handleMcp, socketAddress: deps.socketAddress });
  const readiness = createReadinessCheck({ config, keysReady: verify.keysReady, isShuttingDown: deps.isShuttingDown ?? (() => false) });

  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const log = PROBE_PATHS.has(c.req.path) ? logger.debug : logger.info;
    log('http.request', {
      request_id: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      tenant: c.get('tenant') ?? null,
    });
  });

  // Liveness: the process serves. Never calls Portkey or the JWKS host.
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  // Readiness: keys to verify tokens, a Portkey key or tenant source, and not shutting down.
  app.get('/readyz', async (c) => {
    const report = await readiness();
    c.header('Cache-Control', 'no-store');
    return report.ready ? c.json({ status: 'ready' }) : c.json({ status: 'not_ready', missing: report.missing }, 503);
  });

  // With PUBLIC_URL=https://ex.com/invite, a proxy may strip the prefix (requests arrive at /mcp)
  // or keep it (/invite/mcp): both are served, as the same resource.
  const prefix = publicPath(config);
  const mcpPaths = [...new Set(['/mcp', `${prefix}/mcp`])];
  // RFC 9728 §3.1: protected resource metadata at the well-known URL with the resource path
  // appended (/.well-known/oauth-protected-resource/invite/mcp), plus the root well-known URL and,
  // for clients that append the well-known path to PUBLIC_URL, the same under the prefix.
  const metadataPaths = [
    ...new Set([
      `/.well-known/oauth-protected-resource${prefix}/mcp`,
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
      `${prefix}/.well-known/oauth-protected-resource/mcp`,
      `${prefix}/.well-known/oauth-protected-resource`,
    ]),
  ];
  const prm = cors({ origin: '*', allowMethods: ['GET'] });
  for (const path of metadataPaths) {
    app.use(path, prm);
    app.get(path, (c) =>
      hasAuthorizationServer(config)
        ? c.json(metadata)
        : c.json(
            { error: 'not_found', error_description: 'No authorization server is configured: tokens are issued by the platform that shares AUTH_JWT_SECRET.' },
            404,
            NO_OAUTH_HEADERS,
          ),
    );
  }
  if (!hasAuthorizationServer(config)) answerOAuthProbes(app);

  // MCP transports §"Security Warning": validate Origin (and Host) to prevent DNS rebinding.
  const sources = requestSourcePolicy(config);
  const corsForMcp = onlyWithOrigin(
    cors({
      origin: (origin) => (sources.originAllowed(origin) ? origin : null),
      allowMethods: ['POST', 'GET', 'DELETE', 'OPTIONS'],
      allowHeaders: CORS_ALLOW_HEADERS,
      exposeHeaders: CORS_EXPOSE_HEADERS,
      maxAge: 600,
    }),
  );

  const tooLarge = (c: Context) =>
    jsonRpcError(c, 413, -32600, `Request body too large: the limit is ${config.maxBodyBytes} bytes.`, { closeConnection: true });

  for (const path of mcpPaths) {
    app.use(path, guardRequestSource(sources));
    app.use(path, corsForMcp);
    app.post(
      path,
      authenticate({ config, verify, logger, telemetry }),
      bodyLimitByLength(config.maxBodyBytes, tooLarge, bodyLimit({ maxSize: config.maxBodyBytes, onError: tooLarge })),
      route,
    );

    // Stateless server: no SSE stream to GET and no session to DELETE (MCP transports §2.2, §2.5).
    app.all(path, (c) => {
      c.header('Allow', 'POST');
      return jsonRpcError(c, 405, -32000, `Method ${c.req.method} is not allowed on ${path}: this stateless server only accepts POST.`);
    });
  }

  app.notFound((c) => c.json({ error: 'not_found', message: `No route for ${c.req.method} ${c.req.path}. The MCP endpoint is POST ${prefix}/mcp.` }, 404));
  app.onError((err, c) => {
    if ('getResponse' in err && typeof err.getResponse === 'function') return err.getResponse() as Response;
    if (c.req.raw.signal.aborted) {
      // The client went away, or Node cut off a body that stalled past requestTimeout (slow-loris),
      // while the body was being read: the client's doing, not a server fault.
      logger.info('http.client_aborted', { request_id: c.get('requestId') });
      return jsonRpcError(c, 400, -32000, 'The connection closed before the request body arrived.', { closeConnection: true });
    }
    logger.error('http.unhandled_error', { request_id: c.get('requestId'), error: err.name });
    return jsonRpcError(c, 500, -32603, `Internal server error (request id ${c.get('requestId')}).`);
  });

  return {
    app,
    fetch: (request, ...rest) => app.fetch(request, ...(rest as [])),
    warmUp: async () => {
      const failure = await verify.warmUp();
      if (failure) logger.warn('auth.jwks_unavailable', { phase: 'start-up', reason: failure });
    },
  };
}

/** Per-process limiters from config; on Node they hold for this process only. */
function memoryRateLimiters(config: Config): InviteRateLimiters {
  const perMinute = (limit: number) => (limit > 0 ? createMemoryRateLimiter({ limit, windowMs: 60_000 }) : undefined);
  return { tenant: perMinute(config.rateLimits.tenantPerMinute), caller: perMinute(config.rateLimits.callerPerMinute) };
}
