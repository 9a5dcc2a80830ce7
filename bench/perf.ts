/**
 * Throughput, latency, CPU and memory of the real Node server, next to a floor and "the usual way".
 *
 *   node --import tsx bench/perf.ts [--duration 10] [--repeats 3] [--quick]
 *   node --import tsx bench/perf.ts --memory          10k then 100k calls: RSS; RS256: JWKS fetches
 *   node --import tsx bench/perf.ts --profile         ours under load, V8 CPU profile of the measured window: top self time
 *   node --import tsx bench/perf.ts --report          rewrite bench/results/latest.md from the newest results
 *
 * Targets (each its own process, bench/servers/*.ts, forked with `--import tsx`):
 *   floor  minimal Hono on @hono/node-server: parse the JSON body, forward the same upstream POST
 *          with the same fetch; nothing else. No MCP server can beat it.
 *   usual  what the SDK's examples teach: Express + requireBearerAuth (jose verifier) + a new
 *          McpServer and Node StreamableHTTPServerTransport per request (stateless).
 *   ours   src/node.ts startNodeServer with the real logger (stdout to /dev/null).
 * Upstream is bench/servers/portkey-stub.ts, its own process, answering 200 at once.
 *
 * Scenarios: invite_user tools/call with an HS256 token; the same with an RS256 token verified
 * against a JWKS served (and its fetches counted) by this process; tools/list (HS256).
 * For each repeat and scenario the three targets are started fresh, warmed up, then measured at
 * each concurrency in turn, alternating targets (the order rotates between cells). Per cell:
 * requests/s, p50/p99 latency (every response's latency, recorded by us), CPU per request
 * (the target's process.cpuUsage() delta over the responses counted), and peak RSS (the target's
 * resourceUsage().maxRSS; concurrency rises 1 -> 16 -> 64 within one process, so it is the peak
 * up to and including that cell). Stats come over the fork() IPC channel, never over HTTP.
 * Every response body is checked (no "isError":true, a "result"); non-2xx, errors, timeouts and
 * mismatches are counted and flag the cell.
 *
 * Output: bench/results/perf-<mode>-<timestamp>.json (raw), bench/results/latest.md (tables of
 * the newest throughput, memory and profile results), and the table on stdout.
 */
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { ChildMessage, ParentMessage, ProcStats } from './servers/common.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = join(repo, 'bench/results');
const serversDir = join(repo, 'bench/servers');

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

const { values: argv } = parseArgs({
  options: {
    duration: { type: 'string' },
    repeats: { type: 'string' },
    quick: { type: 'boolean', default: false },
    memory: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    report: { type: 'boolean', default: false },
    concurrency: { type: 'string' },
    scenarios: { type: 'string' },
    targets: { type: 'string' },
    warmup: { type: 'string' },
    'cell-warmup': { type: 'string' },
    calls: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (argv.help) {
  process.stdout.write(`usage: node --import tsx bench/perf.ts [options]
  --duration S       seconds measured per cell (default 10; --quick: 3)
  --repeats N        repeats (default 3; --quick: 1)
  --quick            3 s, concurrency 16 only, 1 repeat, 1 s warm-up
  --concurrency L    comma list (default 1,16,64)
  --scenarios L      comma list of invite-hs256, invite-rs256, tools-list (default all)
  --targets L        comma list of floor, usual, ours (default all; --memory: ours)
  --warmup S         warm-up per fresh process, at concurrency 16 (default 2; --quick: 1)
  --cell-warmup S    warm-up at the cell's concurrency before each measurement (default 0.3)
  --memory           memory mode: RSS after 10k and 100k invite calls (HS256), JWKS fetches in 10k RS256 calls
  --calls A,B        memory mode call counts (default 10000,100000)
  --profile          ours under invite HS256 load at concurrency 16, V8 CPU profile of the measured window; top self time
  --report           only rewrite bench/results/latest.md from the newest results
`);
  process.exit(0);
}

const num = (v: string | undefined, fallback: number, name: string): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
};
const listOf = <T extends string>(v: string | undefined, all: readonly T[], fallback: readonly T[], name: string): T[] => {
  if (v === undefined) return [...fallback];
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!all.includes(item as T)) throw new Error(`--${name}: unknown ${JSON.stringify(item)} (known: ${all.join(', ')})`);
  return items as T[];
};

const TARGETS = ['floor', 'usual', 'ours'] as const;
type TargetName = (typeof TARGETS)[number];
const SCENARIOS = ['invite-hs256', 'invite-rs256', 'tools-list'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const mode: 'throughput' | 'memory' | 'profile' = argv.memory ? 'memory' : argv.profile ? 'profile' : 'throughput';
const quick = argv.quick;
const opts = {
  duration: num(argv.duration, quick ? 3 : 10, 'duration'),
  repeats: Math.round(num(argv.repeats, quick ? 1 : 3, 'repeats')),
  // Ascending: a process's peak RSS at a cell then belongs to that cell's concurrency or a lower one.
  concurrency: (argv.concurrency ? argv.concurrency.split(',').map((s) => Math.round(num(s, 0, 'concurrency'))) : quick ? [16] : [1, 16, 64]).sort((a, b) => a - b),
  scenarios: listOf(argv.scenarios, SCENARIOS, SCENARIOS, 'scenarios'),
  targets: listOf(argv.targets, TARGETS, mode === 'throughput' ? TARGETS : ['ours'], 'targets'),
  warmup: num(argv.warmup, quick ? 1 : 2, 'warmup'),
  cellWarmup: num(argv['cell-warmup'], 0.3, 'cell-warmup'),
  calls: argv.calls ? argv.calls.split(',').map((s) => Math.round(num(s, 0, 'calls'))) : [10_000, 100_000],
};

// ---------------------------------------------------------------------------------------------
// Fixtures: tokens, JWKS, request bodies
// ---------------------------------------------------------------------------------------------

const PUBLIC_URL = 'http://mcp.bench.test';
const RESOURCE = `${PUBLIC_URL}/mcp`;
const ISSUER = 'http://issuer.bench.test';
const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123456789abcdef';
const PORTKEY_API_KEY = 'pk-bench-admin-key';
const KID = 'bench-rs256-1';

const INVITE_ARGS = { email: 'jane@example.com', role: 'member', workspaces: [{ id: 'ws-engineering', role: 'member' }] };
const BODIES: Record<'invite' | 'list', string> = {
  invite: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'invite_user', arguments: INVITE_ARGS } }),
  list: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
};

