/**
 * Summarises V8 CPU profiles (.cpuprofile, from node:inspector or workerd's inspector): self time
 * per function, per module, and per "owner", the nearest frame on the stack that the caller's
 * `ownerOf` names (so internal and native time is charged to the code that asked for it).
 * Several profiles of the same program (repeats) are added up.
 */
import { readFileSync } from 'node:fs';

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Attribution {
  /** The module a frame's code belongs to (a package, a src/ file), or undefined for runtime internals. */
  moduleOf(frame: CallFrame): string | undefined;
  /** The owner a frame stands for; undefined if it stands for none. */
  ownerOf(frame: CallFrame): string | undefined;
  /**
   * Which named frame on a sample's stack owns it: the nearest (the code that asked, e.g. our
   * function under node internals) or the outermost (e.g. the library API a module's top level
   * called, for start-up profiles where every module's top level is one bundle function).
   */
  owner: 'nearest' | 'outermost';
  /** Display name of a frame. */
  frameName(frame: CallFrame): string;
  /** Samples under a frame matching this are left out (e.g. the profiler's own stop). */
  exclude?(frame: CallFrame): boolean;
}

export interface ProfileSummary {
  /** Sampled time, idle included, summed over the profiles (ms). */
  totalMs: number;
  /** Sampled time that was not (idle) (ms). */
  busyMs: number;
  topFunctions: { name: string; ms: number; pct: number; via?: string }[];
  byModule: { name: string; ms: number; pct: number }[];
  byOwner: { name: string; ms: number; pct: number }[];
}

export const SPECIAL = ['(idle)', '(program)', '(garbage collector)', '(root)'];

export const readProfile = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;

/**
 * Per profile: self time (µs) per node id, samples under excluded frames dropped. A sample weighs
 * its time delta, or `sampleUs` when given: on a loaded machine a descheduled thread takes no
 * samples, so the next delta holds wall time the thread did not run; counting samples at the
 * sampling interval measures CPU instead.
 */
function selfTimes(prof: CpuProfile, a: Attribution, sampleUs?: number) {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const excluded = new Set<number>();
  if (a.exclude) {
    for (const n of prof.nodes) {
      for (let cur: number | undefined = n.id; cur !== undefined; cur = parent.get(cur)) {
        if (a.exclude(byId.get(cur)!.callFrame)) {
          excluded.add(n.id);
          break;
        }
      }
    }
  }
  const selfUs = new Map<number, number>();
  prof.samples.forEach((id, i) => {
    if (!excluded.has(id)) selfUs.set(id, (selfUs.get(id) ?? 0) + (sampleUs ?? Math.max(0, prof.timeDeltas[i] ?? 0)));
  });
  return { byId, parent, selfUs };
}

/** Samples that are not (idle), and the wall time their deltas add up to (ms). */
export function busySamples(prof: CpuProfile): { samples: number; sampledMs: number } {
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  let samples = 0;
  let us = 0;
  prof.samples.forEach((id, i) => {
    if (byId.get(id)!.callFrame.functionName === '(idle)') return;
    samples++;
    us += Math.max(0, prof.timeDeltas[i] ?? 0);
  });
  return { samples, sampledMs: us / 1000 };
}

/** The sampling interval (µs) as it ran: the median gap between samples over all the profiles. */
export function samplingIntervalUs(profiles: CpuProfile[]): number {
  const gaps = profiles.flatMap((p) => p.timeDeltas.slice(1)).filter((d) => d > 0).sort((x, y) => x - y);
  return gaps.length ? gaps[gaps.length >> 1]! : 1000;
}

export function summariseProfiles(profiles: CpuProfile[], a: Attribution, topN = 30, sampleUs?: number): ProfileSummary {
  const fns = new Map<string, { us: number; via: Map<string, number> }>();
  const modules = new Map<string, number>();
  const owners = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const prof of profiles) {
    const { byId, parent, selfUs } = selfTimes(prof, a, sampleUs);
    const owner = (id: number): { name: string; frame: CallFrame } | undefined => {
      let found: { name: string; frame: CallFrame } | undefined;
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const frame = byId.get(cur)!.callFrame;
        const name = a.ownerOf(frame);
        if (name) {
          found = { name, frame };
          if (a.owner === 'nearest') break;
        }
      }
      return found;
    };
    for (const [id, us] of selfUs) {
      const frame = byId.get(id)!.callFrame;
      totalUs += us;
      if (frame.functionName === '(idle)') idleUs += us;
      const special = SPECIAL.includes(frame.functionName) ? frame.functionName : undefined;
      const key = a.frameName(frame);
      const fn = fns.get(key) ?? { us: 0, via: new Map<string, number>() };
      fn.us += us;
      const o = special ? undefined : owner(id);
      if (o && o.frame !== frame) fn.via.set(a.frameName(o.frame), (fn.via.get(a.frameName(o.frame)) ?? 0) + us);
      fns.set(key, fn);
      const mod = special ?? a.moduleOf(frame) ?? (frame.url ? 'node:internal' : '(native)');
      modules.set(mod, (modules.get(mod) ?? 0) + us);
      const ownerName = special ?? o?.name ?? '(no attributed caller)';
      owners.set(ownerName, (owners.get(ownerName) ?? 0) + us);
    }
  }
  const ms = (us: number) => +(us / 1000).toFixed(1);
  const pct = (us: number) => +((100 * us) / Math.max(1, totalUs)).toFixed(1);
  const top = (m: Map<string, number>, k: number) =>
    [...m.entries()].sort((x, y) => y[1] - x[1]).slice(0, k).map(([name, us]) => ({ name, ms: ms(us), pct: pct(us) }));
  const topFunctions = [...fns.entries()]
    .sort((x, y) => y[1].us - x[1].us)
    .slice(0, topN)
    .map(([name, f]) => {
      const via = [...f.via.entries()].sort((x, y) => y[1] - x[1])[0];
      return { name, ms: ms(f.us), pct: pct(f.us), ...(via ? { via: via[0] } : {}) };
    });
  return { totalMs: ms(totalUs), busyMs: ms(totalUs - idleUs), topFunctions, byModule: top(modules, 20), byOwner: top(owners, 20) };
}
