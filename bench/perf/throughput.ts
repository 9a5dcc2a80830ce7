/**
 * Throughput mode. For each repeat and scenario the targets are started fresh, warmed up, then
 * measured at each concurrency in turn, alternating targets (the order rotates between cells,
 * so no target always runs first or last). Per cell: requests/s, p50/p99 latency of every
 * response, CPU per request (the target's process.cpuUsage() delta over the responses counted),
 * and peak RSS (resourceUsage().maxRSS; concurrency rises within one process, so it is the peak
 * up to and including that cell). Every response body is checked; non-2xx, errors, timeouts and
 * mismatches are counted and flag the cell.
 */
import os from 'node:os';
import { SCENARIO_DEFS, type Fixtures } from './fixtures.js';
import { cpuMs, load, MiB, sampleCheck, sleep } from './load.js';
import { isFloor, SCRIPTS, type TargetName } from './names.js';
import type { Options } from './options.js';
import type { Cell, RunRecord } from './record.js';
import { Proc, targetEnv } from './targets.js';

const targetsOf = (opts: Options, scenario: keyof typeof SCENARIO_DEFS) => opts.targets.filter((t) => !SCENARIO_DEFS[scenario].skip.includes(t));

export function estimateThroughputSeconds(opts: Options): number {
  const perProcessStart = 3;
  let perRepeat = 0;
  for (const s of opts.scenarios) {
    const cells = opts.concurrency.length * targetsOf(opts, s).length;
    perRepeat += perProcessStart + opts.warmup + 0.3 + cells * (opts.duration + opts.cellWarmup + 0.25);
  }
  return 4 + opts.repeats * perRepeat;
}

export async function runThroughput(opts: Options, fx: Fixtures, stub: { proc: Proc; url: string }, out: RunRecord): Promise<void> {
  const cells: Cell[] = (out.cells = []);
  const total = opts.repeats * opts.scenarios.reduce((n, s) => n + opts.concurrency.length * targetsOf(opts, s).length, 0);
  let done = 0;
  for (let repeat = 0; repeat < opts.repeats; repeat++) {
    for (const scenarioName of opts.scenarios) {
      const scenario = SCENARIO_DEFS[scenarioName];
      const targets = targetsOf(opts, scenarioName);
      const label = (t: TargetName) => `r${repeat}-${scenarioName}-${t}`;
      const procs = new Map<TargetName, Proc>();
      try {
        const started = await Promise.all(
          targets.map((t) => Proc.start(t, SCRIPTS[t], targetEnv(t, scenario.auth, stub.url, fx, label(t)))),
        );
        targets.forEach((t, i) => procs.set(t, started[i]!));
        const problems = new Map<TargetName, string | undefined>();
        for (const t of targets) {
          problems.set(t, await sampleCheck(procs.get(t)!.port, scenario, fx));
          if (problems.get(t)) process.stderr.write(`!! ${t} ${scenarioName}: ${problems.get(t)}\n`);
        }
        // JIT warm-up of the fresh processes, all at once (nothing is measured here).
        await Promise.all(targets.map((t) => load({ port: procs.get(t)!.port, scenario, fx, connections: 16, duration: opts.warmup })));
        let slot = 0;
        for (const [ci, concurrency] of opts.concurrency.entries()) {
          const shift = (repeat + ci) % targets.length;
          const order = [...targets.slice(shift), ...targets.slice(0, shift)];
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
              `[${done}/${total}] r${repeat} ${scenarioName.padEnd(12)} c=${String(concurrency).padStart(2)} ${target.padEnd(12)} ` +
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
        for (const t of targets) {
          if (isFloor(t)) continue;
          out.jwksFetches.push({ repeat, target: t, scenario: scenarioName, fetches: fx.jwks.fetches.get(`/jwks/${label(t)}`) ?? 0 });
        }
      }
    }
  }
}
