/**
 * The floor: a minimal Hono app on @hono/node-server that parses the same JSON body and forwards
 * the same upstream POST with the same fetch client (Node's global fetch), and nothing else: no
 * auth, no validation, no MCP, no logging. No MCP server can beat it; our ratio to it is what our
 * layers cost.
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

const upstream = `${requireEnv('PORTKEY_BASE_URL').replace(/\/+$/, '')}/admin/users/invites`;
const apiKey = requireEnv('PORTKEY_API_KEY');

const { inputSchema, outputSchema, ...rest } = inviteUserDefinition;
const tools = {
  tools: [{ name: INVITE_USER, ...rest, inputSchema: z.toJSONSchema(inputSchema), outputSchema: z.toJSONSchema(outputSchema) }],
};

type Message = { jsonrpc: '2.0'; id: string | number; method: string; params?: { name?: string; arguments?: InviteArgs } };

const app = new Hono();
app.post('/mcp', async (c) => {
  const m = await c.req.json<Message>();
  if (m.method === 'tools/list') return c.json({ jsonrpc: '2.0', id: m.id, result: tools });
  const args = m.params!.arguments!;
  const res = await fetch(upstream, {
    method: 'POST',
    headers: { 'x-portkey-api-key': apiKey, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(inviteBody(args)),
  });
  const created = JSON.parse(await res.text()) as { id: string; invite_link: string };
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

serve({ fetch: app.fetch, port: envPort(), hostname: '127.0.0.1' }, (info: AddressInfo) => announceReady('floor', info.port));