interface Fixtures {
  hsToken: string;
  rsToken: string;
  jwks: { server: Server; url: string; fetches: Map<string, number> };
}

async function makeFixtures(): Promise<Fixtures> {
  const now = Math.floor(Date.now() / 1000);
  const ttl = 6 * 3600; // outlives the longest run
  const hsToken = await new SignJWT({ scope: 'portkey.invite' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('bench-user')
    .setAudience(RESOURCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(new TextEncoder().encode(JWT_SECRET));
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const rsToken = await new SignJWT({ scope: 'portkey.invite' })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: KID })
    .setSubject('bench-user')
    .setIssuer(ISSUER)
    .setAudience(RESOURCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(privateKey);

  // A JWKS per path (/jwks/<label>), each path's fetches counted.
  const fetches = new Map<string, number>();
  const payload = JSON.stringify({ keys: [jwk] });
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    fetches.set(path, (fetches.get(path) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' });
    res.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { hsToken, rsToken, jwks: { server, url, fetches } };
}

interface Scenario {
  name: ScenarioName;
  auth: 'hs256' | 'rs256';
  body: string;
  /** Checks one parsed JSON-RPC response; returns a problem or undefined. */
  check(message: any): string | undefined;
}

const checkInvite = (m: any) =>
  m?.result?.isError ? `isError: ${m.result.content?.[0]?.text}` : typeof m?.result?.structuredContent?.invite_id === 'string' ? undefined : `no invite_id in ${JSON.stringify(m).slice(0, 300)}`;
const checkList = (m: any) => (m?.result?.tools?.[0]?.name === 'invite_user' ? undefined : `no invite_user tool in ${JSON.stringify(m).slice(0, 300)}`);

const SCENARIO_DEFS: Record<ScenarioName, Scenario> = {
  'invite-hs256': { name: 'invite-hs256', auth: 'hs256', body: BODIES.invite, check: checkInvite },
  'invite-rs256': { name: 'invite-rs256', auth: 'rs256', body: BODIES.invite, check: checkInvite },
  'tools-list': { name: 'tools-list', auth: 'hs256', body: BODIES.list, check: checkList },
};

function requestHeaders(scenario: Scenario, fx: Fixtures): Record<string, string> {
  return {
    authorization: `Bearer ${scenario.auth === 'rs256' ? fx.rsToken : fx.hsToken}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
  };
}

/** Every response body: a JSON-RPC result that is not a tool error (JSON or SSE-framed). */
const verifyBody = (body: string) => body.includes('"result"') && !body.includes('"isError":true');

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

const live = new Set<Proc>();

class Proc {
  readonly pid: number;
  port = 0;
  private stderrTail = '';
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: ChildMessage) => void; reject: (e: Error) => void }>();
  private exited = false;
  readonly exit: Promise<number | null>;

  private constructor(readonly name: string, private readonly child: ChildProcess) {
    this.pid = child.pid!;
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    this.exit = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exited = true;
        live.delete(this);
        for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (${code ?? signal}) ${this.tail()}`));
        this.waiting.clear();
        resolve(code);
      }),
    );
    child.on('message', (raw) => {
      const m = raw as ChildMessage;
      if (m.type === 'ready') return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      w.resolve(m);
    });
  }

  /** Forks a bench server (stdout to /dev/null, stderr kept for errors) in its own process group. */
  static start(name: string, script: string, env: Record<string, string>, execArgv: string[] = []): Promise<Proc> {
    const child = fork(join(serversDir, script), [], {
      execArgv: ['--import', 'tsx', ...execArgv],
      env: { ...process.env, NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      detached: true,
      cwd: repo,
    });
    const proc = new Proc(name, child);
    live.add(proc);
    return new Promise<Proc>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill();
        reject(new Error(`${name} did not start within 30 s ${proc.tail()}`));
      }, 30_000);
      child.on('message', (raw) => {
        const m = raw as ChildMessage;
        if (m.type === 'ready') {
          clearTimeout(timer);
          proc.port = m.port;
          resolve(proc);
        }
      });
      void proc.exit.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready ${proc.tail()}`));
      });
    });
  }

  tail(): string {
    return this.stderrTail ? `\n--- ${this.name} stderr ---\n${this.stderrTail.trim()}\n---` : '';
  }

  private request(message: ParentMessage, timeoutMs = 20_000): Promise<ChildMessage> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited ${this.tail()}`));
    return new Promise<ChildMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(message.id);
        reject(new Error(`${this.name}: no answer to ${message.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(message.id, {
        resolve: (m) => (clearTimeout(timer), resolve(m)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.child.send(message);
    });
  }

  async stats(gc = false): Promise<ProcStats> {
    const m = await this.request({ type: 'stats', id: this.nextId++, gc });
    if (m.type !== 'stats') throw new Error(`${this.name}: unexpected answer ${m.type}`);
    const { type: _t, id: _i, ...stats } = m;
    return stats;
  }

  /** In-process V8 CPU profile of the main thread, started and stopped around the measured window. */
  async profile(action: 'start' | 'stop', file?: string): Promise<void> {
    const m = await this.request({ type: 'profile', id: this.nextId++, action, ...(file ? { file } : {}) }, 60_000);
    if (m.type !== 'profile' || !m.ok) throw new Error(`${this.name}: profile ${action} failed: ${m.type === 'profile' ? m.error : m.type}`);
  }

  /** SIGKILL to the whole process group. */
  kill(): void {
    if (this.exited) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      try {
        this.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  async stop(): Promise<void> {
    this.kill();
    await this.exit;
  }
}

function killAllSync(): void {
  for (const p of live) p.kill();
}

process.on('exit', killAllSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping every bench process\n`);
    killAllSync();
    process.exit(130);
  });
}
process.on('uncaughtException', (err) => {
  process.stderr.write(`uncaught: ${err.stack ?? err}\n`);
  killAllSync();
  process.exit(1);
});

