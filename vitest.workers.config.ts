/**
 * The behaviour suite inside workerd (@cloudflare/vitest-pool-workers 0.15, vitest 4): the real
 * Worker default export (src/worker.ts) under miniflare, with the bindings set here. Run it with
 * `npm run test:workers`; `npm test` runs the Node suite, then this one.
 *
 * One project = one miniflare Worker = one set of bindings. The Worker builds its config once per
 * isolate, so a case that needs different bindings gets its own project and its own folder:
 *   test/workers/*.test.ts               project "workers"              (WORKER_BINDINGS)
 *   test/workers/with-issuer/*.test.ts   project "workers-with-issuer"  (+ AUTH_ISSUER)
 *   test/workers/kv/*.test.ts            project "workers-kv"           (TENANTS_KV, CALLER_RATE_LIMITER)
 *   test/in-process/*.test.ts            project "in-process"           (the app built by each case, as on Node)
 *
 * Adding a project with object bindings (tenants in KV, Cloudflare rate limiting), e.g.
 *   workerProject('workers-kv', 'kv', KV_BINDINGS, {               // string bindings for that mode
 *     kvNamespaces: ['TENANTS_KV'],                                  // in-memory KV
 *     ratelimits: {                                                  // period: 10 or 60 (s)
 *       TENANT_RATE_LIMITER: { simple: { limit: 5, period: 60 } },
 *       CALLER_RATE_LIMITER: { simple: { limit: 2, period: 60 } },
 *     },
 *   }),
 * then put its tests in test/workers/kv/ and seed KV from a test with
 *   import { env } from 'cloudflare:workers';
 *   await (env.TENANTS_KV as KVNamespace).put('acme', JSON.stringify({ ... }));
 * (type `env` as you need; see support/cloudflare-modules.d.ts). String bindings are configuration
 * (src/worker.ts hands them to loadConfig); object bindings are picked up by name.
 *
 * Deliberately NOT `wrangler: { configPath: './wrangler.toml' }`: wrangler would also load a
 * developer's .dev.vars (or .env) into the bindings, so results would depend on local files. Only
 * compatibility_date and compatibility_flags come from wrangler.toml, so tests and deploy agree.
 * The pool itself adds nodejs_compat_v2 (and a few node module flags) to its runner Worker: that
 * is how vitest runs inside workerd, and it is not in wrangler.toml, so a Worker that imported a
 * node:* module would pass here and fail on deploy (`wrangler deploy --dry-run` catches that).
 */
import { readFileSync } from 'node:fs';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import type { Plugin } from 'vite';
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { ISSUER, KV_BINDINGS, WORKER_BINDINGS } from './test/workers/support/bindings.js';

// Offline by default: no usage metrics, no fetch of request.cf data from Cloudflare. The caller's
// environment still wins.
process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

/** compatibility_date / compatibility_flags from wrangler.toml, so tests and deploy agree. */
function wranglerCompat(): { compatibilityDate: string; compatibilityFlags: string[] } {
  const toml = readFileSync(new URL('./wrangler.toml', import.meta.url), 'utf8');
  const date = /^\s*compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml)?.[1];
  if (!date) throw new Error('vitest.workers.config.ts: no compatibility_date found in wrangler.toml');
  const flags = /^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1];
  return { compatibilityDate: date, compatibilityFlags: flags ? [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]!) : [] };
}

/**
 * The pool inlines dependencies through Vite, and @modelcontextprotocol/sdk ships source maps
 * whose sources are not in the package: one harmless warning per module. Drop just those.
 * (Vitest replaces `customLogger` with its own, so this wraps the resolved logger instead.)
 */
const quietMissingSourcemaps: Plugin = {
  name: 'quiet-missing-sourcemaps',
  configResolved({ logger }) {
    const warnOnce = logger.warnOnce.bind(logger);
    logger.warnOnce = (msg, options) => {
      if (/^Sourcemap for ".*" points to missing source files$/.test(msg)) return;
      warnOnce(msg, options);
    };
  },
};

type MiniflareOptions = NonNullable<Exclude<Parameters<typeof cloudflareTest>[0], Function>['miniflare']>;

/**
 * A project running src/worker.ts with `bindings` (string bindings) and any further miniflare
 * options (kvNamespaces, ratelimits, ...). `dir` is its folder under test/workers/, or '' for the
 * top-level files of test/workers/.
 */
function workerProject(
  name: string,
  dir: string,
  bindings: Record<string, string>,
  miniflare: MiniflareOptions = {},
  files: { include: string; setupFile: string } = {
    include: dir ? `test/workers/${dir}/**/*.test.ts` : 'test/workers/*.test.ts',
    setupFile: 'test/workers/support/setup.ts',
  },
): TestProjectInlineConfiguration {
  return {
    plugins: [
      quietMissingSourcemaps,
      cloudflareTest({
        main: './src/worker.ts',
        miniflare: {
          ...wranglerCompat(),
          bindings,
          // Safety net: an outbound fetch no test faked (support/fake-portkey.ts) gets a 599 here
          // instead of reaching the network, so the suite is deterministic and offline.
          outboundService: (request: Request) =>
            new Response(`vitest.workers.config.ts: unexpected outbound request ${request.method} ${request.url}`, { status: 599 }),
          ...miniflare,
        },
      }),
    ],
    test: {
      name,
      include: [files.include],
      exclude: [...configDefaults.exclude],
      setupFiles: [files.setupFile],
      restoreMocks: true,
      testTimeout: 20_000,
      hookTimeout: 30_000,
    },
  };
}

export default defineConfig({
  test: {
    // The Worker logs one JSON line per request: show them only for failing tests.
    silent: 'passed-only',
    projects: [
      workerProject('workers', '', WORKER_BINDINGS),
      workerProject('workers-with-issuer', 'with-issuer', { ...WORKER_BINDINGS, AUTH_ISSUER: ISSUER }),
      workerProject('workers-kv', 'kv', KV_BINDINGS, {
        kvNamespaces: ['TENANTS_KV'],
        ratelimits: { CALLER_RATE_LIMITER: { simple: { limit: 2, period: 60 } } },
      }),
      // The cases both runtimes run: the app through its own fetch (test/in-process/, also in the Node suite).
      workerProject('in-process', '', WORKER_BINDINGS, {}, { include: 'test/in-process/**/*.test.ts', setupFile: 'test/in-process/setup-workerd.ts' }),
    ],
  },
});
