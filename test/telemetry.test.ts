/**
 * OpenTelemetry through the real Node entry (issue 22): the SDK registered from the standard
 * OTEL_* variables as in production, exporting OTLP/HTTP JSON to a receiver of the tests' own.
 * Span trees for a call with a traceparent header and with params._meta.traceparent, the CLIENT
 * span's status code, error.type on a refused invite, the duration histogram, nothing sensitive
 * in anything exported, a Prometheus scrape, and OTEL_SDK_DISABLED=true exporting nothing.
 */
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, freePort, inviteCall, observed, token } from './support/harness.js';
import { startChild, waitFor, type Started } from './support/child.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const entry = fileURLToPath(new URL('../src/node.ts', import.meta.url));
const tsx = fileURLToPath(import.meta.resolve('tsx'));

interface Receiver {
  url: string;
  bodies: { path: string; text: string }[];
  close(): Promise<void>;
}

/** An OTLP/HTTP receiver (JSON encoding): keeps every body posted to /v1/traces and /v1/metrics. */
async function startReceiver(): Promise<Receiver> {
  const bodies: { path: string; text: string }[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => {
      bodies.push({ path: req.url ?? '', text });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number };
  links?: { traceId: string; spanId: string; traceState?: string }[];
}

const spansIn = (r: Receiver): OtlpSpan[] =>
  r.bodies
    .filter((b) => b.path === '/v1/traces')
    .flatMap((b) => (JSON.parse(b.text).resourceSpans ?? []).flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans as OtlpSpan[])));
const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v ? (v.stringValue ?? Number(v.intValue ?? v.doubleValue)) : undefined;
};
const metricNames = (r: Receiver): string[] =>
  r.bodies
    .filter((b) => b.path === '/v1/metrics')
    .flatMap((b) => (JSON.parse(b.text).resourceMetrics ?? []).flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics.map((m: any) => m.name as string))));

let portkey: PortkeyDouble;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
});
afterAll(() => portkey.close());

async function server(otel: Record<string, string>): Promise<Started & { url: string }> {
  const s = startChild(process.execPath, ['--import', tsx, entry], {
    PORT: '0',
    AUTH_JWT_SECRET: SECRETS.jwtSecret,
    PUBLIC_URL: 'http://mcp.test',
    PORTKEY_API_KEY: SECRETS.portkeyKey,
    PORTKEY_BASE_URL: portkey.url,
    TENANTS: '',
    RATE_LIMIT_CALLER_PER_MINUTE: '0',
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
    ...otel,
  });
  await waitFor(() => s.stdout().includes('"event":"server.started"') || s.child.exitCode !== null, 'the server to start');
  if (!s.stdout().includes('server.started')) throw new Error(s.stderr());
  return Object.assign(s, { url: /"url":"([^"]+)"/.exec(s.stdout())![1]! });
}

async function post(url: string, body: unknown, bearer: string, headers: Record<string, string> = {}): Promise<any> {
  const res = await fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  observed.responses.push(text);
  return JSON.parse(text);
}

const TRACE_A = '0af7651916cd43dd8448eb211c80319c';
const PARENT_A = 'b7ad6b7169203331';
const TRACE_B = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_B = '00f067aa0ba902b7';
const TRACE_C = '5bf92f3577b34da6a3ce929d0e0e4799';

