// Vercel AI SDK (@ai-sdk/mcp): tools() gives AI SDK tools; execute() returns the MCP result,
// a tool error as a value with isError: true.
import { createMCPClient } from '@ai-sdk/mcp';

const { MCP_URL, MCP_TOKEN, EMAIL } = process.env;
const client = await createMCPClient({ transport: { type: 'http', url: MCP_URL, headers: { Authorization: `Bearer ${MCP_TOKEN}` } } });
const tools = await client.tools();
console.log(JSON.stringify({ step: 'tools', tools: Object.keys(tools) }));
const args = { email: EMAIL, role: 'member', workspaces: [] };
const options = { toolCallId: 'call-1', messages: [] };
const ok = await tools.invite_user.execute(args, options);
console.log(JSON.stringify({ step: 'invite', invite_id: ok.structuredContent?.invite_id }));
const again = await tools.invite_user.execute(args, { ...options, toolCallId: 'call-2' });
console.log(JSON.stringify({ step: 'again', isError: again.isError, message: again.content[0].text }));
await client.close();
