/**
 * Turns run records into markdown: the throughput table with ours paired against each floor and
 * the usual way, the issue-13 targets stated as measured, memory, the CPU profile of ours, and the
 * Workers start-up. `writeLatest(dir)` rebuilds dir/latest.md from the newest record of each kind
 * in that folder.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLOORS, normaliseTarget, SCENARIOS, TARGETS, type ScenarioName, type TargetName } from './names.js';
import type { ProfileSummary } from './profile-summary.js';
import type { BundleRecord, Cell, RunRecord, StartupRecord } from './record.js';
import { writeLatestSection } from './results-dir.js';

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const spread = (xs: number[], digits: number) =>
  xs.length <= 1 ? fmt(xs[0] ?? NaN, digits) : `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)})`;

/** ours ÷ other, one ratio per repeat in which both were measured in the same scenario and concurrency. */
function pairedRatios(cells: Cell[], other: TargetName, f: (c: Cell) => number): number[] {
  const ratios: number[] = [];
  for (const ours of cells.filter((c) => c.target === 'ours')) {
    const o = cells.find((c) => c.target === other && c.repeat === ours.repeat);
    if (o && f(o) > 0) ratios.push(f(ours) / f(o));
  }
  return ratios;
}

const cellsOf = (run: RunRecord) => (run.cells ?? []).map((c) => ({ ...c, target: normaliseTarget(c.target) }));

