/**
 * End to end on the Workers runtime as `wrangler dev` serves it (local, no account, metrics off),
 * driven by the official SDK client like the Node end-to-end tests. The vitest workerd pool
 * enables flags real Workers lack; this catches what only the real dev server would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, connectClient, freePort, inviteCall, postMcp, resultText, token } from './support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';
import { scratchDir } from './support/scratch.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
let child: ChildProcess;
let portkey: PortkeyDouble;
let mcpUrl: string;
let output = '';

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  const port = await freePort();
  const vars = {
    AUTH_JWT_SECRET: SECRETS.jwtSecret,
    PUBLIC_URL: 'http://mcp.test',
    // A Worker checks Host against PUBLIC_URL and ALLOWED_HOSTS (never loopback rules); this test
    // reaches wrangler dev at 127.0.0.1.
    ALLOWED_HOSTS: '127.0.0.1',
    PORTKEY_API_KEY: SECRETS.portkeyKey,
    PORTKEY_BASE_URL: portkey.url,
  };
  child = spawn(
    'npx',
    [
      'wrangler', 'dev', '--port', String(port), '--ip', '127.0.0.1', '--show-interactive-dev-session=false',
      '--persist-to', scratchDir('pim-wrangler-'),
      ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    ],
    {
      cwd: repo,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', CI: 'true', NO_COLOR: '1' },
      detached: true, // own process group: wrangler starts workerd, and both are stopped together
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  mcpUrl = `http://127.0.0.1:${port}/mcp`;
  const until = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
    if (Date.now() > until) throw new Error(`wrangler dev did not become ready:\n${output}`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 250));
  }
}, 90_000);

afterAll(async () => {
  if (child?.pid && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
  }
  await portkey?.close();
});

describe('wrangler dev (workerd, local)', () => {
  it('lists and calls invite_user through the SDK client, sending the exact upstream request', async () => {
    const client = await connectClient(mcpUrl, await token());
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['invite_user', 'list_invites']);
    const result = await client.callTool({ name: 'invite_user', arguments: { email: 'edge@example.com', role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] } });
    await client.close();
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(resultText(result)).message).toBe('Successfully invited edge@example.com as member');
    const [sent] = portkey.requests;
    expect(sent!.headers['x-portkey-api-key']).toBe(SECRETS.portkeyKey);
    expect(sent!.body).toEqual({ email: 'edge@example.com', role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] });
  });

  it('answers 401 with a Bearer challenge, and 405 for GET', async () => {
    const res = await postMcp(mcpUrl, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const get = await fetch(mcpUrl, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('answers 413 to a 2 MiB tools/call every time: the platform lets the client finish sending (issue 16)', async () => {
    const bearer = await token();
    const big = inviteCall({ email: 'big@example.com', role: 'member', workspaces: [], pad: 'x'.repeat(2 * 1024 * 1024) });
    for (let i = 0; i < 10; i++) {
      const res = await postMcp(mcpUrl, big, { authorization: `Bearer ${bearer}` });
      expect(res.status).toBe(413);
      expect(res.json.error.message).toMatch(/Request body too large: the limit is 1048576 bytes/);
    }
    const res = await postMcp(mcpUrl, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${bearer}` });
    expect(res.json.result.tools[0].name).toBe('invite_user');
  });

  it('logs no secret', () => {
    for (const secret of Object.values(SECRETS)) expect(output).not.toContain(secret);
  });
});
