/**
 * Builds the Workers bundle exactly as `wrangler deploy` would (dry run, offline) and measures it:
 * raw and gzip size, and any `node:` module left in it. Used by the suite (test/workers-bundle.test.ts:
 * it builds, with no node: import) and by the bundle-size bench (bench/bundle-size.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const repo = fileURLToPath(new URL('..', import.meta.url));

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
