/**
 * Builds the Workers bundle exactly as `wrangler deploy` would (dry run, offline) and records its
 * size, raw and gzip, in bundle-size.json (git-ignored: bench/results/tmp/, or with --update
 * bench/results/, whose latest.md is then rewritten with it).
 *   npm run bench:bundle [-- --update]
 */
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWorkerBundle } from '../scripts/worker-bundle.js';
import { writeLatest } from './perf/report.js';
import { repo, resultsDir, writeLatestSection } from './perf/results-dir.js';

{
  const size = buildWorkerBundle();
  const result = { measuredAt: new Date().toISOString(), ...size, rawKiB: +(size.rawBytes / 1024).toFixed(1), gzipKiB: +(size.gzipBytes / 1024).toFixed(1) };
  const { values } = parseArgs({ options: { update: { type: 'boolean', default: false } }, strict: true });
  const dir = resultsDir(values.update);
  writeFileSync(join(dir, 'bundle-size.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeLatest(dir);
  writeLatestSection(dir, 'bundle', [
    '## Workers bundle',
    '',
    `${result.measuredAt}: ${size.rawBytes} B raw (${result.rawKiB} KiB), ${size.gzipBytes} B gzip (${result.gzipKiB} KiB); node: imports: ${size.nodeImports.length ? size.nodeImports.join(', ') : 'none'}.`,
  ]);
  console.log(`Workers bundle ${size.file}: ${result.rawKiB} KiB raw, ${result.gzipKiB} KiB gzip; node: imports: ${size.nodeImports.length ? size.nodeImports.join(', ') : 'none'}`);
  console.log(`Written to ${relative(repo, join(dir, 'bundle-size.json'))}${values.update ? ' and bench/results/latest.md' : ' (--update also rewrites bench/results/latest.md)'}`);
}
