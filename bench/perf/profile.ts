/**
 * Profile mode: ours under invite_user load; a V8 CPU profile of the measured window only (no
 * start-up, module loading or warm-up), taken in-process over the IPC channel, summarised as
 * self time per module, per nearest package or src/ caller, and per function.
 */
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIO_DEFS, type Fixtures } from './fixtures.js';
import { load, sampleCheck, type LoadResult } from './load.js';
import { SCRIPTS } from './names.js';
import type { Options } from './options.js';
import { readProfile, summariseProfiles, type Attribution, type CallFrame } from './profile-summary.js';
import type { RunRecord } from './record.js';
import { repo, resultsDir, timestamp } from './results-dir.js';
import { Proc, targetEnv } from './targets.js';

/** A package (node_modules/<name>) or a repository file (src/…); undefined for node: internals. */
function moduleOfUrl(url: string): string | undefined {
  if (!url || url.startsWith('node:')) return undefined;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  return path.startsWith('/') ? relative(repo, path) : url;
}

const frameName = (cf: CallFrame) => {
  const file = cf.url ? (cf.url.startsWith('file://') ? relative(repo, fileURLToPath(cf.url)) : cf.url) : '';
  return `${cf.functionName || '(anonymous)'}${file ? ` ${file}:${cf.lineNumber + 1}` : ''}`;
};

export const nodeAttribution: Attribution = {
  moduleOf: (f) => moduleOfUrl(f.url),
  ownerOf: (f) => moduleOfUrl(f.url),
  owner: 'nearest',
  frameName,
  // The profiler's own stop (serialising the profile) runs under bench/servers/common.ts: not ours.
  exclude: (f) => f.url.includes('bench/servers/'),
};

export async function runProfile(opts: Options, fx: Fixtures, stub: { proc: Proc; url: string }, out: RunRecord): Promise<void> {
  // Profiles are large: always in the git-ignored folder, the summary goes into the record.
  const file = join(resultsDir(false), `ours-${timestamp()}.cpuprofile`);
  const scenario = SCENARIO_DEFS[(opts.scenarios.length === 1 ? opts.scenarios[0] : 'invite-hs256')!];
  const concurrency = opts.concurrency.includes(16) ? 16 : opts.concurrency[0]!;
  const p = await Proc.start('ours', SCRIPTS.ours, targetEnv('ours', scenario.auth, stub.url, fx, 'prof'));
  let r: LoadResult;
  try {
    const problem = await sampleCheck(p.port, scenario, fx);
    if (problem) throw new Error(problem);
    await load({ port: p.port, scenario, fx, connections: concurrency, duration: opts.warmup });
    // Only the measured window is profiled: no start-up, module loading or warm-up in it.
    await p.profile('start');
    r = await load({ port: p.port, scenario, fx, connections: concurrency, duration: opts.duration });
    await p.profile('stop', file);
  } finally {
    await p.stop();
  }
  out.profile = { scenario: scenario.name, concurrency, requests: r.requests, rps: r.rps, file: relative(repo, file), ...summariseProfiles([readProfile(file)], nodeAttribution) };
}