describe('OTLP traces and metrics to a receiver (http/json)', () => {
  let receiver: Receiver;
  let s: Started & { url: string };
  let bearer: string;
  beforeAll(async () => {
    receiver = await startReceiver();
    s = await server({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '300',
      OTEL_SERVICE_NAME: 'invite-mcp-test',
    });
    bearer = await token();
    portkey.reset();
    // 1. traceparent in the HTTP header only.
    await post(s.url, inviteCall({ email: 'traced@example.com', role: 'member', workspaces: [] }, 1), bearer, {
      traceparent: `00-${TRACE_A}-${PARENT_A}-01`,
      tracestate: 'vendor=caller-data-SECRET',
    });
    // 2. traceparent in params._meta, and another in the header: _meta wins.
    const withMeta = inviteCall({ email: 'meta@example.com', role: 'member', workspaces: [] }, 2) as any;
    withMeta.params._meta = { traceparent: `00-${TRACE_B}-${PARENT_B}-01` };
    await post(s.url, withMeta, bearer, { traceparent: `00-${TRACE_A}-${PARENT_A}-01` });
    // 3. refused: the same email again is a 409 from Portkey, an isError result.
    const refused = await post(s.url, inviteCall({ email: 'traced@example.com', role: 'member', workspaces: [] }, 3), bearer);
    expect(refused.result.isError).toBe(true);
    // 4. ids a caller could grow a span with, or hide personal data in; and a caller asking not to be sampled.
    await post(s.url, { jsonrpc: '2.0', id: 'x'.repeat(100_000), method: 'tools/list' }, bearer);
    await post(s.url, { jsonrpc: '2.0', id: 'someone@example.com', method: 'tools/list' }, bearer, { traceparent: `00-${TRACE_C}-${PARENT_A}-00` });
    await waitFor(() => spansIn(receiver).filter((sp) => sp.kind === 2).length >= 5 && metricNames(receiver).includes('mcp.server.operation.duration'), 'spans and metrics to arrive');
  });
  afterAll(async () => {
    s.child.kill('SIGTERM');
    await s.exited;
    await receiver.close();
  });

  it('a SERVER span "tools/call invite_user" in a trace of its own, linked to the header\'s traceparent, with the MCP attributes, and a CLIENT span for the POST under it', () => {
    const spans = spansIn(receiver);
    const serverSpan = spans.find((sp) => sp.kind === 2 && attr(sp, 'jsonrpc.request.id') === '1')!;
    expect(serverSpan).toMatchObject({ name: 'tools/call invite_user', kind: 2 });
    // The caller's context is a link: its trace id is not ours, its tracestate is not exported.
    expect(serverSpan.traceId).not.toBe(TRACE_A);
    expect(serverSpan.parentSpanId || undefined).toBeUndefined();
    expect(serverSpan.links).toEqual([expect.objectContaining({ traceId: TRACE_A, spanId: PARENT_A })]);
    expect(serverSpan.links![0]!.traceState || undefined).toBeUndefined();
    expect(JSON.stringify(receiver.bodies)).not.toContain('caller-data-SECRET');
    expect(attr(serverSpan, 'mcp.method.name')).toBe('tools/call');
    expect(attr(serverSpan, 'gen_ai.tool.name')).toBe('invite_user');
    expect(attr(serverSpan, 'jsonrpc.request.id')).toBe('1');
    expect(attr(serverSpan, 'mcp.protocol.version')).toBe('2025-11-25');
    expect(attr(serverSpan, 'error.type')).toBeUndefined();
    const client = spans.find((sp) => sp.parentSpanId === serverSpan.spanId && sp.kind === 3)!;
    expect(client.name).toBe('POST /admin/users/invites');
    expect(attr(client, 'http.request.method')).toBe('POST');
    expect(attr(client, 'server.address')).toBe('127.0.0.1');
    expect(attr(client, 'http.response.status_code')).toBe(200);
  });

  it('params._meta.traceparent wins over the header (as the link)', () => {
    const spans = spansIn(receiver);
    const metaSpan = spans.find((sp) => sp.kind === 2 && attr(sp, 'jsonrpc.request.id') === '2')!;
    expect(metaSpan.links).toEqual([expect.objectContaining({ traceId: TRACE_B, spanId: PARENT_B })]);
  });

  it('a request id is recorded only when it is a short plain token: not 100 KB of it, not an email', () => {
    const lists = spansIn(receiver).filter((sp) => sp.name === 'tools/list');
    expect(lists).toHaveLength(2);
    for (const sp of lists) expect(attr(sp, 'jsonrpc.request.id')).toBeUndefined();
    expect(JSON.stringify(receiver.bodies)).not.toContain('someone@example.com');
    expect(Math.max(...receiver.bodies.map((b) => b.text.length))).toBeLessThan(50_000);
  });

  it('sampling is ours: a caller whose traceparent says "not sampled" is traced all the same', () => {
    const sp = spansIn(receiver).find((s) => s.links?.some((l) => l.traceId === TRACE_C));
    expect(sp).toBeDefined();
  });

  it('a refused invite: error.type tool_error and an error status on the SERVER span; the CLIENT span shows 409 and the lookup GET', () => {
    const spans = spansIn(receiver);
    const refused = spans.find((sp) => sp.kind === 2 && attr(sp, 'jsonrpc.request.id') === '3')!;
    expect(attr(refused, 'error.type')).toBe('tool_error');
    expect(refused.status?.code).toBe(2);
    const children = spans.filter((sp) => sp.parentSpanId === refused.spanId);
    expect(children.map((c) => [c.name, attr(c, 'http.response.status_code')])).toEqual([
      ['POST /admin/users/invites', 409],
      ['GET /admin/users/invites', 200],
    ]);
    expect(attr(children[0]!, 'error.type')).toBe('409');
  });

  it('exports mcp.server.operation.duration, the Portkey call histogram and the outcome counter', () => {
    const names = metricNames(receiver);
    expect(names).toEqual(expect.arrayContaining(['mcp.server.operation.duration', 'http.client.request.duration', 'invite_mcp.invite.outcomes']));
    const outcomes = receiver.bodies.filter((b) => b.path === '/v1/metrics').map((b) => b.text).join('\n');
    expect(outcomes).toContain('"already_invited"');
  });

  it('nothing exported carries the Portkey key, the token or an invitee email', () => {
    const all = receiver.bodies.map((b) => b.text).join('\n');
    expect(all.length).toBeGreaterThan(0);
    for (const secret of [SECRETS.portkeyKey, bearer, SECRETS.jwtSecret, 'traced@example.com', 'meta@example.com', 'traced%40example.com']) expect(all).not.toContain(secret);
  });
});