const SCRIPTS: Record<TargetName, string> = { floor: 'floor.ts', usual: 'usual.ts', ours: 'ours.ts' };

function targetEnv(target: TargetName, auth: 'hs256' | 'rs256', stubUrl: string, fx: Fixtures, jwksLabel: string): Record<string, string> {
  const env: Record<string, string> = { PORT: '0', PUBLIC_URL, PORTKEY_BASE_URL: stubUrl, PORTKEY_API_KEY };
  if (auth === 'rs256' && target !== 'floor') {
    env.AUTH_JWKS_URL = `${fx.jwks.url}/jwks/${jwksLabel}`;
    env.AUTH_ISSUER = ISSUER;
  } else {
    env.AUTH_JWT_SECRET = JWT_SECRET;
  }
  return env;
}

async function startStub(): Promise<{ proc: Proc; url: string }> {
  const proc = await Proc.start('portkey-stub', 'portkey-stub.ts', { PORT: '0' });
  return { proc, url: `http://127.0.0.1:${proc.port}/v1` };
}

// ---------------------------------------------------------------------------------------------
// Load
// ---------------------------------------------------------------------------------------------

interface LoadResult {
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

async function load(o: { port: number; scenario: Scenario; fx: Fixtures; connections: number; duration?: number; amount?: number }): Promise<LoadResult> {
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
async function sampleCheck(port: number, scenario: Scenario, fx: Fixtures, count = 3): Promise<string | undefined> {
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

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = (bytes: number) => bytes / (1024 * 1024);

// ---------------------------------------------------------------------------------------------
// Throughput mode
// ---------------------------------------------------------------------------------------------

interface Cell extends LoadResult {
  repeat: number;
  scenario: ScenarioName;
  target: TargetName;
  concurrency: number;
  /** Order of this measurement within its repeat and scenario. */
  slot: number;
  cpuMsPerReq: number;
  /** Target process CPU over wall time, in % of one core. */
  cpuPct: number;
  peakRssMiB: number;
  rssMiB: number;
  stubCpuMsPerReq: number;
  /** Load generator (this process) CPU over wall time, in % of one core. */
  driverCpuPct: number;
  loadavg1: number;
  flagged: boolean;
  sampleProblem?: string;
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    availableParallelism: os.availableParallelism(),
    totalMemMiB: Math.round(MiB(os.totalmem())),
    loadavg: os.loadavg().map((v) => +v.toFixed(2)),
  };
}

function estimateThroughputSeconds(): number {
  const perProcessStart = 3;
  const cellsPerGroup = opts.concurrency.length * opts.targets.length;
  const group = perProcessStart + opts.warmup + 0.3 + cellsPerGroup * (opts.duration + opts.cellWarmup + 0.25);
  return 4 + opts.repeats * opts.scenarios.length * group;
}

async function runThroughput(fx: Fixtures, stub: { proc: Proc; url: string }, out: RunRecord): Promise<void> {
  const cells: Cell[] = (out.cells = []);
  const total = opts.repeats * opts.scenarios.length * opts.concurrency.length * opts.targets.length;
  let done = 0;
  for (let repeat = 0; repeat < opts.repeats; repeat++) {
    for (const scenarioName of opts.scenarios) {
      const scenario = SCENARIO_DEFS[scenarioName];
      const label = (t: TargetName) => `r${repeat}-${scenarioName}-${t}`;
      const procs = new Map<TargetName, Proc>();
      try {
        const started = await Promise.all(
          opts.targets.map((t) => Proc.start(t, SCRIPTS[t], targetEnv(t, scenario.auth, stub.url, fx, label(t)))),
        );
        opts.targets.forEach((t, i) => procs.set(t, started[i]!));
        const problems = new Map<TargetName, string | undefined>();
        for (const t of opts.targets) {
          problems.set(t, await sampleCheck(procs.get(t)!.port, scenario, fx));
          if (problems.get(t)) process.stderr.write(`!! ${t} ${scenarioName}: ${problems.get(t)}\n`);
        }
        // JIT warm-up of the fresh processes, all at once (nothing is measured here).
        await Promise.all(opts.targets.map((t) => load({ port: procs.get(t)!.port, scenario, fx, connections: 16, duration: opts.warmup })));
        let slot = 0;
        for (const [ci, concurrency] of opts.concurrency.entries()) {
          const shift = (repeat + ci) % opts.targets.length;
          const order = [...opts.targets.slice(shift), ...opts.targets.slice(0, shift)];
          for (const target of order) {
            const p = procs.get(target)!;
            await load({ port: p.port, scenario, fx, connections: concurrency, duration: opts.cellWarmup });
            await sleep(50);
            const [before, stubBefore] = await Promise.all([p.stats(), stub.proc.stats()]);
            const driverBefore = process.cpuUsage();
            const wallBefore = performance.now();
            const r = await load({ port: p.port, scenario, fx, connections: concurrency, duration: opts.duration });
            const driverCpu = cpuMs(process.cpuUsage(driverBefore));
            await sleep(50); // let the requests cut off at the end finish, so their CPU is not counted in the next cell
            const wall = performance.now() - wallBefore;
            const [after, stubAfter] = await Promise.all([p.stats(), stub.proc.stats()]);
            const targetCpu = cpuMs(after.cpu) - cpuMs(before.cpu);
            const cell: Cell = {
              repeat,
              scenario: scenarioName,
              target,
              concurrency,
              slot: slot++,
              ...r,
              cpuMsPerReq: targetCpu / Math.max(1, r.requests),
              cpuPct: (100 * targetCpu) / wall,
              peakRssMiB: after.maxRssKiB / 1024,
              rssMiB: MiB(after.rss),
              stubCpuMsPerReq: (cpuMs(stubAfter.cpu) - cpuMs(stubBefore.cpu)) / Math.max(1, r.requests),
              driverCpuPct: (100 * driverCpu) / (r.durationS * 1000),
              loadavg1: +os.loadavg()[0]!.toFixed(2),
              flagged: r.errors + r.timeouts + r.non2xx + r.mismatches > 0 || r.requests === 0 || problems.get(target) !== undefined,
              ...(problems.get(target) ? { sampleProblem: problems.get(target) } : {}),
            };
            cells.push(cell);
            done++;
            process.stderr.write(
              `[${done}/${total}] r${repeat} ${scenarioName.padEnd(12)} c=${String(concurrency).padStart(2)} ${target.padEnd(5)} ` +
                `${cell.rps.toFixed(0).padStart(6)} req/s  p50 ${cell.latencyMs.p50.toFixed(2)} ms  p99 ${cell.latencyMs.p99.toFixed(2)} ms  ` +
                `${cell.cpuMsPerReq.toFixed(3)} CPU ms/req  ${cell.peakRssMiB.toFixed(0)} MiB  driver ${cell.driverCpuPct.toFixed(0)}%` +
                `${cell.flagged ? `  FLAGGED (errors ${r.errors}, timeouts ${r.timeouts}, non2xx ${r.non2xx}, mismatches ${r.mismatches})` : ''}\n`,
            );
          }
        }
      } finally {
        await Promise.all([...procs.values()].map((p) => p.stop()));
      }
      if (scenario.auth === 'rs256') {
        for (const t of opts.targets) {
          if (t === 'floor') continue;
          out.jwksFetches.push({ repeat, target: t, scenario: scenarioName, fetches: fx.jwks.fetches.get(`/jwks/${label(t)}`) ?? 0 });
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Memory mode
// ---------------------------------------------------------------------------------------------

interface MemorySample {
  afterCalls: number;
  rssMiB: number;
  rssAfterGcMiB: number;
  heapUsedAfterGcMiB: number;
  heapTotalAfterGcMiB: number;
  externalAfterGcMiB: number;
  maxRssMiB: number;
  rps?: number;
  errors?: number;
}

async function runMemory(fx: Fixtures, stub: { proc: Proc; url: string }, out: RunRecord): Promise<void> {
  const concurrency = opts.concurrency.includes(16) ? 16 : opts.concurrency[0]!;
  out.memory = [];
  const take = async (p: Proc, afterCalls: number, r?: LoadResult): Promise<MemorySample> => {
    await sleep(200);
    const plain = await p.stats(false);
    const gc = await p.stats(true);
    if (!gc.gc) throw new Error(`${p.name}: no GC (is --expose-gc passed?)`);
    return {
      afterCalls,
      rssMiB: MiB(plain.rss),
      rssAfterGcMiB: MiB(gc.rss),
      heapUsedAfterGcMiB: MiB(gc.heapUsed),
      heapTotalAfterGcMiB: MiB(gc.heapTotal),
      externalAfterGcMiB: MiB(gc.external),
      maxRssMiB: gc.maxRssKiB / 1024,
      ...(r ? { rps: r.rps, errors: r.errors + r.timeouts + r.non2xx + r.mismatches } : {}),
    };
  };
  const scenario = SCENARIO_DEFS['invite-hs256'];
  for (const target of opts.targets) {
    const p = await Proc.start(target, SCRIPTS[target], targetEnv(target, 'hs256', stub.url, fx, `mem-${target}`), ['--expose-gc']);
    try {
      const problem = await sampleCheck(p.port, scenario, fx);
      if (problem) throw new Error(`${target}: ${problem}`);
      const samples: MemorySample[] = [await take(p, 3)];
      let calls = 3;
      for (const goal of opts.calls) {
        const r = await load({ port: p.port, scenario, fx, connections: concurrency, amount: goal - calls });
        calls = goal;
        samples.push(await take(p, calls, r));
        process.stderr.write(`${target}: after ${calls} calls RSS ${samples.at(-1)!.rssAfterGcMiB.toFixed(1)} MiB (after GC), ${r.rps.toFixed(0)} req/s\n`);
      }
      out.memory.push({ target, concurrency, samples });
    } finally {
      await p.stop();
    }
  }

  // RS256: how many times the JWKS is fetched over 10k calls (from process start, warm-up included).
  const rs = SCENARIO_DEFS['invite-rs256'];
  out.jwksFetches = [];
  for (const target of opts.targets) {
    if (target === 'floor') continue;
    const path = `/jwks/mem-rs-${target}`;
    const p = await Proc.start(target, SCRIPTS[target], targetEnv(target, 'rs256', stub.url, fx, `mem-rs-${target}`));
    try {
      await sleep(300);
      const atReady = fx.jwks.fetches.get(path) ?? 0;
      const calls = opts.calls[0]!;
      const r = await load({ port: p.port, scenario: rs, fx, connections: concurrency, amount: calls });
      const total = fx.jwks.fetches.get(path) ?? 0;
      out.jwksFetches.push({ repeat: 0, target, scenario: 'invite-rs256', calls, fetches: total, fetchesDuringCalls: total - atReady, errors: r.errors + r.timeouts + r.non2xx + r.mismatches });
      process.stderr.write(`${target}: RS256 ${calls} calls, JWKS fetched ${total} time(s) since start (${total - atReady} during the calls)\n`);
    } finally {
      await p.stop();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Profile mode
// ---------------------------------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

/**
 * Self time per function, per module, and per "owner": the nearest caller frame that is in a
 * package or in src/ (so node:internal and native time is charged to the code that asked for it).
 */
function summariseProfile(file: string) {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // The profiler's own stop (serialising the profile) runs under bench/servers/common.ts: not ours.
  const benchOwn = new Set<number>();
  for (const n of prof.nodes) {
    for (let cur: number | undefined = n.id; cur !== undefined; cur = parent.get(cur)) {
      if (byId.get(cur)!.callFrame.url.includes('bench/servers/')) {
        benchOwn.add(n.id);
        break;
      }
    }
  }
  const selfUs = new Map<number, number>();
  prof.samples.forEach((id, i) => {
    if (!benchOwn.has(id)) selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, prof.timeDeltas[i] ?? 0));
  });
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const SPECIAL = ['(idle)', '(program)', '(garbage collector)', '(root)'];
  const moduleOf = (url: string): string | undefined => {
    if (!url) return undefined;
    if (url.startsWith('node:')) return undefined;
    const path = url.startsWith('file://') ? fileURLToPath(url) : url;
    const nm = path.lastIndexOf('node_modules/');
    if (nm >= 0) {
      const rest = path.slice(nm + 'node_modules/'.length).split('/');
      return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    }
    return path.startsWith('/') ? relative(repo, path) : url;
  };
  const frameName = (n: ProfileNode) => {
    const cf = n.callFrame;
    const file = cf.url ? (cf.url.startsWith('file://') ? relative(repo, fileURLToPath(cf.url)) : cf.url) : '';
    return `${cf.functionName || '(anonymous)'}${file ? ` ${file}:${cf.lineNumber + 1}` : ''}`;
  };
  /** The nearest frame (itself included) that belongs to a package or to src/. */
  const owner = (id: number): ProfileNode | undefined => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (moduleOf(n.callFrame.url)) return n;
    }
    return undefined;
  };
  const fns = new Map<string, { us: number; via: Map<string, number> }>();
  const modules = new Map<string, number>();
  const owners = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const special = SPECIAL.includes(n.callFrame.functionName) ? n.callFrame.functionName : undefined;
    const key = frameName(n);
    const fn = fns.get(key) ?? { us: 0, via: new Map<string, number>() };
    fn.us += us;
    const o = special ? undefined : owner(id);
    if (o && o !== n) fn.via.set(frameName(o), (fn.via.get(frameName(o)) ?? 0) + us);
    fns.set(key, fn);
    const mod = special ?? moduleOf(n.callFrame.url) ?? (n.callFrame.url ? 'node:internal' : '(native)');
    modules.set(mod, (modules.get(mod) ?? 0) + us);
    const ownerModule = special ?? (o ? moduleOf(o.callFrame.url)! : '(no user-land caller)');
    owners.set(ownerModule, (owners.get(ownerModule) ?? 0) + us);
  }
  const ms = (us: number) => +(us / 1000).toFixed(1);
  const pct = (us: number) => +((100 * us) / totalUs).toFixed(1);
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, k).map(([name, us]) => ({ name, ms: ms(us), pct: pct(us) }));
  const topFunctions = [...fns.entries()]
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, 30)
    .map(([name, f]) => {
      const via = [...f.via.entries()].sort((a, b) => b[1] - a[1])[0];
      return { name, ms: ms(f.us), pct: pct(f.us), ...(via ? { via: via[0] } : {}) };
    });
  return { totalMs: ms(totalUs), topFunctions, byModule: top(modules, 20), byOwner: top(owners, 20) };
}

async function runProfile(fx: Fixtures, stub: { proc: Proc; url: string }, out: RunRecord): Promise<void> {
  const dir = join(resultsDir, 'tmp');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `ours-${stamp}.cpuprofile`);
  const scenario = SCENARIO_DEFS[(opts.scenarios.length === 1 ? opts.scenarios[0] : 'invite-hs256')!];
  const concurrency = opts.concurrency.includes(16) ? 16 : opts.concurrency[0]!;
  const p = await Proc.start('ours', SCRIPTS.ours, targetEnv('ours', scenario.auth, stub.url, fx, 'prof'));
  let r: LoadResult;
  try {
    const problem = await sampleCheck(p.port, scenario, fx);
    if (problem) throw new Error(problem);
    await load({ port: p.port, scenario, fx, connections: concurrency, duration: opts.warmup });
    // Only the measured window is profiled: no start-up, module loading or warm-up in it.
    await p.profile('start');
    r = await load({ port: p.port, scenario, fx, connections: concurrency, duration: opts.duration });
    await p.profile('stop', file);
  } finally {
    await p.stop();
  }
  out.profile = { scenario: scenario.name, concurrency, requests: r.requests, rps: r.rps, file: relative(repo, file), ...summariseProfile(file) };
}

// ---------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------

interface RunRecord {
  mode: typeof mode;
  startedAt: string;
  finishedAt?: string;
  aborted?: string;
  quick: boolean;
  options: typeof opts;
  machine: ReturnType<typeof machineInfo>;
  machineAtEnd?: ReturnType<typeof machineInfo>;
  cells?: Cell[];
  memory?: { target: TargetName; concurrency: number; samples: MemorySample[] }[];
  jwksFetches: { repeat: number; target: TargetName; scenario: ScenarioName; fetches: number; calls?: number; fetchesDuringCalls?: number; errors?: number }[];
  profile?: ReturnType<typeof summariseProfile> & { scenario: string; concurrency: number; requests: number; rps: number; file: string };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const spread = (xs: number[], digits: number) =>
  xs.length <= 1 ? fmt(xs[0] ?? NaN, digits) : `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})`;

function throughputTable(run: RunRecord): string {
  const cells = run.cells ?? [];
  const lines: string[] = [];
  const repeats = [...new Set(cells.map((c) => c.repeat))].length;
  lines.push(
    `| scenario | conc | target | req/s median (min–max) | p50 ms | p99 ms | CPU ms/req median (min–max) | CPU % of a core | peak RSS MB | req/s ours/floor | CPU ours/floor | req/s ours/usual | CPU ours/usual | flags |`,
    `|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`,
  );
  const scenarios = SCENARIOS.filter((s) => cells.some((c) => c.scenario === s));
  const concs = [...new Set(cells.map((c) => c.concurrency))].sort((a, b) => a - b);
  for (const scenario of scenarios) {
    for (const conc of concs) {
      const group = cells.filter((c) => c.scenario === scenario && c.concurrency === conc);
      if (!group.length) continue;
      const paired = (other: TargetName, f: (c: Cell) => number) => {
        const ratios: number[] = [];
        for (const ours of group.filter((c) => c.target === 'ours')) {
          const o = group.find((c) => c.target === other && c.repeat === ours.repeat);
          if (o && f(o) > 0) ratios.push(f(ours) / f(o));
        }
        return ratios.length ? spread(ratios, 2) : '';
      };
      for (const target of TARGETS) {
        const cs = group.filter((c) => c.target === target);
        if (!cs.length) continue;
        const isOurs = target === 'ours';
        const flagged = cs.filter((c) => c.flagged);
        const flags = flagged.length
          ? `⚠ ${flagged.length}/${cs.length} runs: ${flagged.map((c) => c.sampleProblem ?? `err ${c.errors} to ${c.timeouts} non2xx ${c.non2xx} mismatch ${c.mismatches}`).join('; ')}`
          : '';
        lines.push(
          `| ${scenario} | ${conc} | ${target} | ${spread(cs.map((c) => c.rps), 0)} | ${fmt(median(cs.map((c) => c.latencyMs.p50)), 2)} | ` +
            `${fmt(median(cs.map((c) => c.latencyMs.p99)), 2)} | ${spread(cs.map((c) => c.cpuMsPerReq), 3)} | ${fmt(median(cs.map((c) => c.cpuPct)), 0)} | ` +
            `${fmt(median(cs.map((c) => c.peakRssMiB)), 0)} | ${isOurs ? paired('floor', (c) => c.rps) : ''} | ${isOurs ? paired('floor', (c) => c.cpuMsPerReq) : ''} | ` +
            `${isOurs ? paired('usual', (c) => c.rps) : ''} | ${isOurs ? paired('usual', (c) => c.cpuMsPerReq) : ''} | ${flags} |`,
        );
      }
    }
  }
  const m = run.machine;
  const driverMax = Math.max(...cells.map((c) => c.driverCpuPct));
  const stubMed = median(cells.map((c) => c.stubCpuMsPerReq));
  const notes = [
    `Throughput run ${run.startedAt}${run.quick ? ' (--quick)' : ''}${run.aborted ? ` — ABORTED: ${run.aborted}` : ''}: ${repeats} repeat(s) × ${run.options.duration} s per cell, warm-up ${run.options.warmup} s per process + ${run.options.cellWarmup} s per cell.`,
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.totalMemMiB} MiB, ${m.platform}, Node ${m.node}; load average at start ${m.loadavg.join(' ')}${run.machineAtEnd ? `, at end ${run.machineAtEnd.loadavg.join(' ')}` : ''}.`,
    `The load generator (autocannon, in the driver process), the target and the Portkey stub share these cores: the driver used up to ${fmt(driverMax, 0)}% of a core, the stub ${fmt(stubMed, 3)} CPU ms/req (median). ` +
      'Req/s is therefore capped by the machine, not only by the target; CPU ms/req (the target process alone) is the steadier cost measure.',
    'Ratios are paired per repeat (ours vs. the other target measured next to it in the same repeat): median (min–max). req/s ratio < 1 = slower than the other; CPU ratio > 1 = costlier.',
    'Peak RSS is the process peak up to the end of that cell (one process per repeat × scenario × target, concurrency rising 1 → 16 → 64).',
  ];
  if (run.jwksFetches.length) {
    notes.push(`JWKS fetches per RS256 process (whole life): ${run.jwksFetches.map((j) => `${j.target} r${j.repeat}: ${j.fetches}`).join(', ')}.`);
  }
  notes.push('The floor does no auth, no validation and no MCP: its rows are the same HTTP + JSON + upstream fetch with nothing else.');
  return `${notes.map((n) => `- ${n}\n`).join('')}\n${lines.join('\n')}\n`;
}

function memoryTable(run: RunRecord): string {
  const lines = [
    `Memory run ${run.startedAt}${run.aborted ? ` — ABORTED: ${run.aborted}` : ''}: invite_user HS256 at concurrency ${run.memory?.[0]?.concurrency ?? '?'}, children started with --expose-gc; Node ${run.machine.node}, ${run.machine.cpus} CPUs.`,
    'Every target runs under `node --import tsx` (as `npm start` does); tsx\'s loader thread alone accounts for about 38 MB of RSS on this Node. "after GC" = after two forced full GCs.',
    '',
    '| target | after calls | RSS MB | RSS after GC MB | heap used / total after GC MB | peak RSS MB | req/s | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const m of run.memory ?? []) {
    for (const s of m.samples) {
      lines.push(
        `| ${m.target} | ${s.afterCalls} | ${fmt(s.rssMiB, 1)} | ${fmt(s.rssAfterGcMiB, 1)} | ${fmt(s.heapUsedAfterGcMiB, 1)} / ${fmt(s.heapTotalAfterGcMiB, 1)} | ${fmt(s.maxRssMiB, 1)} | ${s.rps === undefined ? '' : fmt(s.rps, 0)} | ${s.errors ?? ''} |`,
      );
    }
  }
  lines.push('', '| target | RS256 calls | JWKS fetches since process start | during the calls | errors |', '|---|---:|---:|---:|---:|');
  for (const j of run.jwksFetches) lines.push(`| ${j.target} | ${j.calls} | ${j.fetches}${j.fetches === 1 ? ' ✓' : ' ⚠ (expected 1)'} | ${j.fetchesDuringCalls} | ${j.errors} |`);
  return `${lines.join('\n')}\n`;
}

function profileTable(run: RunRecord): string {
  const p = run.profile;
  if (!p) return '';
  const lines = [
    `CPU profile ${run.startedAt}: ours, ${p.scenario} at concurrency ${p.concurrency}, ${p.requests} requests (${fmt(p.rps, 0)} req/s under --cpu-prof); ${p.totalMs} ms sampled; profile ${p.file}.`,
    '',
    '| self time by module | ms | % |',
    '|---|---:|---:|',
    ...p.byModule.map((g) => `| ${g.name} | ${g.ms} | ${g.pct} |`),
    '',
    '| self time charged to the nearest package or src/ caller | ms | % |',
    '|---|---:|---:|',
    ...p.byOwner.map((g) => `| ${g.name} | ${g.ms} | ${g.pct} |`),
    '',
    '| top self-time functions | ms | % | mostly called from |',
    '|---|---:|---:|---|',
    ...p.topFunctions.map((f) => `| \`${f.name}\` | ${f.ms} | ${f.pct} | ${f.via ? `\`${f.via}\`` : ''} |`),
  ];
  return `${lines.join('\n')}\n`;
}

function newest(m: RunRecord['mode']): RunRecord | undefined {
  const files = readdirSync(resultsDir).filter((f) => /^perf-.*\.json$/.test(f)).sort().reverse();
  for (const f of files) {
    try {
      const run = JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as RunRecord;
      if (run.mode === m) return run;
    } catch {
      /* not ours */
    }
  }
  return undefined;
}

function writeLatest(): void {
  const parts = ['# Performance: ours vs. floor vs. the usual way', '', 'Generated by `node --import tsx bench/perf.ts` from the newest `bench/results/perf-*.json` of each mode.', ''];
  const t = newest('throughput');
  const m = newest('memory');
  const p = newest('profile');
  if (t) parts.push('## Throughput, latency, CPU', '', throughputTable(t));
  if (m) parts.push('## Memory and JWKS', '', memoryTable(m));
  if (p) parts.push('## Where ours spends CPU', '', profileTable(p));
  writeFileSync(join(resultsDir, 'latest.md'), parts.join('\n'));
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const estimate =
    mode === 'throughput'
      ? estimateThroughputSeconds()
      : mode === 'memory'
        ? opts.targets.length * (10 + (opts.calls.at(-1)! + opts.calls[0]!) / 400) // at ~400 req/s
        : 15 + opts.warmup + opts.duration;
  // Hard bound: whatever happens, every child is killed and the run ends. Throughput runs last a
  // fixed time; memory runs last as long as their calls take, so they get more slack.
  const budgetS = Math.ceil(estimate * (mode === 'memory' ? 2.5 : 1.6) + 120);
  setTimeout(() => {
    process.stderr.write(`\nThe run exceeded its ${budgetS} s budget: stopping every bench process.\n`);
    killAllSync();
    process.exit(2);
  }, budgetS * 1000).unref();

  const run: RunRecord = { mode, startedAt: new Date().toISOString(), quick, options: opts, machine: machineInfo(), jwksFetches: [] };
  const file = join(resultsDir, `perf-${mode === 'throughput' ? '' : `${mode}-`}${stamp}.json`);
  process.stderr.write(
    `perf ${mode}: ${run.machine.cpus} CPUs (${run.machine.cpuModel}), Node ${run.machine.node}, load ${run.machine.loadavg.join(' ')}; ` +
      `estimated ${Math.round(estimate / 60)} min ${Math.round(estimate % 60)} s (hard limit ${budgetS} s)\n`,
  );

  const fx = await makeFixtures();
  let stub: { proc: Proc; url: string } | undefined;
  try {
    stub = await startStub();
    if (mode === 'throughput') await runThroughput(fx, stub, run);
    else if (mode === 'memory') await runMemory(fx, stub, run);
    else await runProfile(fx, stub, run);
  } catch (err) {
    run.aborted = err instanceof Error ? err.message : String(err);
    process.stderr.write(`\nAborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    killAllSync();
    await stub?.proc.exit;
    fx.jwks.server.close();
  }
  run.finishedAt = new Date().toISOString();
  run.machineAtEnd = machineInfo();
  writeFileSync(file, `${JSON.stringify(run, null, 1)}\n`);
  writeLatest();
  const table = mode === 'throughput' ? throughputTable(run) : mode === 'memory' ? memoryTable(run) : profileTable(run);
  process.stdout.write(`\n${table}\nRaw: ${relative(repo, file)}; table: bench/results/latest.md\n`);
}

if (argv.report) {
  writeLatest();
  process.stdout.write(readFileSync(join(resultsDir, 'latest.md'), 'utf8'));
} else {
  await main();
}
process.exit();
