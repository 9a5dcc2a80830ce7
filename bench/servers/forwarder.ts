/**
 * The floors' shared body: a minimal Hono app on @hono/node-server that parses the same JSON
 * body and forwards the same upstream POST, and nothing else: no auth, no validation, no MCP, no
 * logging. No MCP server doing real work can be cheaper per call than the same forwarder with the
 * same HTTP client. The floors differ only in `post`, the upstream call.
 *
 * tools/list is answered with a JSON-RPC result serialised per request from a tool list built
 * once at start-up (the same tool definition and JSON Schemas), so the floor's response is the
 * same size as an MCP server's.
 *
 * Env: PORT, PORTKEY_BASE_URL, PORTKEY_API_KEY.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { inviteUserDefinition, INVITE_USER } from '../../src/tools/invite-user.js';
import { announceReady, envPort, inviteBody, requireEnv, type InviteArgs } from './common.js';

/** Sends the invite upstream; resolves to Portkey's response body. */
export type UpstreamPost = (url: URL, headers: Record<string, string>, body: string) => Promise<string>;

type Message = { jsonrpc: '2.0'; id: string | number; method: string; params?: { name?: string; arguments?: InviteArgs } };

export function serveForwarder(name: string, post: UpstreamPost): void {
  const upstream = new URL(`${requireEnv('PORTKEY_BASE_URL').replace(/\/+$/, '')}/admin/users/invites`);
  const headers = { 'x-portkey-api-key': requireEnv('PORTKEY_API_KEY'), 'content-type': 'application/json', accept: 'application/json' };

  const { inputSchema, outputSchema, ...rest } = inviteUserDefinition;
  const tools = {
    tools: [{ name: INVITE_USER, ...rest, inputSchema: z.toJSONSchema(inputSchema), outputSchema: z.toJSONSchema(outputSchema) }],
  };

  const app = new Hono();
  app.post('/mcp', async (c) => {
    const m = await c.req.json<Message>();
    if (m.method === 'tools/list') return c.json({ jsonrpc: '2.0', id: m.id, result: tools });
    const args = m.params!.arguments!;
    const created = JSON.parse(await post(upstream, headers, JSON.stringify(inviteBody(args)))) as { id: string; invite_link: string };
    const text = JSON.stringify({ message: `Successfully invited ${args.email} as ${args.role}`, invite_id: created.id, invite_link: created.invite_link });
    return c.json({
      jsonrpc: '2.0',
      id: m.id,
      result: {
        content: [{ type: 'text', text }],
        structuredContent: {
          invite_id: created.id,
          invite_link: created.invite_link,
          email: args.email,
          role: args.role,
          workspaces: args.workspaces,
          api_key_requested: args.workspace_api_key_details !== undefined,
        },
      },
    });
  });

  serve({ fetch: app.fetch, port: envPort(), hostname: '127.0.0.1' }, (info: AddressInfo) => announceReady(name, info.port));
}
