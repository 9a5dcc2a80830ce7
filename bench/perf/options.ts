/** Command-line options of bench/perf.ts, validated once. */
import { parseArgs } from 'node:util';
import { SCENARIOS, TARGETS, type ScenarioName, type TargetName } from './names.js';

export const USAGE = `usage: node --import tsx bench/perf.ts [options]
  --duration S       seconds measured per cell (default 10; --quick: 3)
  --repeats N        repeats (default 3; --quick: 1)
  --quick            3 s, concurrency 64 only, 1 repeat, 1 s warm-up
  --concurrency L    comma list (default 1,16,64)
  --scenarios L      comma list of ${SCENARIOS.join(', ')} (default all)
  --targets L        comma list of ${TARGETS.join(', ')} (default all; --memory: ours)
  --warmup S         warm-up per fresh process, at concurrency 16 (default 2; --quick: 1)
  --cell-warmup S    warm-up at the cell's concurrency before each measurement (default 0.3)
  --memory           memory mode: RSS after 10k and 100k invite calls (HS256), JWKS fetches in 10k RS256 calls
  --calls A,B        memory mode call counts (default 10000,100000)
  --profile          ours under invite HS256 load at concurrency 16, V8 CPU profile of the measured window; top self time
  --report           only rewrite latest.md from the newest results
  --update           write to bench/results/ (the committed latest.md and JSON) instead of bench/results/tmp/
`;

export type Mode = 'throughput' | 'memory' | 'profile';

export interface Options {
  duration: number;
  repeats: number;
  concurrency: number[];
  scenarios: ScenarioName[];
  targets: TargetName[];
  warmup: number;
  cellWarmup: number;
  calls: number[];
}

export interface Cli {
  mode: Mode;
  quick: boolean;
  report: boolean;
  update: boolean;
  help: boolean;
  opts: Options;
}

const num = (v: string | undefined, fallback: number, name: string): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
};

const listOf = <T extends string>(v: string | undefined, all: readonly T[], fallback: readonly T[], name: string): T[] => {
  if (v === undefined) return [...fallback];
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!all.includes(item as T)) throw new Error(`--${name}: unknown ${JSON.stringify(item)} (known: ${all.join(', ')})`);
  return items as T[];
};

export function parseCli(args: string[]): Cli {
  const { values: argv } = parseArgs({
    args,
    options: {
      duration: { type: 'string' },
      repeats: { type: 'string' },
      quick: { type: 'boolean', default: false },
      memory: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      report: { type: 'boolean', default: false },
      update: { type: 'boolean', default: false },
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
  const mode: Mode = argv.memory ? 'memory' : argv.profile ? 'profile' : 'throughput';
  const quick = argv.quick;
  const opts: Options = {
    duration: num(argv.duration, quick ? 3 : 10, 'duration'),
    repeats: Math.round(num(argv.repeats, quick ? 1 : 3, 'repeats')),
    // Ascending: a process's peak RSS at a cell then belongs to that cell's concurrency or a lower one.
    concurrency: (argv.concurrency ? argv.concurrency.split(',').map((s) => Math.round(num(s, 0, 'concurrency'))) : quick ? [64] : [1, 16, 64]).sort((a, b) => a - b),
    scenarios: listOf(argv.scenarios, SCENARIOS, SCENARIOS, 'scenarios'),
    targets: listOf(argv.targets, TARGETS, mode === 'throughput' ? TARGETS : ['ours'], 'targets'),
    warmup: num(argv.warmup, quick ? 1 : 2, 'warmup'),
    cellWarmup: num(argv['cell-warmup'], 0.3, 'cell-warmup'),
    calls: argv.calls ? argv.calls.split(',').map((s) => Math.round(num(s, 0, 'calls'))) : [10_000, 100_000],
  };
  return { mode, quick, report: argv.report, update: argv.update, help: argv.help, opts };
}
