// LangChain.js (@langchain/mcp-adapters): getTools() gives LangChain tools for an agent. A tool
// error is thrown as a ToolException carrying the server's message (throwOnError, the default).
import { MultiServerMCPClient } from '@langchain/mcp-adapters';

const { MCP_URL, MCP_TOKEN, EMAIL } = process.env;
const client = new MultiServerMCPClient({
  mcpServers: { portkey: { transport: 'http', url: MCP_URL, headers: { Authorization: `Bearer ${MCP_TOKEN}` } } },
});
const tools = await client.getTools();
console.log(JSON.stringify({ step: 'tools', tools: tools.map((t) => t.name) }));
const invite = tools.find((t) => t.name.endsWith('invite_user'));
const args = { email: EMAIL, role: 'member', workspaces: [] };
const ok = await invite.invoke(args);
const text = typeof ok === 'string' ? ok : JSON.stringify(ok);
console.log(JSON.stringify({ step: 'invite', invite_id: /"invite_id":"([^"]+)"/.exec(text.replace(/\\"/g, '"'))?.[1] }));
try {
  await invite.invoke(args);
  console.log(JSON.stringify({ step: 'again', isError: false }));
} catch (err) {
  console.log(JSON.stringify({ step: 'again', isError: true, message: err.message }));
}
await client.close();
