/** The load generator (autocannon, in the driver process) and a full check of a few answers. */
import autocannon from 'autocannon';
import { requestHeaders, type Fixtures, type Scenario } from './fixtures.js';

/** Every response body: a JSON-RPC result that is not a tool error (JSON or SSE-framed). */
const verifyBody = (body: string) => body.includes('"result"') && !body.includes('"isError":true');

export interface LoadResult {
  requests: number;
  durationS: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
  statusCodes: Record<string, number>;
}

/** Latencies of every response (autocannon's own histogram keeps whole milliseconds only). */
class Samples {
  private buf = new Float64Array(1 << 16);
  n = 0;
  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  summary(): LoadResult['latencyMs'] {
    if (this.n === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
    const sorted = this.buf.slice(0, this.n).sort();
    const at = (p: number) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))]!;
    let sum = 0;
    for (const v of sorted) sum += v;
    return { p50: at(50), p90: at(90), p99: at(99), max: sorted[this.n - 1]!, mean: sum / this.n };
  }
}

export async function load(o: { port: number; scenario: Scenario; fx: Fixtures; connections: number; duration?: number; amount?: number }): Promise<LoadResult> {
  const samples = new Samples();
  const options: autocannon.Options = {
    url: `http://127.0.0.1:${o.port}/mcp`,
    method: 'POST',
    headers: requestHeaders(o.scenario, o.fx),
    body: o.scenario.body,
    connections: o.connections,
    pipelining: 1,
    timeout: 10,
    ...(o.amount !== undefined ? { amount: o.amount } : { duration: o.duration ?? 1 }),
  };
  // verifyBody (every response body checked; a failure counts as a mismatch) is missing from @types/autocannon.
  Object.assign(options, { verifyBody });
  let instance!: autocannon.Instance;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(options, (err, result) => (err ? reject(err) : resolve(result)));
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => samples.push(responseTime));
  const r = await done;
  const durationS = r.duration;
  const requests = r.requests.total;
  const statusCodes: Record<string, number> = {};
  for (const [code, s] of Object.entries((r as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats ?? {})) statusCodes[code] = s.count;
  return {
    requests,
    durationS,
    rps: requests / durationS,
    latencyMs: samples.summary(),
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    mismatches: (r as unknown as { mismatches: number }).mismatches ?? 0,
    statusCodes,
  };
}

/** A few requests with fetch, every answer parsed and checked in full (status, JSON-RPC result, no isError). */
export async function sampleCheck(port: number, scenario: Scenario, fx: Fixtures, count = 3): Promise<string | undefined> {
  for (let i = 0; i < count; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers: requestHeaders(scenario, fx), body: scenario.body });
    const text = await res.text();
    if (res.status !== 200) return `HTTP ${res.status}: ${text.slice(0, 300)}`;
    let message: unknown;
    try {
      message = (res.headers.get('content-type') ?? '').includes('text/event-stream')
        ? JSON.parse(text.split('\n').find((l) => l.startsWith('data: '))!.slice(6))
        : JSON.parse(text);
    } catch {
      return `unparsable body: ${text.slice(0, 300)}`;
    }
    const problem = scenario.check(message);
    if (problem) return problem;
  }
  return undefined;
}

export const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const MiB = (bytes: number) => bytes / (1024 * 1024);
