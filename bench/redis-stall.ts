/**
 * What a stalled Redis costs a replica (issue 26): invite_user at c=300 with both limits in Redis,
 * first with Redis answering (the baseline), then with redis-server frozen (SIGSTOP: the
 * connection stays up, nothing answers), in one run. Reports the server's peak RSS in each phase
 * and their ratio (memory must stay flat while the stall lasts), the calls answered per second
 * during the stall and their p99 (each is refused within about the 1 s store deadline), and,
 * after Redis resumes, the tenant's counter: the calls refused during the stall must not count.
 *
 *   node --import tsx bench/redis-stall.ts [--duration 30]
 *
 * Needs redis-server (Debian package); starts its own on a free loopback port, no persistence.
 * Prints its figures; nothing is written.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { makeFixtures, SCENARIO_DEFS } from './perf/fixtures.js';
import { load } from './perf/load.js';
import { killChildrenOnExit, Proc, startStub, targetEnv } from './perf/targets.js';
import { startTestRedis } from '../test/support/redis-server.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '30' } }, strict: true });
const duration = Number(values.duration);
const CONNECTIONS = 300;

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** Runs the load while sampling the server's RSS every 250 ms; returns the load's result and the peak. */
async function phase(target: Proc, run: () => ReturnType<typeof load>): Promise<{ peakMb: number; rps: number; p99: number }> {
  let peakMb = rssMb(target.pid);
  const sampler = setInterval(() => (peakMb = Math.max(peakMb, rssMb(target.pid))), 250);
  const res = await run();
  clearInterval(sampler);
  return { peakMb: Math.max(peakMb, rssMb(target.pid)), rps: res.rps, p99: res.latencyMs.p99 };
}

async function main(): Promise<void> {
  killChildrenOnExit();
  // The tests' own Redis (password, own port, no persistence), stopped with this process.
  const redis = await startTestRedis();
  process.on('exit', () => void redis.close());
  const fx = await makeFixtures();
  const stub = await startStub();
  const scenario = SCENARIO_DEFS['invite-hs256'];
  const target = await Proc.start('ours-redis-limits', 'ours.ts', {
    ...targetEnv('ours', 'hs256', stub.url, fx, 'x'),
    REDIS_URL: redis.url,
    RATE_LIMIT_TENANT_PER_MINUTE: '100000000',
    RATE_LIMIT_CALLER_PER_MINUTE: '100000000',
    // One load generator on one address: its c=300 must not meet the per-address share.
    HTTP_MAX_CONNECTIONS_PER_PEER: '1000',
  });
  const run = () => load({ port: target.port, scenario, fx, connections: CONNECTIONS, duration });
  await load({ port: target.port, scenario, fx, connections: CONNECTIONS, duration: 3 }); // warm-up
  const healthy = await phase(target, run);
  // The stall's counts start from zero, once the calls the load left in flight have been counted.
  await new Promise((r) => setTimeout(r, 2_000));
  redis.cli('FLUSHALL');
  redis.stall();
  const stalled = await phase(target, run);
  redis.resume();
  await new Promise((r) => setTimeout(r, 3_000)); // reconnect; Redis runs what reached it during the stall
  const counters = redis.cli('--scan', '--pattern', 'pim:limit:*').split('\n').filter(Boolean);
  const counted = counters.reduce((sum, key) => sum + Number(redis.cli('GET', key).trim() || 0), 0);
  console.log(
    [
      `invite_user, c=${CONNECTIONS}, ${duration} s a phase, limits in Redis:`,
      `  Redis answering: peak RSS ${healthy.peakMb.toFixed(0)} MB, ${healthy.rps.toFixed(0)} calls/s, p99 ${healthy.p99.toFixed(0)} ms`,
      `  Redis stalled:   peak RSS ${stalled.peakMb.toFixed(0)} MB, ${stalled.rps.toFixed(0)} calls/s answered (refused), p99 ${stalled.p99.toFixed(0)} ms`,
      `  peak RSS stalled / answering: ${(stalled.peakMb / healthy.peakMb).toFixed(2)}×`,
      `  counted in Redis after the stall, for ${(stalled.rps * duration).toFixed(0)} refused calls: ${counted}`,
    ].join('\n'),
  );
  process.exit(0);
}

void main();
