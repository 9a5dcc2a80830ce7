/**
 * Memory mode: RSS and heap of a target after 10k and 100k invite_user calls (HS256; children
 * started with --expose-gc, "after GC" = after two forced full GCs), and how many times an RS256
 * target fetches its JWKS over 10k calls.
 */
import { SCENARIO_DEFS, type Fixtures } from './fixtures.js';
import { load, MiB, sampleCheck, sleep, type LoadResult } from './load.js';
import { isFloor, SCRIPTS } from './names.js';
import type { Options } from './options.js';
import type { MemorySample, RunRecord } from './record.js';
import { Proc, targetEnv } from './targets.js';

export async function runMemory(opts: Options, fx: Fixtures, stub: { proc: Proc; url: string }, out: RunRecord): Promise<void> {
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
    if (isFloor(target)) continue;
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
