/**
 * Cloudflare Workers entry: builds the config from the Worker's env bindings (the same variable
 * names as on Node; keys as Workers secrets) and the app once per isolate, not per request.
 */
import { createApp, type InviteServer } from './app.js';
import { ConfigError, loadConfig } from './config.js';

type WorkerEnv = Record<string, unknown>;

let built: { server: InviteServer } | { error: string } | undefined;

function build(env: WorkerEnv): { server: InviteServer } | { error: string } {
  // Only string bindings are configuration; KV namespaces and other bindings are objects.
  const vars: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') vars[name] = value;
  try {
    const config = loadConfig(vars);
    if (config.localMode) {
      throw new ConfigError(
        'No AUTH_JWT_SECRET, AUTH_PUBLIC_KEY or AUTH_JWKS_URL is set. Local mode exists only on Node; on Workers set one ' +
          '(e.g. `wrangler secret put AUTH_JWT_SECRET`, or AUTH_JWT_SECRET in .dev.vars for wrangler dev).',
      );
    }
    return { server: createApp(config) };
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(JSON.stringify({ level: 'error', event: 'config.invalid', message: err.message }));
      return { error: err.message };
    }
    throw err;
  }
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: unknown): Response | Promise<Response> {
    built ??= build(env);
    if ('error' in built) {
      return Response.json({ error: 'server_misconfigured', error_description: `Configuration error: ${built.error}` }, { status: 503 });
    }
    return built.server.fetch(request, env, ctx);
  },
};
