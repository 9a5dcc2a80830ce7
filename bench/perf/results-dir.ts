/**
 * Where a bench run writes. By default every run (perf, bundle size, start-up, soak) goes to the
 * git-ignored bench/results/tmp/, so measuring never dirties the tree; `--update` writes to
 * bench/results/, rewriting the committed latest.md, bundle-size.json and friends.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = fileURLToPath(new URL('../..', import.meta.url));
export const committedResultsDir = join(repo, 'bench/results');
export const scratchResultsDir = join(committedResultsDir, 'tmp');

/** The folder a run writes to (created if missing). */
export function resultsDir(update: boolean): string {
  const dir = update ? committedResultsDir : scratchResultsDir;
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A file-name-safe UTC timestamp, e.g. 2026-11-30T14-02-15. */
export const timestamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
