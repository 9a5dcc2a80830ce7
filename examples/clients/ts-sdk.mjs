// The TypeScript SDK (@modelcontextprotocol/sdk): an isError result comes back as a value.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const { MCP_URL, MCP_TOKEN, EMAIL } = process.env;
const client = new Client({ name: 'example', version: '1.0.0' });
await client.connect(
  new StreamableHTTPClientTransport(new URL(MCP_URL), { requestInit: { headers: { Authorization: `Bearer ${MCP_TOKEN}` } } }),
);
const { tools } = await client.listTools();
console.log(JSON.stringify({ step: 'tools', tools: tools.map((t) => t.name) }));
const args = { email: EMAIL, role: 'member', workspaces: [] };
const ok = await client.callTool({ name: 'invite_user', arguments: args });
console.log(JSON.stringify({ step: 'invite', invite_id: ok.structuredContent?.invite_id }));
const again = await client.callTool({ name: 'invite_user', arguments: args });
console.log(JSON.stringify({ step: 'again', isError: again.isError, message: again.content[0].text }));
// The rest of an invite's life: find it, then cancel it (cancel_invite is exposed where the operator allows it).
const listed = await client.callTool({ name: 'list_invites', arguments: { email: EMAIL } });
const found = listed.structuredContent?.invites ?? [];
console.log(JSON.stringify({ step: 'list', invite_ids: found.map((i) => i.invite_id), left_out: listed.structuredContent?.left_out }));
const cancelled = await client.callTool({ name: 'cancel_invite', arguments: { invite_id: found[0]?.invite_id } });
console.log(JSON.stringify({ step: 'cancel', isError: cancelled.isError ?? false, status: cancelled.structuredContent?.status }));
await client.close();
