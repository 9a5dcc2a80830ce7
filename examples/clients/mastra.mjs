// Mastra (@mastra/mcp): listTools() gives Mastra tools named <server>_<tool>. execute() returns
// the structured result; a tool error is thrown (a MastraError carrying the server's message).
import { MCPClient } from '@mastra/mcp';

const { MCP_URL, MCP_TOKEN, EMAIL } = process.env;
const mcp = new MCPClient({
  servers: { portkey: { url: new URL(MCP_URL), requestInit: { headers: { Authorization: `Bearer ${MCP_TOKEN}` } } } },
});
const tools = await mcp.listTools();
console.log(JSON.stringify({ step: 'tools', tools: Object.keys(tools) }));
const invite = tools.portkey_invite_user;
const args = { email: EMAIL, role: 'member', workspaces: [] };
const ok = await invite.execute(args);
console.log(JSON.stringify({ step: 'invite', invite_id: (ok.structuredContent ?? ok)?.invite_id }));
try {
  await invite.execute(args);
  console.log(JSON.stringify({ step: 'again', isError: false }));
} catch (err) {
  console.log(JSON.stringify({ step: 'again', isError: true, message: err.message }));
}
await mcp.disconnect();
