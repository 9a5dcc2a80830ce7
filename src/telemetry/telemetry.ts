/**
 * Traces and metrics by the OpenTelemetry semantic conventions for MCP (GenAI semconv,
 * docs/gen-ai/mcp.md, status "Development") and for HTTP clients, through `@opentelemetry/api`
 * only: a no-op until a runtime registers an SDK (the Node entry does when OTEL_* variables ask
 * for it: src/node/telemetry.ts), so the core stays runtime-neutral and costs next to nothing
 * without one.
 *
 * Only bounded values become metric attributes: method and tool names, outcomes from
 * src/audit-outcomes.ts, tenant ids from configuration (a tenant that did not resolve is
 * `_none`), token check names. Never an email, subject, token, key, invite id or request id; the
 * invitee's email is personal data and stays in the audit line.
 */
import { mcpRequestInfo, metaOf } from './mcp-request-info.js';
import {
  context, createNoopMeter, isSpanContextValid, metrics, propagation, ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type SpanContext,
} from '@opentelemetry/api';

const SCOPE = 'portkey-invite-mcp';

export interface UpstreamCallInfo {
  method: string;
  /** The request's path below the base URL; only its route (no query: it carries the email) is recorded. */
  path: string;
  /** The path as a template, when it holds an id (`/admin/workspaces/{workspaceId}`). */
  route?: string;
  url: string;
}

export interface Telemetry {
  /**
   * Runs `work` inside a SERVER span for one MCP request (`body`, the parsed JSON-RPC message), a
   * root linked to the caller's W3C trace context in `params._meta` (which wins) or the HTTP
   * headers, and records mcp.server.operation.duration. `work` reports the outcome through the
   * record it is given.
   */
  mcpRequest<T>(body: unknown, headers: Headers, work: (record: McpOutcome) => Promise<T>): Promise<T>;
  /** A CLIENT span and http.client.request.duration around one Portkey exchange. */
  upstreamCall<T extends { status: number }>(info: UpstreamCallInfo, call: () => Promise<T>): Promise<T>;
  inviteOutcome(tenant: string | undefined, outcome: string): void;
  /** Every tool call's outcome, by tool (the audit outcome, with placeholders for Portkey's codes). */
  toolOutcome(tool: string, tenant: string | undefined, outcome: string): void;
  authRejected(check: string): void;
  rateLimited(limit: 'caller' | 'tenant', tenant: string): void;
}

/** What the request's handler learns about its outcome, for the span and the histogram. */
export interface McpOutcome {
  /** `tool_error` for an isError result; an HTTP status for an HTTP-level refusal. */
  errorType?: string;
}

// Advisory bucket boundaries (seconds) from the MCP and HTTP semantic conventions.
const DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** Without an SDK: the work alone, no span, no clock read, no message read (the hot path stays as it was). */
const PASSTHROUGH: Telemetry = {
  mcpRequest: (_body, _headers, work) => work({}),
  upstreamCall: (_info, call) => call(),
  inviteOutcome: () => {},
  toolOutcome: () => {},
  authRejected: () => {},
  rateLimited: () => {},
};

