import type { Hono } from 'hono';

/**
 * Paths an MCP client probes when it tries OAuth on its own (MCP authorization §2.3: RFC 8414
 * and OpenID discovery, then dynamic client registration RFC 7591, authorize and token). When
 * no authorization server is configured this server takes only a bearer token, and says so,
 * instead of a bare "No route for POST /register" that a client would show as is.
 */
const PROBED = [
  '/.well-known/oauth-authorization-server',
  '/.well-known/oauth-authorization-server/*',
  '/.well-known/openid-configuration',
  '/.well-known/openid-configuration/*',
  '/register',
  '/authorize',
  '/token',
];

export const NO_OAUTH_DESCRIPTION =
  'This server does not run OAuth: send a bearer token in the Authorization header ("Authorization: Bearer <JWT>"). ' +
  'README.md, section "Getting a token", explains where tokens come from.';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function answerOAuthProbes(app: Hono<any>): void {
  for (const path of PROBED) {
    app.all(path, (c) => c.json({ error: 'oauth_not_supported', error_description: NO_OAUTH_DESCRIPTION }, 404));
  }
}
