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
await client.close();
