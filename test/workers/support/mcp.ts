/** Helpers for driving the real Worker default export inside workerd; what is not about the Worker entry comes from the shared harness (test/support/common.ts). */
import { exports } from 'cloudflare:workers';
import { SignJWT } from 'jose';
import { MCP_URL, SECRETS } from './bindings.js';
import { rememberSecret, rememberResponse } from './observed.js';

export interface TokenOptions {
  scope?: string;
  sub?: string;
  iss?: string;
  claims?: Record<string, unknown>;
}

/** An HS256 token the Worker accepts (scope portkey.invite, audience PUBLIC_URL + /mcp). */
export async function mintToken(o: TokenOptions = {}): Promise<string> {
  let jwt = new SignJWT({ scope: o.scope ?? 'portkey.invite', ...o.claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(o.sub ?? 'alice')
    .setAudience(MCP_URL)
    .setIssuedAt()
    .setExpirationTime('10m');
  if (o.iss) jwt = jwt.setIssuer(o.iss);
  const token = await jwt.sign(new TextEncoder().encode(SECRETS.jwtSecret));
  rememberSecret(token);
  return token;
}

export interface WorkerResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** Any request through the Worker's own fetch handler (`exports.default.fetch`). */
export async function workerFetch(url: string, init?: RequestInit): Promise<WorkerResponse> {
  const res = await exports.default.fetch(new Request(url, init));
  const text = await res.text();
  rememberResponse(`${res.status} ${JSON.stringify([...res.headers])} ${text}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A raw JSON-RPC POST to /mcp; `bearer: null` sends no Authorization header. */
export function postMcp(body: unknown, bearer: string | null, headers: Record<string, string> = {}): Promise<WorkerResponse> {
  return workerFetch(MCP_URL, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }),
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

export const rpc = (method: string, params?: unknown, id = 1) => ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });

export { inviteCall, resultText } from '../../support/common.js';
