/**
 * Workers isolate start-up: ours against a minimal Hono + jose Worker (bench/workers-minimal/),
 * in the same run. Each Worker is bundled once as `wrangler deploy` would (dry run, offline);
 * then `wrangler check startup --worker <bundle>` runs for each, alternating, several times.
 * That command loads the bundle in workerd (via Miniflare) and records a V8 CPU profile while
 * its modules are evaluated (the first request's work, e.g. createApp, is not in it). The CPU
 * time of a run is its non-idle samples × the sampling interval (a descheduled isolate takes no
 * samples, so the gaps between samples would count a busy machine's time as ours). Ours is also broken down: self time by
 * bundled module (the bundle's `// node_modules/...` and `// src/...` markers), and by the
 * outermost named function under the bundle's top level (the library API a module's top level
 * called, e.g. zod's `object` while schemas are built at import).
 *
 *   npm run bench:startup [-- --repeats 5] [-- --update]
 *
 * Writes startup-<timestamp>.json and rebuilds latest.md in bench/results/tmp/ (or, with --update,
 * in bench/results/); the profiles (.cpuprofile) stay in bench/results/tmp/.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { machineInfo, type StartupRecord, type StartupTarget } from './perf/record.js';
import { busySamples, readProfile, samplingIntervalUs, summariseProfiles, type Attribution, type CallFrame, type CpuProfile } from './perf/profile-summary.js';
import { median, startupTable, writeLatest } from './perf/report.js';
import { repo, resultsDir, timestamp } from './perf/results-dir.js';

const { values } = parseArgs({
  options: { repeats: { type: 'string', default: '5' }, update: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  strict: true,
});
if (values.help) {
  process.stdout.write('usage: npm run bench:startup [-- --repeats N] [-- --update]\n');
  process.exit(0);
}
const repeats = Number(values.repeats);
if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`--repeats must be a positive integer, got ${JSON.stringify(values.repeats)}`);

const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' };
const CONFIGS: Record<StartupTarget, string> = { ours: join(repo, 'wrangler.toml'), minimal: join(repo, 'bench/workers-minimal/wrangler.toml') };

const wrangler = (args: string[]) => execFileSync('npx', ['wrangler', ...args], { cwd: repo, env: WRANGLER_ENV, stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });

/** The upload form `wrangler deploy --outfile` writes: metadata plus each module; returns the main module's code. */
async function mainModule(bundleFile: string): Promise<{ name: string; code: string }> {
  const raw = readFileSync(bundleFile);
  const boundary = raw.subarray(0, raw.indexOf('\r\n')).toString('latin1').replace(/^--/, '');
  const form = await new Response(raw, { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }).formData();
  const metadata = JSON.parse(String(form.get('metadata'))) as { main_module: string };
  const file = form.get(metadata.main_module);
  if (!file || typeof file === 'string') throw new Error(`${bundleFile}: no module ${metadata.main_module}`);
  return { name: metadata.main_module, code: await file.text() };
}

