/**
 * Builds the Workers bundle exactly as `wrangler deploy` would (dry run, offline) and records its
 * size, raw and gzip, in bundle-size.json: in the git-ignored bench/results/tmp/, or with
 * --update in bench/results/ (the committed one). latest.md beside it is rebuilt.
 *   npm run bench:bundle [-- --update]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { writeLatest } from './perf/report.js';
import { repo, resultsDir } from './perf/results-dir.js';

export interface BundleSize {
  file: string;
  rawBytes: number;
  gzipBytes: number;
  nodeImports: string[];
}

export function buildWorkerBundle(): BundleSize {
  const outdir = mkdtempSync(join(tmpdir(), 'worker-bundle-'));
  try {
    return measureBundle(outdir);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function measureBundle(outdir: string): BundleSize {
  execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], {
    cwd: repo,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const file = readdirSync(outdir).find((f) => f.endsWith('.js'));
  if (!file) throw new Error(`wrangler produced no .js bundle in ${outdir}`);
  const code = readFileSync(join(outdir, file));
  const text = code.toString('utf8');
  // Any `node:` module left in the bundle would need the nodejs_compat flag.
  const nodeImports = [...new Set([...text.matchAll(/(?:from\s*|import\s*\(\s*|require\s*\(\s*)["'](node:[\w/]+)["']/g)].map((m) => m[1]!))];
  return { file, rawBytes: statSync(join(outdir, file)).size, gzipBytes: gzipSync(code, { level: 9 }).length, nodeImports };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const size = buildWorkerBundle();
  const result = { measuredAt: new Date().toISOString(), ...size, rawKiB: +(size.rawBytes / 1024).toFixed(1), gzipKiB: +(size.gzipBytes / 1024).toFixed(1) };
  const { values } = parseArgs({ options: { update: { type: 'boolean', default: false } }, strict: true });
  const dir = resultsDir(values.update);
  writeFileSync(join(dir, 'bundle-size.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeLatest(dir);
  console.log(`Workers bundle ${size.file}: ${result.rawKiB} KiB raw, ${result.gzipKiB} KiB gzip; node: imports: ${size.nodeImports.length ? size.nodeImports.join(', ') : 'none'}`);
  console.log(`Written to ${relative(repo, join(dir, 'bundle-size.json'))}${values.update ? '' : ' (--update writes the committed bench/results/bundle-size.json)'}`);
}
