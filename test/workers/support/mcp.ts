/** Helpers for driving the real Worker default export inside workerd; what is not about the Worker entry comes from the shared harness (test/support/common.ts). */
import { exports } from 'cloudflare:workers';
import { SignJWT } from 'jose';
import { MCP_URL, SECRETS } from './bindings.js';
import { rememberSecret } from './observed.js';
import { answerOf, mcpHelpers, type Answer } from '../../support/common.js';

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

export type WorkerResponse = Answer;

/** The shared helpers over the Worker's own fetch handler (`exports.default.fetch`): every answer is recorded. */
const helpers = mcpHelpers((input, init) => exports.default.fetch(new Request(input, init)));

/** Any request through the Worker's own fetch handler. */
export async function workerFetch(url: string, init?: RequestInit): Promise<WorkerResponse> {
  return answerOf(await helpers.recordingFetch(url, init));
}

/** A raw JSON-RPC POST to /mcp; `bearer: null` sends no Authorization header. */
export function postMcp(body: unknown, bearer: string | null, headers: Record<string, string> = {}): Promise<WorkerResponse> {
  return helpers.postMcp(MCP_URL, body, { ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }), ...headers });
}

export const rpc = (method: string, params?: unknown, id = 1) => ({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });

export { inviteCall, resultText } from '../../support/common.js';