export function throughputTable(run: RunRecord): string {
  const cells = cellsOf(run);
  const repeats = new Set(cells.map((c) => c.repeat)).size;
  const scenarios = SCENARIOS.filter((s) => cells.some((c) => c.scenario === s));
  const concs = [...new Set(cells.map((c) => c.concurrency))].sort((a, b) => a - b);
  const rows: string[] = [
    '| scenario | conc | target | req/s median (min–max) | p50 ms | p99 ms | CPU ms/req median (min–max) | CPU % of a core | peak RSS MB | flags |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---|',
  ];
  const ratioRows: string[] = [
    '| scenario | conc | ours vs. | req/s ratio median (min–max) | CPU/req ratio median (min–max) |',
    '|---|---:|---|---:|---:|',
  ];
  for (const scenario of scenarios) {
    for (const conc of concs) {
      const group = cells.filter((c) => c.scenario === scenario && c.concurrency === conc);
      for (const target of TARGETS) {
        const cs = group.filter((c) => c.target === target);
        if (!cs.length) continue;
        const flagged = cs.filter((c) => c.flagged);
        const flags = flagged.length
          ? `⚠ ${flagged.length}/${cs.length} runs: ${flagged.map((c) => c.sampleProblem ?? `err ${c.errors} to ${c.timeouts} non2xx ${c.non2xx} mismatch ${c.mismatches}`).join('; ')}`
          : '';
        rows.push(
          `| ${scenario} | ${conc} | ${target} | ${spread(cs.map((c) => c.rps), 0)} | ${fmt(median(cs.map((c) => c.latencyMs.p50)), 2)} | ` +
            `${fmt(median(cs.map((c) => c.latencyMs.p99)), 2)} | ${spread(cs.map((c) => c.cpuMsPerReq), 3)} | ${fmt(median(cs.map((c) => c.cpuPct)), 0)} | ` +
            `${fmt(median(cs.map((c) => c.peakRssMiB)), 0)} | ${flags} |`,
        );
      }
      for (const other of TARGETS) {
        if (other === 'ours') continue;
        const rps = pairedRatios(group, other, (c) => c.rps);
        if (!rps.length) continue;
        ratioRows.push(`| ${scenario} | ${conc} | ${other} | ${spread(rps, 2)} | ${spread(pairedRatios(group, other, (c) => c.cpuMsPerReq), 2)} |`);
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
    'Peak RSS is the process peak up to the end of that cell (one process per repeat × scenario × target, concurrency rising).',
    'The floors do no auth, no validation and no MCP: the same HTTP + JSON + upstream POST with nothing else, with fetch (floor-fetch) or undici `Pool.request` (floor-undici). On tools/list neither goes upstream, so only the fetch floor is run.',
  ];
  if (run.jwksFetches.length) {
    notes.push(`JWKS fetches per RS256 process (whole life): ${run.jwksFetches.map((j) => `${j.target} r${j.repeat}: ${j.fetches}`).join(', ')}.`);
  }
  return (
    `${notes.map((n) => `- ${n}\n`).join('')}\n${rows.join('\n')}\n\n` +
    'Ours against each other target, paired per repeat (ours ÷ the other, measured next to each other in the same repeat): ' +
    'req/s ratio > 1 = ours faster; CPU ratio < 1 = ours cheaper.\n\n' +
    `${ratioRows.join('\n')}\n`
  );
}

// ---------------------------------------------------------------------------------------------
// The issue-13 targets, each stated as measured
// ---------------------------------------------------------------------------------------------

const TARGET_CONCURRENCY = 64;
const BUNDLE_LIMIT_BYTES = 200_000; // "200 KB gzip", read as SI kilobytes: the stricter reading
const FLAT_RSS_GROWTH = 1.1; // "flat": at most 10 % more from the first to the last sample

const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? '**met**' : '**not met**');

export function targetsSection(t: RunRecord | undefined, mem: RunRecord | undefined, bundle: BundleRecord | undefined, startup: StartupRecord | undefined): string {
  const rows = ['| target | measured | verdict |', '|---|---|---|'];
  const cells = t ? cellsOf(t) : [];
  for (const scenario of ['invite-hs256', 'invite-rs256'] as ScenarioName[]) {
    const group = cells.filter((c) => c.scenario === scenario && c.concurrency === TARGET_CONCURRENCY);
    const ratio = (other: TargetName, f: (c: Cell) => number) => {
      const r = pairedRatios(group, other, f);
      return { text: r.length ? spread(r, 2) : 'not measured', median: r.length ? median(r) : undefined };
    };
    const flagged = group.filter((c) => c.flagged).length;
    const where = `${scenario}, c=${TARGET_CONCURRENCY}${flagged ? ` (⚠ ${flagged} flagged cell(s): see the table)` : ''}`;
    const vsFetch = ratio('floor-fetch', (c) => c.rps);
    const vsUsual = ratio('usual', (c) => c.rps);
    const vsUndici = ratio('floor-undici', (c) => c.rps);
    const cpu = ratio('floor-fetch', (c) => c.cpuMsPerReq);
    rows.push(
      `| invite_user calls/s ≥ 1.0 × floor (fetch) | ${where}: ${vsFetch.text} × | ${verdict(vsFetch.median === undefined ? undefined : vsFetch.median >= 1)} |`,
      `| invite_user calls/s ≥ 4 × the usual way | ${where}: ${vsUsual.text} × | ${verdict(vsUsual.median === undefined ? undefined : vsUsual.median >= 4)} |`,
      `| invite_user calls/s vs. floor (undici) | ${where}: ${vsUndici.text} × | reported (no target) |`,
      `| CPU per call ≤ 1.0 × floor (fetch)'s | ${where}: ${cpu.text} × | ${verdict(cpu.median === undefined ? undefined : cpu.median <= 1)} |`,
    );
  }
  if (bundle) {
    rows.push(`| Workers bundle ≤ 200 KB gzip | ${bundle.gzipBytes} B = ${fmt(bundle.gzipBytes / 1000, 1)} KB (${bundle.gzipKiB} KiB) gzip, ${bundle.rawKiB} KiB raw (${bundle.measuredAt}) | ${verdict(bundle.gzipBytes <= BUNDLE_LIMIT_BYTES)} |`);
  } else {
    rows.push('| Workers bundle ≤ 200 KB gzip | no bundle-size.json in this folder: run `npm run bench:bundle` | not measured |');
  }
  const ours = mem?.memory?.find((m) => m.target === 'ours');
  const first = ours?.samples[1]; // [0] is the fresh process; [1] the first call count asked for (10k)
  const last = ours?.samples.at(-1);
  if (ours && first && last && last !== first) {
    const rss = last.rssMiB / first.rssMiB;
    const heap = last.heapUsedAfterGcMiB / first.heapUsedAfterGcMiB;
    rows.push(
      `| RSS flat from 10k to 100k calls (≤ ${Math.round((FLAT_RSS_GROWTH - 1) * 100)} % growth of RSS and of heap after GC) | ` +
        `after ${first.afterCalls} → ${last.afterCalls} calls: RSS ${fmt(first.rssMiB, 1)} → ${fmt(last.rssMiB, 1)} MB (× ${fmt(rss, 2)}), heap after GC ${fmt(first.heapUsedAfterGcMiB, 1)} → ${fmt(last.heapUsedAfterGcMiB, 1)} MB (× ${fmt(heap, 2)}) | ${verdict(rss <= FLAT_RSS_GROWTH && heap <= FLAT_RSS_GROWTH)} |`,
    );
  } else {
    rows.push('| RSS flat from 10k to 100k calls | no memory run in this folder: run `npm run bench:memory` | not measured |');
  }
  if (startup) {
    const cpu = (target: 'ours' | 'minimal') => startup.runs.filter((r) => r.target === target).map((r) => r.cpuMs);
    const o = median(cpu('ours'));
    const m = median(cpu('minimal'));
    rows.push(`| Workers start-up (reported) | ours ${fmt(o, 1)} ms CPU vs. minimal Hono + jose ${fmt(m, 1)} ms (medians of ${startup.repeats}), × ${fmt(o / m, 2)} | reported (no target) |`);
  } else {
    rows.push('| Workers start-up (reported) | no start-up run in this folder: run `npm run bench:startup` | not measured |');
  }
  const sources = [
    t ? `throughput ${t.startedAt}${t.quick ? ' (--quick)' : ''}, ${new Set(cells.map((c) => c.repeat)).size} repeat(s) × ${t.options.duration} s` : undefined,
    mem ? `memory ${mem.startedAt}` : undefined,
    startup ? `start-up ${startup.startedAt}` : undefined,
  ].filter(Boolean);
  const caveat = t && (t.quick || new Set(cells.map((c) => c.repeat)).size < 3) ? ' A quick or single-repeat run checks that everything works; it is not a measurement to judge targets by.' : '';
  return (
    `Each target of issue 13 as measured (${sources.join('; ') || 'no runs'}); ratios are medians of ours ÷ the other paired per repeat, (min–max). ` +
    `Floors: ${FLOORS.join(', ')}.${caveat}\n\n${rows.join('\n')}\n`
  );
}

// ---------------------------------------------------------------------------------------------
// Memory, profile, start-up
// ---------------------------------------------------------------------------------------------

export function memoryTable(run: RunRecord): string {
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

function summaryTables(p: ProfileSummary, ownerTitle: string): string[] {
  return [
    '| self time by module | ms | % |',
    '|---|---:|---:|',
    ...p.byModule.map((g) => `| ${g.name} | ${g.ms} | ${g.pct} |`),
    '',
    `| ${ownerTitle} | ms | % |`,
    '|---|---:|---:|',
    ...p.byOwner.map((g) => `| ${g.name} | ${g.ms} | ${g.pct} |`),
    '',
    '| top self-time functions | ms | % | mostly called from |',
    '|---|---:|---:|---|',
    ...p.topFunctions.map((f) => `| \`${f.name}\` | ${f.ms} | ${f.pct} | ${f.via ? `\`${f.via}\`` : ''} |`),
  ];
}

export function profileTable(run: RunRecord): string {
  const p = run.profile;
  if (!p) return '';
  return [
    `CPU profile ${run.startedAt}: ours, ${p.scenario} at concurrency ${p.concurrency}, ${p.requests} requests (${fmt(p.rps, 0)} req/s under the profiler); ${p.totalMs} ms sampled; profile ${p.file}.`,
    '',
    ...summaryTables(p, 'self time charged to the nearest package or src/ caller'),
  ].join('\n') + '\n';
}

export function startupTable(run: StartupRecord): string {
  const lines = [
    `Start-up run ${run.startedAt}: \`wrangler check startup\` (workerd's CPU profile of evaluating the Worker's modules, the first request excluded) on two prebuilt bundles, alternating, ${run.repeats} repeats each; ` +
      `CPU = non-idle samples × the sampling interval (${fmt(run.sampleIntervalMs, 2)} ms, the median gap between samples); "between samples" = the wall time those samples' gaps add up to, larger when the machine descheduled the isolate. ` +
      `Node ${run.machine.node}, ${run.machine.cpus} CPUs, load average at start ${run.machine.loadavg.join(' ')}. Compare medians.`,
    '',
    '| Worker | bundle gzip KiB | CPU ms median (min–max) | between samples ms median | profile wall ms median | each run, CPU ms |',
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const target of ['minimal', 'ours'] as const) {
    const runs = run.runs.filter((r) => r.target === target);
    const b = run.bundles.find((x) => x.target === target);
    lines.push(
      `| ${target === 'ours' ? '**ours**' : 'minimal Hono + jose'} | ${b ? fmt(b.gzipBytes / 1024, 1) : ''} | ${spread(runs.map((r) => r.cpuMs), 1)} | ${fmt(median(runs.map((r) => r.sampledMs)), 1)} | ${fmt(median(runs.map((r) => r.wallMs)), 1)} | ${runs.map((r) => fmt(r.cpuMs, 1)).join(', ')} |`,
    );
  }
  lines.push(
    '',
    `Where ours spends start-up CPU (all ${run.repeats} profiles added up, each sample weighing one interval; every module's top level is one bundle function, "(top level)"):`,
    '',
    ...summaryTables(run.profiles.ours, 'self time charged to the outermost named function under the top level (the API a module\'s top level called)'),
  );
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// latest.md
// ---------------------------------------------------------------------------------------------

function newestJson<T>(dir: string, prefix: RegExp, accept: (x: T) => boolean): T | undefined {
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir).filter((f) => prefix.test(f)).sort().reverse();
  for (const f of files) {
    try {
      const x = JSON.parse(readFileSync(join(dir, f), 'utf8')) as T;
      if (accept(x)) return x;
    } catch {
      /* not a record */
    }
  }
  return undefined;
}

const newestRun = (dir: string, mode: RunRecord['mode']) => newestJson<RunRecord>(dir, /^perf-.*\.json$/, (r) => r.mode === mode);

/** Rebuilds dir/latest.md from the newest records of each kind in dir; returns its path. */
export function writeLatest(dir: string): string {
  const t = newestRun(dir, 'throughput');
  const m = newestRun(dir, 'memory');
  const p = newestRun(dir, 'profile');
  const s = newestJson<StartupRecord>(dir, /^startup-.*\.json$/, (r) => r.mode === 'startup');
  const bundle = existsSync(join(dir, 'bundle-size.json')) ? (JSON.parse(readFileSync(join(dir, 'bundle-size.json'), 'utf8')) as BundleRecord) : undefined;
  const file = join(dir, 'latest.md');
  if (!existsSync(file)) {
    writeFileSync(file, ['# Performance: ours vs. two floors vs. the usual way', '', 'Written by the benches under bench/ (bench/README.md), each into its own section.', ''].join('\n'));
  }
  // Raw records are not committed: a section is rewritten only from records this machine holds,
  // and every other section keeps what an earlier run wrote. The targets need every kind at once.
  if (t && m && bundle && s) writeLatestSection(dir, 'targets', ['## The targets of issue 13', '', targetsSection(t, m, bundle, s)]);
  if (t) writeLatestSection(dir, 'throughput', ['## Throughput, latency, CPU', '', throughputTable(t)]);
  if (m) writeLatestSection(dir, 'memory', ['## Memory and JWKS', '', memoryTable(m)]);
  if (p) writeLatestSection(dir, 'profile', ['## Where ours spends CPU', '', profileTable(p)]);
  if (s) writeLatestSection(dir, 'workers-startup', ['## Workers start-up', '', startupTable(s)]);
  return file;
}
