// OpenAI Agents SDK (@openai/agents): an agent takes the server in `mcpServers`; here its tools are
// called directly. callToolResult() returns the MCP result, a tool error as isError: true.
import { MCPServerStreamableHttp } from '@openai/agents';

const { MCP_URL, MCP_TOKEN, EMAIL } = process.env;
const server = new MCPServerStreamableHttp({ url: MCP_URL, name: 'portkey-invite', requestInit: { headers: { Authorization: `Bearer ${MCP_TOKEN}` } } });
await server.connect();
const tools = await server.listTools();
console.log(JSON.stringify({ step: 'tools', tools: tools.map((t) => t.name) }));
const args = { email: EMAIL, role: 'member', workspaces: [] };
const ok = await server.callToolResult('invite_user', args);
console.log(JSON.stringify({ step: 'invite', invite_id: ok.structuredContent?.invite_id }));
const again = await server.callToolResult('invite_user', args);
console.log(JSON.stringify({ step: 'again', isError: again.isError, message: again.content[0].text }));
await server.close();