/** Reads the globals once: call after the runtime has registered its SDK (metrics are not proxied by the API). */
export function createTelemetry(version: string): Telemetry {
  const provider = trace.getTracerProvider();
  const tracing = !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer(SCOPE, version) !== undefined;
  const meter = metrics.getMeter(SCOPE, version);
  const metering = meter.constructor !== createNoopMeter().constructor;
  if (!tracing && !metering) return PASSTHROUGH;
  const tracer = trace.getTracer(SCOPE, version);
  const operationDuration = meter.createHistogram('mcp.server.operation.duration', {
    description: 'Duration of MCP requests on the server side',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const clientDuration = meter.createHistogram('http.client.request.duration', {
    description: 'Duration of HTTP client requests (to Portkey)',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const invites = meter.createCounter('invite_mcp.invite.outcomes', { description: 'invite_user calls by outcome (src/audit-outcomes.ts) and tenant', unit: '{call}' });
  const authRejections = meter.createCounter('invite_mcp.auth.rejections', { description: 'Requests refused by authentication, by the check that failed', unit: '{request}' });
  const toolCalls = meter.createCounter('invite_mcp.tool.calls', { description: 'Tool calls by tool and outcome', unit: '{call}' });
  const rateLimited = meter.createCounter('invite_mcp.rate_limit.refusals', { description: 'invite_user calls refused by a rate limit', unit: '{call}' });

  return {
    async mcpRequest(body, headers, work) {
      const info = mcpRequestInfo(body, headers.get('mcp-protocol-version') ?? undefined);
      // The caller's trace context is a link, never the parent: a caller may not choose our trace id
      // or sampling (forcing every call traced, or hiding its own), and its tracestate is not kept.
      const callerContext = callerSpanContext(headers, metaOf(body));
      const links = callerContext ? [{ context: callerContext }] : undefined;
      const attributes: Record<string, string | number> = { 'mcp.method.name': info.method };
      if (info.toolName) attributes['gen_ai.tool.name'] = info.toolName;
      if (info.requestId !== undefined) attributes['jsonrpc.request.id'] = String(info.requestId);
      if (info.protocolVersion) attributes['mcp.protocol.version'] = info.protocolVersion;
      attributes['network.transport'] = 'tcp';
      attributes['network.protocol.name'] = 'http';
      const span = tracer.startSpan(info.toolName ? `${info.method} ${info.toolName}` : info.method, { kind: SpanKind.SERVER, attributes, links, root: true });
      const started = performance.now();
      const record: McpOutcome = {};
      try {
        return await context.with(trace.setSpan(ROOT_CONTEXT, span), () => work(record));
      } catch (err) {
        record.errorType ??= err instanceof Error ? err.name : 'unknown';
        throw err;
      } finally {
        const metricAttributes: Record<string, string> = { 'mcp.method.name': info.method };
        if (info.toolName) metricAttributes['gen_ai.tool.name'] = info.toolName;
        if (record.errorType) {
          span.setAttribute('error.type', record.errorType);
          span.setStatus({ code: SpanStatusCode.ERROR });
          metricAttributes['error.type'] = record.errorType;
        }
        span.end();
        operationDuration.record((performance.now() - started) / 1000, metricAttributes);
      }
    },

    async upstreamCall(info, call) {
      const { hostname, port } = serverOf(info.url);
      const route = info.route ?? info.path.split('?', 1)[0]!;
      const attributes = {
        'http.request.method': info.method,
        'server.address': hostname,
        'server.port': port,
        'url.template': route,
      };
      const span = tracer.startSpan(`${info.method} ${route}`, { kind: SpanKind.CLIENT, attributes });
      const started = performance.now();
      const metricAttributes: Record<string, string | number> = { 'http.request.method': info.method, 'server.address': hostname, 'server.port': port };
      try {
        const answer = await call();
        span.setAttribute('http.response.status_code', answer.status);
        metricAttributes['http.response.status_code'] = answer.status;
        if (answer.status >= 400) {
          span.setAttribute('error.type', String(answer.status));
          span.setStatus({ code: SpanStatusCode.ERROR });
          metricAttributes['error.type'] = String(answer.status);
        }
        return answer;
      } catch (err) {
        // The error's kind (e.g. AmbiguousOutcomeError, code timeout), never its message: it may name the email.
        const type = (err as { code?: unknown }).code;
        const errorType = typeof type === 'string' ? type : err instanceof Error ? err.name : 'unknown';
        span.setAttribute('error.type', errorType);
        span.setStatus({ code: SpanStatusCode.ERROR });
        metricAttributes['error.type'] = errorType;
        throw err;
      } finally {
        span.end();
        clientDuration.record((performance.now() - started) / 1000, metricAttributes);
      }
    },

    inviteOutcome(tenant, outcome) {
      invites.add(1, { outcome, tenant: tenant ?? '_none' });
    },
    toolOutcome(tool, tenant, outcome) {
      toolCalls.add(1, { tool, outcome, tenant: tenant ?? '_none' });
    },
    authRejected(check) {
      authRejections.add(1, { check });
    },
    rateLimited(limit, tenant) {
      rateLimited.add(1, { limit, tenant });
    },
  };
}

/** Host and port of a Portkey URL, parsed once per origin (tenants have a handful). */
const servers = new Map<string, { hostname: string; port: number }>();
function serverOf(url: string): { hostname: string; port: number } {
  const origin = url.slice(0, url.indexOf('/', url.indexOf('//') + 2) >>> 0);
  let found = servers.get(origin);
  if (!found) {
    const u = new URL(url);
    found = { hostname: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
    if (servers.size < 256) servers.set(origin, found);
  }
  return found;
}

/**
 * The caller's span, to link to: W3C trace context from `params._meta` (MCP carries it there for
 * each request; it wins), else from the HTTP headers. Only the trace and span ids are kept: not
 * the sampled flag (sampling is this server's), not tracestate (caller data we do not export).
 */
function callerSpanContext(headers: Headers, meta: unknown): SpanContext | undefined {
  let found: SpanContext | undefined;
  if (meta && typeof meta === 'object' && typeof (meta as { traceparent?: unknown }).traceparent === 'string') {
    const carrier = meta as Record<string, unknown>;
    found = trace.getSpanContext(
      propagation.extract(ROOT_CONTEXT, carrier, {
        keys: (c) => Object.keys(c),
        get: (c, key) => (key === 'traceparent' && typeof c[key] === 'string' ? (c[key] as string) : undefined),
      }),
    );
  }
  found ??= trace.getSpanContext(
    propagation.extract(ROOT_CONTEXT, headers, {
      keys: (h) => [...h.keys()],
      get: (h, key) => (key === 'traceparent' ? (h.get(key) ?? undefined) : undefined),
    }),
  );
  return found && isSpanContextValid(found) ? { traceId: found.traceId, spanId: found.spanId, traceFlags: TraceFlags.NONE } : undefined;
}

