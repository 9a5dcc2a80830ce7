/**
 * What telemetry costs: invite_user throughput (HS256, c=64) of
 *   today  the server as it was before OpenTelemetry (a git worktree of --baseline, default the
 *          commit before src/telemetry/ appeared), in the same run;
 *   off    this server, no OTEL_* variables (the SDK is never loaded);
 *   on     this server with OTLP traces and metrics (http/protobuf) to a local receiver that
 *          accepts and discards, 1 s batch delay and metric interval.
 * Runs are interleaved, the order turning each round (today, off, on; off, on, today; …); medians. Ratios: off/today (target ≥ 0.97×),
 * on/off (target ≥ 0.85×).
 *
 *   node --import tsx bench/telemetry.ts [--duration 10] [--repeats 3] [--baseline <commit>] [--update]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeFixtures, SCENARIO_DEFS } from './perf/fixtures.js';
import { load } from './perf/load.js';
import { repo, resultsDir, timestamp, writeLatestSection } from './perf/results-dir.js';
import { killChildrenOnExit, Proc, startStub, targetEnv } from './perf/targets.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '3' },
    baseline: { type: 'string' },
    update: { type: 'boolean', default: false },
  },
  strict: true,
});
const duration = Number(values.duration);
const repeats = Number(values.repeats);
const CONNECTIONS = 64;

async function main(): Promise<void> {
  killChildrenOnExit();
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
  const baseline = values.baseline ?? git('rev-list', '-1', `${git('log', '--diff-filter=A', '--format=%H', '--', 'src/telemetry/telemetry.ts').split('\n').at(-1)}^`);
  const worktree = join(tmpdir(), `pim-bench-today-${process.pid}`);
  git('worktree', 'add', '--detach', worktree, baseline);
  const cleanup = () => {
    try {
      git('worktree', 'remove', '--force', worktree);
    } catch {
      rmSync(worktree, { recursive: true, force: true });
    }
  };
  process.on('exit', cleanup);
  if (!existsSync(join(worktree, 'node_modules'))) symlinkSync(join(repo, 'node_modules'), join(worktree, 'node_modules'));

  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;

  const fx = await makeFixtures();
  const stub = await startStub();
  const scenario = SCENARIO_DEFS['invite-hs256'];
  const base = targetEnv('ours', 'hs256', stub.url, fx, 'x');
  const targets = {
    today: await Proc.start('today', join(worktree, 'bench/servers/ours.ts'), base),
    off: await Proc.start('off', 'ours.ts', base),
    on: await Proc.start('on', 'ours.ts', {
      ...base,
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
    }),
  };
  const names = Object.keys(targets) as (keyof typeof targets)[];
  const rps = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<keyof typeof targets, number[]>;
  for (const n of names) await load({ port: targets[n].port, scenario, fx, connections: CONNECTIONS, duration: 2 });
  for (let r = 0; r < repeats; r++) {
    // The order turns each round, so no target always follows the busiest one.
    for (const n of [...names.slice(r % names.length), ...names.slice(0, r % names.length)]) {
      const res = await load({ port: targets[n].port, scenario, fx, connections: CONNECTIONS, duration });
      if (res.errors || res.non2xx || res.mismatches) throw new Error(`${n}: ${res.errors} errors, ${res.non2xx} non-2xx, ${res.mismatches} wrong answers`);
      rps[n].push(res.rps);
      process.stderr.write(`${n} run ${r + 1}: ${res.rps.toFixed(0)} calls/s\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const m = { today: median(rps.today), off: median(rps.off), on: median(rps.on) };
  const result = { measuredAt: new Date().toISOString(), baseline, connections: CONNECTIONS, durationS: duration, repeats, rps: m, offVsToday: m.off / m.today, onVsOff: m.on / m.off, runs: rps };
  const dir = resultsDir(values.update);
  writeFileSync(join(dir, `telemetry-${timestamp()}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeSection(dir, result);
  console.log(
    `invite_user, c=${CONNECTIONS}: today ${m.today.toFixed(0)}, telemetry off ${m.off.toFixed(0)} (${result.offVsToday.toFixed(3)}×, target ≥ 0.97×), ` +
      `OTLP on ${m.on.toFixed(0)} calls/s (${result.onVsOff.toFixed(3)}× of off, target ≥ 0.85×)`,
  );
  sink.close();
  process.exit(0);
}

function writeSection(dir: string, r: { measuredAt: string; baseline: string; connections: number; durationS: number; repeats: number; rps: Record<string, number>; offVsToday: number; onVsOff: number }): void {
  writeLatestSection(dir, 'telemetry', [
    '## Telemetry (OpenTelemetry)',
    '',
    `Measured ${r.measuredAt} by \`npm run bench:telemetry\`: invite_user (HS256), c=${r.connections}, ${r.repeats} interleaved runs of ${r.durationS} s, medians. "Today" is commit ${r.baseline.slice(0, 7)}, before OpenTelemetry.`,
    '',
    '| server | calls/s |',
    '|---|---|',
    `| today (no telemetry code) | ${r.rps.today!.toFixed(0)} |`,
    `| telemetry off (no OTEL_* set) | ${r.rps.off!.toFixed(0)} |`,
    `| OTLP traces + metrics on (http/protobuf, local receiver) | ${r.rps.on!.toFixed(0)} |`,
    '',
    `Off vs today: **${r.offVsToday.toFixed(3)}×** (target ≥ 0.97×). On vs off: **${r.onVsOff.toFixed(3)}×** (target ≥ 0.85×).`,
  ]);
}

void main();