describe('Prometheus', () => {
  it('OTEL_METRICS_EXPORTER=prometheus serves the metrics for a scrape', async () => {
    const port = await freePort();
    const s = await server({ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) });
    try {
      portkey.reset();
      await post(s.url, inviteCall({ email: 'scraped@example.com', role: 'member', workspaces: [] }), await token());
      const scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(scrape).toMatch(/mcp_server_operation_duration(_seconds)?_bucket\{.*mcp_method_name="tools\/call"/);
      expect(scrape).toMatch(/invite_mcp_invite_outcomes(_total)?\{.*outcome="invited".*\} 1/);
      expect(scrape).not.toContain('scraped@example.com');
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});

describe('OTEL_SDK_DISABLED=true', () => {
  it('exports nothing, even with exporters and an endpoint set', async () => {
    const receiver = await startReceiver();
    const s = await server({
      OTEL_SDK_DISABLED: 'true',
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
    });
    try {
      portkey.reset();
      await post(s.url, inviteCall({ email: 'dark@example.com', role: 'member', workspaces: [] }), await token());
      await new Promise((r) => setTimeout(r, 800));
      expect(receiver.bodies).toEqual([]);
      expect(s.stdout()).not.toContain('telemetry.started');
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
      await receiver.close();
    }
  });
});

describe('telemetry that an operator runs in production', () => {
  const stop = async (s: Started) => {
    s.child.kill('SIGTERM');
    await s.exited;
  };
  const nonJsonLines = (s: Started) => s.stdout().split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));

  it('/metrics listens on the server\'s own HOST by default, and a port that is taken is a warning, not silence', async () => {
    const taken = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => taken.listen(port, '127.0.0.1', r));
    const s = await server({ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) });
    try {
      await waitFor(() => s.stdout().includes('telemetry.metrics_endpoint_unavailable'), 'the warning');
      const line = s.stdout().split('\n').find((l) => l.includes('telemetry.metrics_endpoint_unavailable'))!;
      expect(JSON.parse(line)).toMatchObject({ level: 'warn', code: 'EADDRINUSE', hint: expect.stringMatching(/OTEL_EXPORTER_PROMETHEUS_PORT/) });
    } finally {
      await stop(s);
      taken.close();
    }
    // Free now: served on 127.0.0.1 (HOST), not on every interface.
    const s2 = await server({ OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'prometheus', OTEL_EXPORTER_PROMETHEUS_PORT: String(port) });
    try {
      await waitFor(() => {
        try {
          return execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).includes(':' + port);
        } catch {
          return true; // no ss here: the scrape below still shows it serves
        }
      }, 'the metrics endpoint');
      const listening = (() => {
        try {
          return execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
        } catch {
          return undefined;
        }
      })();
      if (listening !== undefined) expect(listening).toContain(`127.0.0.1:${port}`);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    } finally {
      await stop(s2);
    }
  });

  it('outside local mode, the console exporter is refused with a warning and OTEL_LOG_LEVEL=debug writes JSON lines only', async () => {
    const s = await server({ OTEL_TRACES_EXPORTER: 'console', OTEL_METRICS_EXPORTER: 'none', OTEL_LOG_LEVEL: 'debug' });
    try {
      await post(s.url, { jsonrpc: '2.0', id: 7, method: 'tools/list' }, await token());
      await new Promise((r) => setTimeout(r, 500));
      expect(s.stdout()).toContain('telemetry.console_refused');
      expect(s.stdout()).toContain('"event":"telemetry.sdk"');
    } finally {
      await stop(s);
    }
    expect(nonJsonLines(s)).toEqual([]);
  });

  it('a collector that never answers holds the shutdown for the flush bound at most', async () => {
    // Accepts connections, never answers.
    const sockets: net.Socket[] = [];
    const hung = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const s = await server({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(hung.address() as AddressInfo).port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_TIMEOUT: '30000',
      OTEL_BSP_SCHEDULE_DELAY: '60000',
      OTEL_METRIC_EXPORT_INTERVAL: '60000',
    });
    try {
      await post(s.url, { jsonrpc: '2.0', id: 8, method: 'tools/list' }, await token());
      const started = Date.now();
      s.child.kill('SIGTERM');
      await s.exited;
      // Nothing in flight: the 2 s flush bound and process exit, not the exporter's 30 s timeout.
      expect(Date.now() - started).toBeLessThan(6_000);
      expect(s.stdout()).toContain('telemetry.flush_abandoned');
    } finally {
      for (const socket of sockets) socket.destroy();
      hung.close();
    }
  });
});
