/**
 * There is no Docker engine where this project is tested, so the image is proven by proxy: its
 * build stage must run exactly the production steps scripts/smoke-prod.sh runs (and CI proves),
 * and its HEALTHCHECK command is run here against a real server.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repo } from './support/child.js';
import { freePort, serverPool } from './support/harness.js';

const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8');
const smoke = readFileSync(join(repo, 'scripts/smoke-prod.sh'), 'utf8');
const dockerignore = readFileSync(join(repo, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());

/** Dockerfile instructions with line continuations joined: [keyword, argument text]. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [keyword, ...rest] = l.split(/\s+/);
    return [keyword!.toUpperCase(), rest.join(' ')] as const;
  });
const stages = instructions.reduce<(typeof instructions)[]>((acc, ins) => {
  if (ins[0] === 'FROM') acc.push([]);
  acc.at(-1)!.push(ins);
  return acc;
}, []);

/** The commands between the smoke script's production-step markers. */
const smokeSteps = /# --- the production steps[^\n]*\n([\s\S]*?)\n# ---/.exec(smoke)![1]!.split('\n').map((l) => l.trim()).filter(Boolean);

describe('Dockerfile', () => {
  it('its build stage RUNs exactly the smoke script production steps, in order', () => {
    expect(smokeSteps).toEqual(['npm ci --no-audit --no-fund', 'npm run build', 'npm prune --omit=dev --no-audit --no-fund']);
    const runs = stages[0]!.filter(([k]) => k === 'RUN').map(([, arg]) => arg);
    expect(runs).toEqual(smokeSteps);
  });

  it('both stages are Node 24 slim; the final one runs node dist/node.js as the non-root node user, as the smoke script does', () => {
    expect(stages.map((s) => s[0]![1])).toEqual(['node:24-slim AS build', 'node:24-slim']);
    const final = stages.at(-1)!;
    expect(final.filter(([k]) => k === 'RUN')).toEqual([]); // nothing installed or built outside the proven steps
    const cmd = final.find(([k]) => k === 'CMD')![1];
    expect(JSON.parse(cmd)).toEqual(['node', 'dist/node.js']);
    expect(smoke).toMatch(/\n\s*node dist\/node\.js /);
    const user = final.findIndex(([k, a]) => k === 'USER' && a === 'node');
    expect(user).toBeGreaterThan(-1);
    expect(user).toBeLessThan(final.findIndex(([k]) => k === 'CMD'));
    expect(final.filter(([k]) => k === 'COPY').map(([, a]) => a)).toEqual([
      '--from=build /app/package.json ./',
      '--from=build /app/node_modules ./node_modules',
      '--from=build /app/dist ./dist',
      // bin/cli.mjs runs the operator tools from dist/ (npm run token, npm run tenants): the smoke script runs them the same way.
      '--from=build /app/bin ./bin',
    ]);
    expect(smoke).toMatch(/npm run -s tenants -- check/);
    expect(final).toContainEqual(['EXPOSE', '8787']);
    expect(final.find(([k]) => k === 'ENV')![1]).toMatch(/HOST=0\.0\.0\.0/);
  });

  it('.dockerignore keeps local secrets and build output out of the context', () => {
    for (const entry of ['.env', '.dev.vars', 'node_modules', 'dist', '.git']) expect(dockerignore).toContain(entry);
  });

  describe('its HEALTHCHECK command', () => {
    const start = serverPool();
    const healthcheck = JSON.parse(/CMD (\[.*\])$/.exec(stages.at(-1)!.find(([k]) => k === 'HEALTHCHECK')![1])![1]!) as string[];
    const run = (port: number) =>
      promisify(execFile)(healthcheck[0] === 'node' ? process.execPath : healthcheck[0]!, healthcheck.slice(1), { env: { PATH: process.env.PATH, PORT: String(port) }, timeout: 10_000 }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );

    it('uses node (the slim image has no curl) and passes against a serving server', async () => {
      expect(healthcheck[0]).toBe('node');
      const server = await start({});
      expect(await run(server.port)).toBe(0);
    });

    it('fails when nothing serves', async () => {
      expect(await run(await freePort())).toBe(1);
    });
  });
});
