/**
 * Test harness: the real Node server on a loopback port, driven by the official MCP SDK client,
 * with every log line and every response the tests see recorded, so that the secret check in
 * setup.ts can assert that no key or token ever leaked.
 */
import { afterAll } from 'vitest';
import { loadConfig, type Config } from '../../src/server-config.js';
import { createLogger } from '../../src/log.js';
import { startNodeServer, type NodeServerTimeouts, type RunningServer } from '../../src/node.js';
import type { AppDeps } from '../../src/app.js';
import { createFetchTransport } from '../../src/portkey/fetch-transport.js';
import type { HttpTransport } from '../../src/portkey/transport.js';
import { createUndiciTransport } from '../../src/node/undici-transport.js';
import { mcpHelpers, observed, testEnv } from './common.js';

export { SECRETS, PUBLIC_URL, RESOURCE, observed, rememberSecret, token, inviteCall, resultText, type TokenOptions } from './common.js';

/** Over the socket, with the global fetch. */
export const { recordingFetch, connectClient, postMcp } = mcpHelpers(fetch);

export interface TestServer extends RunningServer {
  config: Config;
  mcpUrl: string;
  logs: string[];
  /** Parsed JSON log lines with the given event name. */
  events(name: string): Record<string, unknown>[];
}

/**
 * The Portkey transports a test can run over, for `describe.each(TRANSPORTS)`. The server uses
 * undici unless told otherwise, as production Node does; pass `{ transport: make() }` to choose.
 */
export const TRANSPORTS: [name: 'undici' | 'fetch', make: () => HttpTransport][] = [
  ['undici', () => createUndiciTransport({ connectTimeoutMs: 10_000 })],
  ['fetch', () => createFetchTransport()],
];

/** Starts the real Node server; an injected `deps.transport` is closed with it. */
export async function startTestServer(
  env: Record<string, string | undefined>,
  deps: AppDeps = {},
  timeouts: Partial<NodeServerTimeouts> = {},
): Promise<TestServer> {
  const config = loadConfig(testEnv(env));
  const logs: string[] = [];
  const logger = createLogger((line) => {
    logs.push(line);
    observed.logLines.push(line);
  }, config.logLevel);
  const running = await startNodeServer(config, { logger, ...deps }, timeouts);
  return {
    ...running,
    close: async (deadlineMs) => {
      await running.close(deadlineMs);
      await deps.transport?.close?.();
    },
    config,
    mcpUrl: `${running.url}/mcp`,
    logs,
    events: (name) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === name),
  };
}

/** Like startTestServer, but every server it starts is stopped after the file, even when a test fails. */
export function serverPool(): (env: Record<string, string | undefined>, deps?: AppDeps, timeouts?: Partial<NodeServerTimeouts>) => Promise<TestServer> {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close(100)));
  });
  return async (env, deps, timeouts) => {
    const s = await startTestServer(env, deps, timeouts);
    servers.push(s);
    return s;
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
