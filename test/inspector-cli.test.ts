/**
 * The official MCP Inspector's CLI (`mcp-inspector --cli`, 2.x, which needs Node >= 22.19) as a
 * black-box client of the real server: it lists the tools and calls invite_user against a Portkey
 * double, exactly as a person would from a terminal.
 *
 * The Inspector and Node 22 come from the npm registry through npx (cached under ~/.npm; the
 * first run downloads them, so the warm-up has a generous timeout). The warm-up resolves both
 * binaries once, and each call then runs Node 22 directly (no npm round trip per call). Every
 * child runs in its own process group and is killed by group if it outlives its test.
 *
 * The bearer token only ever travels in the child's argv: it is redacted from every assertion
 * message, the CLI's own output is checked for it by setup.ts (via `observed.responses`), and the
 * throw-away HOME the CLI writes its state into is checked for it too.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observed, SECRETS, startTestServer, token, type TestServer } from './support/harness.js';
import { NODE_22, resolveNode22Tool, run, type RunResult } from './support/node22.js';
import { ALREADY_INVITED, startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const INSPECTOR = '@modelcontextprotocol/inspector@2.12.0';

async function resolveInspector(): Promise<{ node: string; inspector: string; version: string }> {
  const { node, tool, version } = await resolveNode22Tool(INSPECTOR, 'mcp-inspector');
  return { node, inspector: tool, version };
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

describe(`MCP Inspector CLI (${INSPECTOR}, ${NODE_22}) against the real server`, () => {
  let bins: { node: string; inspector: string; version: string };
  let portkey: PortkeyDouble;
  let server: TestServer;
  let bearer: string;
  let home: string;

  const redact = (text: string) => text.replaceAll(bearer, '<bearer token>');

  /** `mcp-inspector --cli <server> --transport http` with the bearer header, JSON output, never interactive OAuth. */
  async function inspector(...args: string[]): Promise<RunResult & { json: any }> {
    const r = await run(
      bins.node,
      [bins.inspector, '--cli', server.mcpUrl, '--transport', 'http', '--header', `Authorization: Bearer ${bearer}`, '--stored-auth-only', '--format', 'json', ...args],
      { env: { PATH: process.env.PATH, HOME: home, NO_COLOR: '1' }, timeoutMs: 30_000 },
    );
    observed.responses.push(r.stdout, r.stderr); // setup.ts fails the file if the token shows up in either
    let json: unknown;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      json = undefined;
    }
    return { ...r, json };
  }

  const describeRun = (r: RunResult) => redact(`exit ${r.code ?? r.signal} after ${r.ms} ms\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);

  beforeAll(async () => {
    bins = await resolveInspector();
    expect(bins.version).toMatch(/^v22\./);
    home = mkdtempSync(join(tmpdir(), 'pim-inspector-home-'));
    portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
    server = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url });
    bearer = await token();
  }, 180_000);

  afterAll(async () => {
    await server?.close(1_000);
    await portkey?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('tools/list: lists exactly invite_user, with its input schema', async () => {
    const r = await inspector('--method', 'tools/list');
    expect(r.code, describeRun(r)).toBe(0);
    const tools = r.json?.result?.tools as Array<{ name: string; inputSchema: { required?: string[] } }>;
    expect(tools.map((t) => t.name)).toEqual(['invite_user', 'list_invites']);
    expect(tools[0]!.inputSchema.required).toEqual(expect.arrayContaining(['email', 'role', 'workspaces']));
    expect(portkey.requests).toEqual([]); // listing never reaches Portkey
  });

  it('tools/call invite_user with --tool-arg: invites through Portkey with exactly those arguments', async () => {
    portkey.reset();
    const r = await inspector(
      '--method', 'tools/call', '--tool-name', 'invite_user',
      '--tool-arg', 'email=a@example.com', '--tool-arg', 'role=member', '--tool-arg', 'workspaces=[]',
    );
    expect(r.code, describeRun(r)).toBe(0);
    const result = r.json?.result;
    expect(result?.isError, describeRun(r)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ email: 'a@example.com', role: 'member', workspaces: [], api_key_requested: false });

    expect(portkey.requests).toHaveLength(1);
    const sent = portkey.requests[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1/admin/users/invites');
    expect(sent.headers['x-portkey-api-key']).toBe(SECRETS.portkeyKey);
    expect(JSON.parse(sent.rawBody)).toStrictEqual({ email: 'a@example.com', role: 'member', workspaces: [] });
    expect(result.structuredContent.invite_id).toBe(portkey.invites[0]!.id);
  });

  it('--tool-arg values are parsed as JSON: nested workspace objects reach Portkey unchanged', async () => {
    portkey.reset();
    const r = await inspector(
      '--method', 'tools/call', '--tool-name', 'invite_user',
      '--tool-arg', 'email=b@example.com', '--tool-arg', 'role=member',
      '--tool-arg', 'workspaces=[{"id":"ws-eng","role":"manager"},{"id":"ws-support","role":"member"}]',
    );
    expect(r.code, describeRun(r)).toBe(0);
    expect(portkey.requests).toHaveLength(1);
    expect(JSON.parse(portkey.requests[0]!.rawBody)).toStrictEqual({
      email: 'b@example.com',
      role: 'member',
      workspaces: [
        { id: 'ws-eng', role: 'manager' },
        { id: 'ws-support', role: 'member' },
      ],
    });
  });

  it('an isError result (Portkey says "already invited") makes the CLI fail, with the tool’s message', async () => {
    portkey.reset();
    portkey.failNext({ kind: 'status', status: 409, body: ALREADY_INVITED });
    const r = await inspector(
      '--method', 'tools/call', '--tool-name', 'invite_user',
      '--tool-arg', 'email=a@example.com', '--tool-arg', 'role=member', '--tool-arg', 'workspaces=[]',
    );
    expect(r.code, describeRun(r)).not.toBe(0);
    expect(r.json?.result?.isError, describeRun(r)).toBe(true);
    expect(r.json.result.content[0].text).toMatch(/HTTP 409, AB07/);
    // One attempt, never retried; the 409 is followed by the one lookup that names the existing invite.
    expect(portkey.requests.map((r) => r.method)).toEqual(['POST', 'GET']);
  });

  it('leaves no token (or Portkey key) in the files it writes under HOME', () => {
    for (const file of filesUnder(home)) {
      const text = readFileSync(file, 'utf8');
      expect(text.includes(bearer), `the bearer token was written to ${file}`).toBe(false);
      expect(text.includes(SECRETS.portkeyKey), `the Portkey key was written to ${file}`).toBe(false);
    }
  });
});
