import type { Hono } from 'hono';
import { cors } from 'hono/cors';

/**
 * Paths an MCP client probes when it tries OAuth on its own (MCP authorization §2.3: RFC 8414
 * and OpenID discovery, then dynamic client registration RFC 7591, authorize and token). When
 * no authorization server is configured this server takes only a bearer token, and says so,
 * instead of a bare "No route for POST /register" that a client would show as is.
 *
 * Discovery documents answer 404: there is no such document (RFC 8414 §3), which is how clients
 * learn that no authorization server lives here. The OAuth endpoints answer 501 Not Implemented
 * (RFC 9110 §15.6.2), not 404: `mcp-remote` (how Claude Desktop reaches a server that takes a
 * bearer header) reads a 404, or the text "404" or "Not Found" anywhere in the message, as "this
 * transport does not exist", falls back to the old SSE transport and ends with "SSE error:
 * Non-200 status code (405)", so neither our 401's description nor this advice reaches the user.
 * With 501 it stops and prints this description; so the text never contains those words.
 */
const DISCOVERY = [
  '/.well-known/oauth-authorization-server',
  '/.well-known/oauth-authorization-server/*',
  '/.well-known/openid-configuration',
  '/.well-known/openid-configuration/*',
];
const ENDPOINTS = ['/register', '/authorize', '/token'];

const NO_OAUTH_DESCRIPTION =
  'This server does not run OAuth: send a bearer token in the Authorization header ("Authorization: Bearer <JWT>"). ' +
  'If you did send one, it was refused: it has expired, was issued for another audience (it must name this server\'s /mcp URL), ' +
  'or was signed by a key this server does not trust. Get a fresh token from whoever issues them for this server ' +
  '(docs/auth.md#getting-a-token; with a local server: npm run -s token -- --sub <you>) and pass it again; ' +
  'for Claude Desktop and other clients, docs/clients.md#connect-other-clients.';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function answerOAuthProbes(app: Hono<any>): void {
  const body = { error: 'oauth_not_supported', error_description: NO_OAUTH_DESCRIPTION };
  // A browser's preflight (OPTIONS, for a JSON POST to /register) must pass for it to read the answer.
  const preflight = cors({ origin: '*' });
  for (const path of [...DISCOVERY, ...ENDPOINTS]) app.use(path, preflight);
  for (const path of DISCOVERY) app.all(path, (c) => c.json(body, 404, NO_OAUTH_HEADERS));
  for (const path of ENDPOINTS) app.all(path, (c) => c.json(body, 501, NO_OAUTH_HEADERS));
}

/**
 * "No OAuth here" is true only until the operator configures an authorization server: no shared
 * cache may keep it (RFC 9111 §5.2.2.5 no-store). nosniff: it is JSON, never to be run as anything
 * else. CORS comes from the cors middleware on each of these paths: a browser-based client (the
 * Inspector's web UI) must be able to read the advice, not a CORS error; it holds nothing private.
 */
export const NO_OAUTH_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};
