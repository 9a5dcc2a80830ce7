/**
 * The in-process harness: the app (src/app.ts, createApp) answered through its own `fetch`, with
 * no socket, on Node and in workerd alike. Same interface as the socket harness
 * (test/support/harness.ts) for what does not depend on a socket, so a case file moves between
 * them by its imports. One fixture for the usual trio, a Portkey double, a server and a token:
 * `portkeyServer()`.
 */
import { afterAll } from 'vitest';
import { createApp, type AppDeps } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { createFetchTransport } from '../../src/portkey/fetch-transport.js';
import { loadConfig, type Config } from '../../src/server-config.js';
import { mcpHelpers, observed, SECRETS, testEnv, token, type TokenOptions } from '../support/common.js';
import { inProcessFetch, listen } from './network.js';
import { startPortkeyDouble, type PortkeyDouble } from './portkey-double.js';

export { SECRETS, PUBLIC_URL, RESOURCE, observed, rememberSecret, token, inviteCall, resultText, type TokenOptions } from '../support/common.js';

/** Through the in-process network. */
export const { recordingFetch, connectClient, postMcp } = mcpHelpers(inProcessFetch);

export interface TestServer {
  /** A loopback origin on the in-process network (no socket). */
  url: string;
  mcpUrl: string;
  config: Config;
  logs: string[];
  /** Parsed JSON log lines with the given event name. */
  events(name: string): Record<string, unknown>[];
  /** The deadline a socket server would give connections in flight means nothing here. */
  close(deadlineMs?: number): Promise<void>;
}

/** The app from `env` (over the test defaults), its Portkey calls going over the in-process network unless deps say otherwise. */
export async function startTestServer(env: Record<string, string | undefined>, deps: AppDeps = {}): Promise<TestServer> {
  const config = loadConfig(testEnv(env));
  const logs: string[] = [];
  const logger = createLogger((line) => {
    logs.push(line);
    observed.logLines.push(line);
  }, config.logLevel);
  // The address a socket would report: the caller is on this machine.
  const app = createApp(config, { logger, transport: createFetchTransport(inProcessFetch), socketAddress: () => '127.0.0.1', ...deps });
  const server = listen((request) => app.fetch(request));
  return {
    url: server.url,
    mcpUrl: `${server.url}/mcp`,
    config,
    logs,
    events: (name) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === name),
    close: async (_deadlineMs?: number) => server.close(),
  };
}

/** Like startTestServer, but every server it starts is closed after the file. */
export function serverPool(): (env: Record<string, string | undefined>, deps?: AppDeps) => Promise<TestServer> {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });
  return async (env, deps) => {
    const s = await startTestServer(env, deps);
    servers.push(s);
    return s;
  };
}

export interface PortkeyServer {
  portkey: PortkeyDouble;
  server: TestServer;
  /** A token for this server (portkey.invite unless told otherwise). */
  token(o?: TokenOptions): Promise<string>;
  close(): Promise<void>;
}

/** The usual trio: a Portkey double holding SECRETS.portkeyKey, a server using it for one tenant, and tokens for it. */
export async function portkeyServer(env: Record<string, string | undefined> = {}, deps: AppDeps = {}): Promise<PortkeyServer> {
  const portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey, SECRETS.otherTenantKey], workspaceKeys: [SECRETS.workspaceKey] });
  const server = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url, ...env }, deps);
  return { portkey, server, token, close: async () => (await server.close(), await portkey.close()) };
}

export { startPortkeyDouble };
