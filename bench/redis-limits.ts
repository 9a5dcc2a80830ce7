/**
 * What shared limits cost: invite_user throughput (HS256, c=64) with both rate limits on and kept
 * in Redis (REDIS_URL, bench/servers/ours.ts) against the same server with in-memory limits, in
 * one run, runs interleaved with the order turning (memory, redis; redis, memory; …) so drift hits both alike. The limits
 * are set far above what the run can reach, so every call is counted and none is refused.
 *
 *   node --import tsx bench/redis-limits.ts [--duration 10] [--repeats 3] [--update]
 *
 * Needs redis-server (Debian package); starts its own on a free loopback port, no persistence.
 * Writes bench/results/tmp/redis-limits-<time>.json (or bench/results/ with --update) and the
 * "Shared limits (Redis)" section of latest.md there.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeFixtures, SCENARIO_DEFS } from './perf/fixtures.js';
import { load } from './perf/load.js';
import { resultsDir, timestamp, writeLatestSection } from './perf/results-dir.js';
import { killChildrenOnExit, Proc, startStub, targetEnv } from './perf/targets.js';
import { startTestRedis } from '../test/support/redis-server.js';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, repeats: { type: 'string', default: '3' }, update: { type: 'boolean', default: false } },
  strict: true,
});
const duration = Number(values.duration);
const repeats = Number(values.repeats);
const CONNECTIONS = 64;
const LIMIT = '100000000';

async function main(): Promise<void> {
  killChildrenOnExit();
  // The tests' own Redis (password, own port, no persistence), stopped with this process.
  const redis = await startTestRedis();
  process.on('exit', () => void redis.close());
  const fx = await makeFixtures();
  const stub = await startStub();
  const scenario = SCENARIO_DEFS['invite-hs256'];
  const base = { ...targetEnv('ours', 'hs256', stub.url, fx, 'x'), RATE_LIMIT_TENANT_PER_MINUTE: LIMIT, RATE_LIMIT_CALLER_PER_MINUTE: LIMIT };
  const memory = await Proc.start('ours-memory-limits', 'ours.ts', base);
  const redisTarget = await Proc.start('ours-redis-limits', 'ours.ts', { ...base, REDIS_URL: redis.url });
  const targets = { memory, redis: redisTarget } as const;
  const rps: Record<keyof typeof targets, number[]> = { memory: [], redis: [] };
  const p99: Record<keyof typeof targets, number[]> = { memory: [], redis: [] };
  for (const t of Object.values(targets)) await load({ port: t.port, scenario, fx, connections: CONNECTIONS, duration: 2 }); // warm-up
  for (let r = 0; r < repeats; r++) {
    // The order turns each round, so neither always runs first.
    for (const name of r % 2 === 0 ? (['memory', 'redis'] as const) : (['redis', 'memory'] as const)) {
      const res = await load({ port: targets[name].port, scenario, fx, connections: CONNECTIONS, duration });
      if (res.errors || res.non2xx || res.mismatches) throw new Error(`${name}: ${res.errors} errors, ${res.non2xx} non-2xx, ${res.mismatches} refused or wrong answers`);
      rps[name].push(res.rps);
      p99[name].push(res.latencyMs.p99);
      process.stderr.write(`${name} run ${r + 1}: ${res.rps.toFixed(0)} calls/s, p99 ${res.latencyMs.p99.toFixed(1)} ms\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const result = {
    measuredAt: new Date().toISOString(),
    connections: CONNECTIONS,
    durationS: duration,
    repeats,
    rps: { memory: median(rps.memory), redis: median(rps.redis) },
    p99Ms: { memory: median(p99.memory), redis: median(p99.redis) },
    ratio: median(rps.redis) / median(rps.memory),
    runs: { rps, p99 },
  };
  const dir = resultsDir(values.update);
  writeFileSync(join(dir, `redis-limits-${timestamp()}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeSection(dir, result);
  console.log(
    `invite_user, c=${CONNECTIONS}: in-memory limits ${result.rps.memory.toFixed(0)} calls/s, Redis limits ${result.rps.redis.toFixed(0)} calls/s: ` +
      `${result.ratio.toFixed(3)}× (target ≥ 0.9×); p99 ${result.p99Ms.memory.toFixed(1)} ms vs ${result.p99Ms.redis.toFixed(1)} ms`,
  );
  process.exit(0);
}

/** Replaces (or adds) the section of latest.md between the markers, leaving the rest as it is. */
function writeSection(dir: string, r: { measuredAt: string; connections: number; durationS: number; repeats: number; rps: Record<string, number>; p99Ms: Record<string, number>; ratio: number }): void {
  writeLatestSection(dir, 'redis-limits', [
    '## Shared limits (Redis)',
    '',
    `Measured ${r.measuredAt} by \`npm run bench:redis\`: invite_user (HS256), c=${r.connections}, ${r.repeats} interleaved runs of ${r.durationS} s each, medians; both limits on (never reached), one redis-server on loopback.`,
    '',
    '| limits | calls/s | p99 ms |',
    '|---|---|---|',
    `| in memory (per process) | ${r.rps.memory!.toFixed(0)} | ${r.p99Ms.memory!.toFixed(1)} |`,
    `| Redis (shared by replicas) | ${r.rps.redis!.toFixed(0)} | ${r.p99Ms.redis!.toFixed(1)} |`,
    '',
    `Ratio Redis / in memory: **${r.ratio.toFixed(3)}×** (target ≥ 0.9×).`,
  ]);
}

void main();
