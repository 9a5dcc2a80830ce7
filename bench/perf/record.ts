/** The raw record of one perf run, as written to perf-<mode>-<timestamp>.json. */
import os from 'node:os';
import type { LoadResult } from './load.js';
import type { Mode, Options } from './options.js';
import type { ProfileSummary } from './profile-summary.js';
import type { ScenarioName, TargetName } from './names.js';

export interface Cell extends LoadResult {
  repeat: number;
  scenario: ScenarioName;
  target: TargetName;
  concurrency: number;
  /** Order of this measurement within its repeat and scenario. */
  slot: number;
  cpuMsPerReq: number;
  /** Target process CPU over wall time, in % of one core. */
  cpuPct: number;
  peakRssMiB: number;
  rssMiB: number;
  stubCpuMsPerReq: number;
  /** Load generator (this process) CPU over wall time, in % of one core. */
  driverCpuPct: number;
  loadavg1: number;
  flagged: boolean;
  sampleProblem?: string;
}

export interface MemorySample {
  afterCalls: number;
  rssMiB: number;
  rssAfterGcMiB: number;
  heapUsedAfterGcMiB: number;
  heapTotalAfterGcMiB: number;
  externalAfterGcMiB: number;
  maxRssMiB: number;
  rps?: number;
  errors?: number;
}

export interface JwksFetchCount {
  repeat: number;
  target: TargetName;
  scenario: ScenarioName;
  fetches: number;
  calls?: number;
  fetchesDuringCalls?: number;
  errors?: number;
}

export interface RunRecord {
  mode: Mode;
  startedAt: string;
  finishedAt?: string;
  aborted?: string;
  quick: boolean;
  options: Options;
  machine: MachineInfo;
  machineAtEnd?: MachineInfo;
  cells?: Cell[];
  memory?: { target: TargetName; concurrency: number; samples: MemorySample[] }[];
  jwksFetches: JwksFetchCount[];
  profile?: ProfileSummary & { scenario: string; concurrency: number; requests: number; rps: number; file: string };
}

export type MachineInfo = ReturnType<typeof machineInfo>;

export function machineInfo() {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    availableParallelism: os.availableParallelism(),
    totalMemMiB: Math.round(os.totalmem() / (1024 * 1024)),
    loadavg: os.loadavg().map((v) => +v.toFixed(2)),
  };
}

export type StartupTarget = 'ours' | 'minimal';

/** One `npm run bench:startup` run, as written to startup-<timestamp>.json. */
export interface StartupRecord {
  mode: 'startup';
  startedAt: string;
  finishedAt?: string;
  machine: MachineInfo;
  repeats: number;
  bundles: { target: StartupTarget; rawBytes: number; gzipBytes: number }[];
  /** The profiler's sampling interval as it ran (ms): the median gap between samples, all profiles pooled. */
  sampleIntervalMs: number;
  /**
   * One per `wrangler check startup`, while the Worker's modules were evaluated: cpuMs = non-idle
   * samples × the sampling interval; sampledMs = the wall time those samples' gaps add up to
   * (larger when the machine descheduled the isolate); wallMs = the whole profile.
   */
  runs: { repeat: number; target: StartupTarget; cpuMs: number; busySamples: number; sampledMs: number; wallMs: number; samples: number; file: string }[];
  /** All repeats of a target added up. */
  profiles: Record<StartupTarget, ProfileSummary>;
}

/** bench/results/bundle-size.json (or tmp/bundle-size.json), written by `npm run bench:bundle`. */
export interface BundleRecord {
  measuredAt: string;
  file: string;
  rawBytes: number;
  gzipBytes: number;
  nodeImports: string[];
  rawKiB: number;
  gzipKiB: number;
}
