/**
 * The embedded default, as a new user meets it: `npm start` with no configuration prints a token
 * and a command that work as printed. The server runs as a real child process (its own process
 * group, stopped by group so no orphan holds a pipe open).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { banner, startChild, waitFor } from './support/child.js';
import { connectClient, observed, resultText } from './support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';
import { scratchDir } from './support/scratch.js';

const entry = fileURLToPath(new URL('../src/node.ts', import.meta.url));
const tsx = fileURLToPath(import.meta.resolve('tsx'));
const DOTENV_KEY = 'pk-dotenv-SECRET-4242';
observed.secrets.add(DOTENV_KEY);

describe('npm start with no configuration (local mode)', () => {
  let portkey: PortkeyDouble;
  beforeAll(async () => {
    portkey = await startPortkeyDouble({ adminKeys: [DOTENV_KEY] });
  });
  afterAll(() => portkey.close());

  it('prints a working token and curl command, serves the tool, and stops cleanly on SIGTERM via npm', async () => {
    const s = startChild('npm', ['start', '--silent'], { PORT: '0' });
    await waitFor(() => s.stdout().includes('List the tools:'), 'the local-mode banner');
    const { token, url, curl } = banner(s.stdout());
    observed.secrets.add(token);
    // The URL printed is the one the token's audience names (a client checking the resource
    // against the URL it was given refuses any other spelling, such as 127.0.0.1).
    expect(url).toMatch(/^http:\/\/localhost:\d+\/mcp$/);
    expect(decodeJwt(token).aud).toBe(url);
    // The JSON line is batched per event-loop turn, so it may follow the banner a moment later.
    await waitFor(() => s.stdout().includes('"event":"server.local_mode"'), 'the server.local_mode line');
    const localModeLine = s.stdout().split('\n').find((l) => l.includes('"event":"server.local_mode"'))!;
    expect(JSON.parse(localModeLine)).toMatchObject({ level: 'info', mcp_url: url, local_secret_file: '.local-secret' });
    expect(localModeLine).not.toContain(token);

    const client = await connectClient(url, token);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['invite_user', 'list_invites']);
    // No Portkey key: the embedded sandbox answers, a real invite with its link, and says so.
    const result = await client.callTool({ name: 'invite_user', arguments: { email: 'a@example.com', role: 'member', workspaces: [] } });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ email: 'a@example.com', invite_link: expect.stringMatching(/^https:\/\/portkey-sandbox\.invalid\/invite\//) });
    const sandboxSays = (r: typeof result) => (r.content as { text: string }[]).at(-1)!.text;
    expect(sandboxSays(result)).toMatch(/^SANDBOX: .*nothing was sent to Portkey/);
    // The same email again: the sandbox refuses it as Portkey does (409 AB07), and the lookup names the invite.
    const again = await client.callTool({ name: 'invite_user', arguments: { email: 'a@example.com', role: 'member', workspaces: [] } });
    expect(again.isError).toBe(true);
    expect(resultText(again)).toMatch(/already/i);
    expect(resultText(again)).toContain((result.structuredContent as { invite_id: string }).invite_id);
    expect(sandboxSays(again)).toMatch(/^SANDBOX: /);
    await client.close();

    // The printed commands work exactly as printed.
    const { stdout } = await promisify(execFile)('sh', ['-c', curl]);
    expect(JSON.parse(stdout).result.tools[0].name).toBe('invite_user');
    const { inviteCurl } = banner(s.stdout());
    const invited = JSON.parse((await promisify(execFile)('sh', ['-c', inviteCurl!])).stdout).result;
    expect(invited.isError).toBeFalsy();
    expect(invited.structuredContent.email).toBe('ada@example.com');
    expect(invited.content.at(-1).text).toMatch(/^SANDBOX: /);

    // SIGTERM to npm itself (not the group): npm forwards it, and the server shuts down
    // gracefully rather than being orphaned.
    process.kill(s.child.pid!, 'SIGTERM');
    await s.exited;
    await waitFor(() => s.stdout().includes('"event":"server.stopped"'), 'the server to stop');
    await expect(fetch(url.replace('/mcp', '/healthz'))).rejects.toThrow();
  });

  it('reads PORTKEY_API_KEY from .env, while a real environment variable wins over .env', async () => {
    const dir = scratchDir('pim-');
    writeFileSync(join(dir, '.env'), `PORTKEY_API_KEY=${DOTENV_KEY}\nPORTKEY_BASE_URL=http://127.0.0.1:1/v1\n`);
    const s = startChild(process.execPath, ['--import', tsx, entry], { PORT: '0', PORTKEY_BASE_URL: portkey.url }, dir);
    await waitFor(() => s.stdout().includes('List the tools:'), 'the local-mode banner');
    const { token, url } = banner(s.stdout());
    observed.secrets.add(token);
    const client = await connectClient(url, token);
    const result = await client.callTool({ name: 'invite_user', arguments: { email: 'dotenv@example.com', role: 'member', workspaces: [] } });
    await client.close();
    expect(result.isError).toBeFalsy();
    expect(portkey.requests[0]!.headers['x-portkey-api-key']).toBe(DOTENV_KEY);
    process.kill(s.child.pid!, 'SIGINT');
    expect(await s.exited).toBe(0);
    expect(s.stdout()).not.toContain(DOTENV_KEY);
  });

  it('refuses to bind a non-loopback address in local mode, and says why', async () => {
    const s = startChild(process.execPath, ['--import', tsx, entry], { PORT: '0', HOST: '0.0.0.0' });
    expect(await s.exited).toBe(1);
    expect(s.stderr()).toMatch(/Refusing to listen on 0\.0\.0\.0 in local mode.*AUTH_JWT_SECRET/);
  });

  it('stops start-up on a wrong value, naming the variable and the fix', async () => {
    const s = startChild(process.execPath, ['--import', tsx, entry], { PORT: 'eighty' });
    expect(await s.exited).toBe(1);
    expect(s.stderr()).toMatch(/Invalid PORT: .*Expected a whole number from 0 to 65535/);
  });

  it('refuses a signing secret under 32 bytes', async () => {
    const s = startChild(process.execPath, ['--import', tsx, entry], { PORT: '0', AUTH_JWT_SECRET: 'short-SECRET' });
    observed.secrets.add('short-SECRET');
    expect(await s.exited).toBe(1);
    expect(s.stderr()).toMatch(/AUTH_JWT_SECRET is too short \(12 bytes\): use at least 32 bytes/);
    expect(s.stderr()).not.toContain('short-SECRET');
  });
});
