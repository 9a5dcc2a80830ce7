// mcp-remote, as Claude Desktop runs it (claude_desktop_config.json):
//   "command": "npx", "args": ["mcp-remote", "<url>", "--header", "Authorization:${AUTH_HEADER}"],
//   "env": { "AUTH_HEADER": "Bearer <token>" }
// mcp-remote puts the env value in the header (no space in the argument, so Windows' argument
// splitting cannot break it). Here it is driven over stdio as Claude Desktop drives it.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const { MCP_URL, MCP_TOKEN, EMAIL } = process.env;
const proxy = createRequire(import.meta.url).resolve('mcp-remote/dist/proxy.js');
const child = spawn(process.execPath, [proxy, MCP_URL, '--header', 'Authorization:${AUTH_HEADER}'], {
  env: { ...process.env, AUTH_HEADER: `Bearer ${MCP_TOKEN}` },
  stdio: ['pipe', 'pipe', 'pipe'],
});
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
let buffer = '';
const waiting = new Map();
child.stdout.on('data', (d) => {
  buffer += d;
  for (let i; (i = buffer.indexOf('\n')) >= 0; ) {
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    if (!line.trim()) continue;
    const message = JSON.parse(line);
    waiting.get(message.id)?.(message);
  }
});
const exited = new Promise((resolve) => child.on('exit', resolve));
let nextId = 1;
const request = (method, params) =>
  Promise.race([
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    }),
    exited.then(() => {
      // mcp-remote gave up: its last words are what Claude Desktop's log shows.
      const fatal = stderr.split('\n').filter((l) => /Fatal error|Error/.test(l)).at(-1) ?? stderr.trim().split('\n').at(-1);
      console.log(JSON.stringify({ step: 'refused', message: fatal }));
      process.exit(0);
    }),
  ]);

await request('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'example', version: '1.0.0' } });
child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
const list = await request('tools/list', {});
console.log(JSON.stringify({ step: 'tools', tools: list.result.tools.map((t) => t.name) }));
const args = { email: EMAIL, role: 'member', workspaces: [] };
const ok = await request('tools/call', { name: 'invite_user', arguments: args });
console.log(JSON.stringify({ step: 'invite', invite_id: ok.result.structuredContent?.invite_id }));
const again = await request('tools/call', { name: 'invite_user', arguments: args });
console.log(JSON.stringify({ step: 'again', isError: again.result.isError, message: again.result.content[0].text }));
child.kill();
