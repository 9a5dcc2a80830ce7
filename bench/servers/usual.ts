/**
 * The usual way: what the MCP SDK's own examples teach, i.e. what a user would write instead of
 * adopting us. Express through the SDK's createMcpExpressApp() (DNS-rebinding Host check and
 * express.json()), the SDK's requireBearerAuth with a jose verifier (jwtVerify, same secret or
 * JWKS, same audience), and, as in examples/server/simpleStatelessStreamableHttp.js, a new
 * McpServer and a new StreamableHTTPServerTransport (Node, stateless, the example's default
 * SSE-framed answer) per request. The tool is the same one: same name, description, zod input
 * and output schemas (src/tools/invite-user*.ts), calling the same Portkey endpoint with fetch.
 * What it leaves out that ours does: request/audit logging, tenant resolution, policy, rate
 * limiting, upstream error mapping, Origin checks, CORS, body limits, step-up.
 *
 * Env: PORT, PUBLIC_URL, PORTKEY_BASE_URL, PORTKEY_API_KEY, and AUTH_JWT_SECRET, or
 * AUTH_JWKS_URL + AUTH_ISSUER.
 */
import type { Request, Response } from 'express';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { AddressInfo } from 'node:net';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { inviteUserDefinition, INVITE_USER } from '../../src/tools/invite-user.js';
import { announceReady, envPort, inviteBody, requireEnv } from './common.js';

const upstream = `${requireEnv('PORTKEY_BASE_URL').replace(/\/+$/, '')}/admin/users/invites`;
const apiKey = requireEnv('PORTKEY_API_KEY');
const audience = `${requireEnv('PUBLIC_URL').replace(/\/+$/, '')}/mcp`;
const jwksUrl = process.env.AUTH_JWKS_URL;
const issuer = process.env.AUTH_ISSUER;

const verify: (token: string) => Promise<{ payload: JWTPayload }> = jwksUrl
  ? ((jwks) => (token) => jwtVerify(token, jwks, { audience, issuer }))(createRemoteJWKSet(new URL(jwksUrl)))
  : ((secret) => (token) => jwtVerify(token, secret, { audience, algorithms: ['HS256'] }))(new TextEncoder().encode(requireEnv('AUTH_JWT_SECRET')));

const verifier = {
  async verifyAccessToken(token: string): Promise<AuthInfo> {
    let payload: JWTPayload;
    try {
      ({ payload } = await verify(token));
    } catch (err) {
      throw new InvalidTokenError(err instanceof Error ? err.message : 'Invalid token');
    }
    return {
      token,
      clientId: typeof payload.client_id === 'string' ? payload.client_id : String(payload.sub ?? ''),
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
      expiresAt: payload.exp,
    };
  },
};

const getServer = () => {
  const server = new McpServer({ name: 'portkey-invite-usual', version: '1.0.0' });
  server.registerTool(INVITE_USER, inviteUserDefinition, async (args) => {
    const res = await fetch(upstream, {
      method: 'POST',
      headers: { 'x-portkey-api-key': apiKey, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(inviteBody(args)),
    });
    if (!res.ok) {
      return { content: [{ type: 'text' as const, text: `Portkey refused the invite (HTTP ${res.status}): ${await res.text()}` }], isError: true };
    }
    const created = (await res.json()) as { id: string; invite_link: string };
    const output = {
      invite_id: created.id,
      invite_link: created.invite_link,
      email: args.email,
      role: args.role,
      workspaces: args.workspaces,
      api_key_requested: args.workspace_api_key_details !== undefined,
    };
    const text = JSON.stringify({ message: `Successfully invited ${args.email} as ${args.role}`, invite_id: created.id, invite_link: created.invite_link });
    return { content: [{ type: 'text' as const, text }], structuredContent: output };
  });
  return server;
};

const app = createMcpExpressApp();
const auth = requireBearerAuth({ verifier, requiredScopes: ['portkey.invite'] });

app.post('/mcp', auth, async (req: Request, res: Response) => {
  const server = getServer();
  try {
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
  } catch {
    if (!res.headersSent) {
      res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'Internal server error' }, id: null });
    }
  }
});

const listener = app.listen(envPort(), '127.0.0.1', (error?: Error) => {
  if (error) throw error;
  announceReady('usual', (listener.address() as AddressInfo).port);
});
