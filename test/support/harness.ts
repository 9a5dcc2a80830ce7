/**
 * Test harness: the real Node server on a loopback port, driven by the official MCP SDK client,
 * with every log line and every response the tests see recorded, so that the secret check in
 * setup.ts can assert that no key or token ever leaked.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll } from 'vitest';
import { loadConfig, type Config } from '../../src/server-config.js';
import { createLogger } from '../../src/log.js';
import { startNodeServer, type NodeServerTimeouts, type RunningServer } from '../../src/node.js';
import type { AppDeps } from '../../src/app.js';
import { createFetchTransport } from '../../src/portkey/fetch-transport.js';
import type { HttpTransport } from '../../src/portkey/transport.js';
import { createUndiciTransport } from '../../src/node/undici-transport.js';

/** Distinctive secrets: any appearance of one in a response or a log line is a leak. */
export const SECRETS = {
  portkeyKey: 'pk-admin-SECRET-7f3a9c2e1b4d',
  otherTenantKey: 'pk-admin-OTHER-SECRET-5e8d1a',
  workspaceKey: 'pk-ws-SECRET-a1b2c3',
  jwtSecret: 'jwt-secret-SECRET-0123456789abcdef0123456789abcdef',
};

export const PUBLIC_URL = 'http://mcp.test';
export const RESOURCE = `${PUBLIC_URL}/mcp`;

/** Everything the tests observed, checked for secrets after each file (see setup.ts). */
export const observed = { logLines: [] as string[], responses: [] as string[], secrets: new Set<string>(Object.values(SECRETS)) };

export function rememberSecret(value: string): void {
  observed.secrets.add(value);
}

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
  // Rate limits are off unless a test turns them on (test/rate-limit.test.ts does).
  const config = loadConfig({
    HOST: '127.0.0.1',
    PORT: '0',
    PUBLIC_URL,
    AUTH_JWT_SECRET: SECRETS.jwtSecret,
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
    RATE_LIMIT_CALLER_PER_MINUTE: '0',
    ...env,
  });
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

export interface TokenOptions {
  secret?: string;
  alg?: string;
  /** null: a token without `sub`. */
  sub?: string | null;
  scope?: string | undefined;
  aud?: string | string[];
  iss?: string;
  expiresIn?: string | number;
  claims?: JWTPayload;
}

/** An HS256 token the default test server accepts; every part can be overridden. */
export async function token(o: TokenOptions = {}): Promise<string> {
  const scope = 'scope' in o ? o.scope : 'portkey.invite';
  let jwt = new SignJWT({ ...(scope !== undefined ? { scope } : {}), ...o.claims })
    .setProtectedHeader({ alg: o.alg ?? 'HS256', typ: 'JWT' })
    .setAudience(o.aud ?? RESOURCE)
    .setIssuedAt();
  if (o.sub !== null) jwt = jwt.setSubject(o.sub ?? 'alice');
  if (o.expiresIn !== undefined) jwt = jwt.setExpirationTime(o.expiresIn);
  else jwt = jwt.setExpirationTime('10m');
  if (o.iss) jwt = jwt.setIssuer(o.iss);
  const t = await jwt.sign(new TextEncoder().encode(o.secret ?? SECRETS.jwtSecret));
  rememberSecret(t);
  return t;
}

/** A fetch that records every response body and header the client sees. */
export const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const text = await res.clone().text();
  observed.responses.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`);
  return res;
};

/** The official SDK client, connected (initialize + initialized) with a bearer token. */
export async function connectClient(mcpUrl: string, bearer: string): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
    fetch: recordingFetch,
  });
  await client.connect(transport);
  return client;
}

/** A raw JSON-RPC POST to /mcp, for the HTTP-level cases the SDK client would never send. */
export async function postMcp(
  mcpUrl: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const res = await recordingFetch(mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const inviteCall = (args: Record<string, unknown>, id = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'invite_user', arguments: args },
});

/** The text of a tool result's first content block. */
export function resultText(result: unknown): string {
  const r = result as { content?: { type: string; text?: string }[] };
  return r.content?.[0]?.text ?? '';
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
