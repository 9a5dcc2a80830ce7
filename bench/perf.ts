/**
 * Throughput, latency, CPU and memory of the real Node server, next to two floors and "the usual way".
 *
 *   node --import tsx bench/perf.ts [--duration 10] [--repeats 3] [--quick] [--update]
 *   node --import tsx bench/perf.ts --memory          10k then 100k calls: RSS; RS256: JWKS fetches
 *   node --import tsx bench/perf.ts --profile         ours under load, V8 CPU profile of the measured window: top self time
 *   node --import tsx bench/perf.ts --report          rewrite latest.md from the newest results
 *
 * Results go to the git-ignored bench/results/tmp/ unless --update is given, which writes to
 * bench/results/ (the committed latest.md beside the raw JSON).
 *
 * Targets (each its own process, bench/servers/*.ts, forked with `--import tsx`, see perf/targets.ts):
 *   floor-fetch   minimal Hono on @hono/node-server: parse the JSON body, forward the same upstream
 *                 POST with Node's global fetch; nothing else.
 *   floor-undici  the same forwarder, the upstream POST through an undici Pool (keep-alive): the
 *                 fastest way to do the same work on Node.
 *   usual         what the SDK's examples teach: Express + requireBearerAuth (jose verifier) + a new
 *                 McpServer and Node StreamableHTTPServerTransport per request (stateless).
 *   ours          src/node.ts startNodeServer as production starts it (stdout to /dev/null).
 * Upstream is bench/servers/portkey-stub.ts, its own process, answering 200 at once.
 *
 * Scenarios: invite_user tools/call with an HS256 token; the same with an RS256 token verified
 * against a JWKS served (and its fetches counted) by this process; tools/list (HS256).
 * Modes: perf/throughput.ts, perf/memory.ts, perf/profile.ts; the markdown: perf/report.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { makeFixtures } from './perf/fixtures.js';
import { runMemory } from './perf/memory.js';
import { parseCli, USAGE } from './perf/options.js';
import { runProfile } from './perf/profile.js';
import { machineInfo, type RunRecord } from './perf/record.js';
import { memoryTable, profileTable, throughputTable, writeLatest } from './perf/report.js';
import { repo, resultsDir, timestamp } from './perf/results-dir.js';
import { killAllSync, killChildrenOnExit, startStub, type Proc } from './perf/targets.js';
import { estimateThroughputSeconds, runThroughput } from './perf/throughput.js';

const { mode, quick, report, update, help, opts } = parseCli(process.argv.slice(2));
const outDir = resultsDir(update);

async function main(): Promise<void> {
  killChildrenOnExit();
  const estimate =
    mode === 'throughput'
      ? estimateThroughputSeconds(opts)
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
  const file = join(outDir, `perf-${mode === 'throughput' ? '' : `${mode}-`}${timestamp()}.json`);
  process.stderr.write(
    `perf ${mode}: ${run.machine.cpus} CPUs (${run.machine.cpuModel}), Node ${run.machine.node}, load ${run.machine.loadavg.join(' ')}; ` +
      `estimated ${Math.floor(estimate / 60)} min ${Math.round(estimate % 60)} s (hard limit ${budgetS} s); results to ${relative(repo, outDir)}/\n`,
  );

  const fx = await makeFixtures();
  let stub: { proc: Proc; url: string } | undefined;
  try {
    stub = await startStub();
    if (mode === 'throughput') await runThroughput(opts, fx, stub, run);
    else if (mode === 'memory') await runMemory(opts, fx, stub, run);
    else await runProfile(opts, fx, stub, run);
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
  const latest = writeLatest(outDir);
  const table = mode === 'throughput' ? throughputTable(run) : mode === 'memory' ? memoryTable(run) : profileTable(run);
  process.stdout.write(`\n${table}\nRaw: ${relative(repo, file)}; report with the targets: ${relative(repo, latest)}\n`);
}

if (help) {
  process.stdout.write(USAGE);
} else if (report) {
  process.stdout.write(readFileSync(writeLatest(outDir), 'utf8'));
} else {
  await main();
}
process.exit();
