/**
 * Where a bench run writes. By default every run (perf, bundle size, start-up, soak) goes to the
 * git-ignored bench/results/tmp/, so measuring never dirties the tree; `--update` writes to
 * bench/results/, rewriting the committed latest.md, bundle-size.json and friends.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

/**
 * Replaces (or appends) the section of latest.md between `<!-- name -->` and `<!-- /name -->`,
 * leaving the rest as it is: benches that are not part of perf.ts keep their figures there.
 */
export function writeLatestSection(dir: string, name: string, lines: string[]): void {
  const file = join(dir, 'latest.md');
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    /* a new file */
  }
  const start = `<!-- ${name} -->`;
  const end = `<!-- /${name} -->`;
  const section = [start, ...lines, end].join('\n');
  const at = text.indexOf(start);
  const next = at >= 0 ? `${text.slice(0, at)}${section}${text.slice(text.indexOf(end) + end.length)}` : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
}
