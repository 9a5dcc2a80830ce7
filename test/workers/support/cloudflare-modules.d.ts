/**
 * The one workerd module the workerd suite imports, typed minimally so `npm run typecheck`
 * (types: ["node"], DOM lib) passes without @cloudflare/workers-types, whose globals clash with
 * the DOM lib. If workers-types is added later, delete this file.
 */
declare module 'cloudflare:workers' {
  /** ctx.exports of the pool's `main` Worker (src/worker.ts); on by default since 2025-11-17. */
  export const exports: { default: { fetch(request: Request): Promise<Response> } };
  /** The Worker's bindings (vitest.workers.config.ts). */
  export const env: Record<string, unknown>;
}
