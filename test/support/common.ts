/**
 * What every harness shares, on either runtime (no Node module here): the distinctive secrets, the
 * record of what a test file saw (checked for leaks after each file), tokens, and the MCP helpers
 * over whichever fetch reaches the server: a socket (./harness.ts) or the app's own fetch
 * (test/in-process/harness.ts).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SignJWT, type JWTPayload } from 'jose';

/** Distinctive secrets: any appearance of one in a response or a log line is a leak. */
export const SECRETS = {
  portkeyKey: 'pk-admin-SECRET-7f3a9c2e1b4d',
  otherTenantKey: 'pk-admin-OTHER-SECRET-5e8d1a',
  workspaceKey: 'pk-ws-SECRET-a1b2c3',
  jwtSecret: 'jwt-secret-SECRET-0123456789abcdef0123456789abcdef',
};

export const PUBLIC_URL = 'http://mcp.test';
export const RESOURCE = `${PUBLIC_URL}/mcp`;

/** Everything the tests observed, checked for secrets after each file (setup files). */
export const observed = { logLines: [] as string[], responses: [] as string[], secrets: new Set<string>(Object.values(SECRETS)) };

export function rememberSecret(value: string): void {
  observed.secrets.add(value);
}

/** Rate limits are off unless a test turns them on; a test's env adds to and overrides this. */
export function testEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return {
    HOST: '127.0.0.1',
    PORT: '0',
    PUBLIC_URL,
    AUTH_JWT_SECRET: SECRETS.jwtSecret,
    RATE_LIMIT_TENANT_PER_MINUTE: '0',
    RATE_LIMIT_CALLER_PER_MINUTE: '0',
    ...env,
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

export interface McpHelpers {
  /** A fetch that records every response body and header the client sees. */
  recordingFetch: typeof fetch;
  /** The official SDK client, connected (initialize + initialized) with a bearer token. */
  connectClient(mcpUrl: string, bearer: string): Promise<Client>;
  /** A raw JSON-RPC POST to /mcp, for the HTTP-level cases the SDK client would never send. */
  postMcp(mcpUrl: string, body: unknown, headers?: Record<string, string>): Promise<Answer>;
}

export function mcpHelpers(reach: typeof fetch): McpHelpers {
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await reach(input, init);
    const text = await res.clone().text();
    observed.responses.push(`${res.status} ${JSON.stringify([...res.headers])} ${text}`);
    return res;
  };
  return {
    recordingFetch,
    async connectClient(mcpUrl, bearer) {
      const client = new Client({ name: 'test-client', version: '1.0.0' });
      const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
        requestInit: { headers: { Authorization: `Bearer ${bearer}` } },
        fetch: recordingFetch,
      });
      await client.connect(transport);
      return client;
    },
    async postMcp(mcpUrl, body, headers = {}) {
      const res = await recordingFetch(mcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      return answerOf(res);
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/** A response read whole: its status, headers, text, and the text as JSON when it is. */
export async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}