/** Line → bundled module, from esbuild's `// node_modules/<pkg>/…` and `// src/…` markers. */
function bundleAttribution(main: { name: string; code: string }): Attribution {
  const markers: { line: number; module: string }[] = [];
  main.code.split('\n').forEach((text, line) => {
    const m = /^\/\/ ((?:node_modules\/|src\/|bench\/)\S+)$/.exec(text);
    if (!m) return;
    const path = m[1]!;
    const pkg = path.startsWith('node_modules/') ? path.slice('node_modules/'.length).split('/') : undefined;
    markers.push({ line, module: pkg ? (pkg[0]!.startsWith('@') ? `${pkg[0]}/${pkg[1]}` : pkg[0]!) : path });
  });
  const inBundle = (f: CallFrame) => f.url.endsWith(main.name);
  const moduleOf = (f: CallFrame) => {
    if (!inBundle(f)) return undefined;
    if (f.lineNumber < 0) return '(bundle top level: every module\'s top-level statements)';
    let lo = 0;
    let hi = markers.length - 1;
    let found: string | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (markers[mid]!.line <= f.lineNumber) {
        found = markers[mid]!.module;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found ?? '(bundle preamble)';
  };
  const frameName = (f: CallFrame) => (f.url ? `${f.functionName || '(top level)'} ${moduleOf(f) ?? f.url}:${f.lineNumber + 1}` : f.functionName || '(anonymous)');
  return {
    moduleOf,
    // A named function in the bundle; the top level of the bundle (no name) stands for no one.
    ownerOf: (f) => (f.functionName && moduleOf(f) ? `${moduleOf(f)} \`${f.functionName}\`` : undefined),
    owner: 'outermost',
    frameName,
  };
}

async function main(): Promise<void> {
  const dir = resultsDir(values.update);
  const scratch = resultsDir(false);
  const stamp = timestamp();
  const run: StartupRecord = { mode: 'startup', startedAt: new Date().toISOString(), machine: machineInfo(), repeats, bundles: [], sampleIntervalMs: NaN, runs: [], profiles: {} as StartupRecord['profiles'] };
  const targets: StartupTarget[] = ['minimal', 'ours'];
  const bundles = {} as Record<StartupTarget, { file: string; main: { name: string; code: string } }>;
  for (const target of targets) {
    const file = join(scratch, `startup-${target}-${stamp}.bundle`);
    process.stderr.write(`building ${target} (${relative(repo, CONFIGS[target])})\n`);
    wrangler(['deploy', '--dry-run', '--config', CONFIGS[target], '--outfile', file]);
    const main = await mainModule(file);
    bundles[target] = { file, main };
    run.bundles.push({ target, rawBytes: Buffer.byteLength(main.code), gzipBytes: gzipSync(main.code, { level: 9 }).length });
  }
  const profiles: Record<StartupTarget, CpuProfile[]> = { ours: [], minimal: [] };
  for (let repeat = 0; repeat < repeats; repeat++) {
    // Alternate which Worker goes first, so neither always meets a warmer (or busier) machine.
    for (const target of repeat % 2 ? [...targets].reverse() : targets) {
      const file = join(scratch, `startup-${target}-${stamp}-r${repeat}.cpuprofile`);
      wrangler(['check', 'startup', '--config', CONFIGS[target], '--worker', bundles[target].file, '--outfile', file]);
      const prof = readProfile(file);
      profiles[target].push(prof);
      const busy = busySamples(prof);
      run.runs.push({ repeat, target, cpuMs: NaN, busySamples: busy.samples, sampledMs: busy.sampledMs, wallMs: (prof.endTime - prof.startTime) / 1000, samples: prof.samples.length, file: relative(repo, file) });
      process.stderr.write(`r${repeat} ${target.padEnd(7)} ${String(busy.samples).padStart(4)} non-idle samples, ${busy.sampledMs.toFixed(1)} ms between them\n`);
    }
  }
  const intervalUs = samplingIntervalUs([...profiles.ours, ...profiles.minimal]);
  run.sampleIntervalMs = intervalUs / 1000;
  for (const r of run.runs) r.cpuMs = (r.busySamples * intervalUs) / 1000;
  for (const target of targets) run.profiles[target] = summariseProfiles(profiles[target], bundleAttribution(bundles[target].main), 25, intervalUs);
  run.finishedAt = new Date().toISOString();
  const file = join(dir, `startup-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(run, null, 1)}\n`);
  const latest = writeLatest(dir);
  const cpu = (t: StartupTarget) => median(run.runs.filter((r) => r.target === t).map((r) => r.cpuMs));
  process.stdout.write(`\n${startupTable(run)}\nours ${cpu('ours').toFixed(1)} ms vs. minimal ${cpu('minimal').toFixed(1)} ms CPU (medians of ${repeats})\n`);
  process.stdout.write(`Raw: ${relative(repo, file)}; report: ${relative(repo, latest)}\n`);
}

await main();
