/**
 * Node start-up, the one place it is measured: time from spawn to the first 200 from /healthz,
 * and resident memory of the whole process tree (npm, node, any esbuild child; summed VmRSS from
 * /proc, so Linux only), for `npm start` (tsx, TypeScript compiled at run time), `node
 * dist/node.js` (the compiled build), and the compiled build with OTLP traces and metrics on
 * (pointed at a loopback port nothing listens on: start-up does not wait for an export).
 * Alternating, medians of N runs; all three with the same secret-key environment.
 * (Workers isolate start-up: workers-startup.ts.)
 *
 *   npm run build && npm run --prefix bench node-startup [-- --runs 5]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const OTLP = { OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' };
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const SETTLE_MS = 1000; // RSS is read this long after the first 200, once start-up work is done

const targets = {
  'npm start': ['npm', ['start', '--silent'], {}],
  'node dist/node.js': [process.execPath, ['dist/node.js'], {}],
  'dist + OTLP': [process.execPath, ['dist/node.js'], OTLP],
} as const satisfies Record<string, readonly [string, readonly string[], Record<string, string>]>;

/** Summed VmRSS (kB) of every process in the group. */
function groupRssKb(pgid: number): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue; // field 5 (pgrp), counted after the comm field
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (rss) total += Number(rss[1]);
    } catch {
      /* exited meanwhile */
    }
  }
  return total;
}

async function once(name: keyof typeof targets): Promise<{ ms: number; rssMb: number }> {
  const [cmd, args, extraEnv] = targets[name];
  const started = performance.now();
  const child = spawn(cmd, [...args], { cwd: repo, detached: true, stdio: ['ignore', 'pipe', 'inherit'], env: {
      PATH: process.env.PATH!,
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      AUTH_JWT_SECRET: 'bench-startup-secret-0123456789abcdef0123',
      PORTKEY_API_KEY: 'pk-bench',
      ...extraEnv,
    } });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  try {
    let url: string | undefined;
    for (;;) {
      url ??= /"event":"server.started","url":"([^"]+)"/.exec(out)?.[1];
      if (url) {
        const ok = await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false);
        if (ok) break;
      }
      if (child.exitCode !== null) throw new Error(`${name} exited during start-up`);
      if (performance.now() - started > 30_000) throw new Error(`${name} did not answer /healthz within 30 s`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = performance.now() - started;
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    return { ms, rssMb: groupRssKb(child.pid!) / 1024 };
  } finally {
    process.kill(-child.pid!, 'SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (!existsSync(`${repo}/dist/node.js`)) throw new Error('dist/node.js is missing: run `npm run build` first.');
const results: Record<string, { ms: number[]; rssMb: number[] }> = {};
for (let i = 0; i < runs; i++) {
  for (const name of Object.keys(targets) as (keyof typeof targets)[]) {
    const r = await once(name);
    (results[name] ??= { ms: [], rssMb: [] }).ms.push(r.ms);
    results[name].rssMb.push(r.rssMb);
  }
}
console.log(`Node ${process.version}, ${runs} runs each, alternating; medians (min-max):`);
for (const [name, r] of Object.entries(results)) {
  const span = (xs: number[], d: number) => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})`;
  console.log(`  ${name.padEnd(18)} first /healthz 200 after ${span(r.ms, 0)} ms; RSS of the process tree ${span(r.rssMb, 0)} MB`);
}
