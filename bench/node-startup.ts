/**
 * Node start-up, with and without telemetry: the compiled entry (dist/node.js, `npm run build`
 * first) from spawn to its `server.started` line, alternating the two, several times; medians.
 * "With" sets OTLP traces and metrics to a loopback port (nothing needs to listen: start-up does
 * not wait for an export).
 *
 *   npm run build && node --import tsx bench/node-startup.ts [--repeats 7]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repo } from './perf/results-dir.js';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '7' } }, strict: true });
const entry = join(repo, 'dist/node.js');
if (!existsSync(entry)) throw new Error('dist/node.js is missing: run npm run build first');

function once(otel: boolean): Promise<number> {
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    PORT: '0',
    AUTH_JWT_SECRET: 'bench-startup-secret-0123456789abcdef0123',
    PORTKEY_API_KEY: 'pk-bench',
    ...(otel ? { OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' } : {}),
  };
  const started = performance.now();
  const child = spawn(process.execPath, [entry], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('"event":"server.started"')) {
        const ms = performance.now() - started;
        child.kill('SIGKILL');
        resolve(ms);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before starting`)));
  });
}

const times = { without: [] as number[], with: [] as number[] };
for (let i = 0; i < Number(values.repeats); i++) {
  times.without.push(await once(false));
  times.with.push(await once(true));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`Node start-up to server.started (median of ${values.repeats}): without telemetry ${median(times.without).toFixed(0)} ms, with OTLP traces+metrics ${median(times.with).toFixed(0)} ms`);
process.exit(0);
