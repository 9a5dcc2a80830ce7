/**
 * Every client in docs/clients.md#connect-other-clients, run as its example file (examples/clients/)
 * against a real server with a Portkey double: it lists invite_user, gets a success with an
 * invite_id, and a 409 whose advice reaches the caller (as an isError result or an exception,
 * as docs/clients.md says). mcp-remote (Claude Desktop) with a refused token ends with the server's
 * advice, not a transport error. Run by `npm run test:clients`, which installs the examples first.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repo } from '../support/child.js';
import { scratchDir } from '../support/scratch.js';
import { SECRETS, observed, startTestServer, token, type TestServer } from '../support/harness.js';
import { startPortkeyDouble, type PortkeyDouble } from '../support/portkey-double.js';

const run = promisify(execFile);
const examples = join(repo, 'examples/clients');
const venvPython = process.env.CLIENTS_PYTHON ?? join(examples, '.venv/bin/python');
const pythonSkipped = existsSync(venvPython) ? undefined : `the Python clients were skipped: ${venvPython} is missing (npm run test:clients makes it when python3 can install requirements.txt)`;
if (pythonSkipped) console.warn(pythonSkipped);

let portkey: PortkeyDouble;
let server: TestServer;
let bearer: string;
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  // Every tool exposed, so the examples can also list and cancel (cancel_invite is not a default).
  server = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url, EXPOSED_TOOLS: 'invite_user list_invites cancel_invite resend_invite' });
  // The harness's token names the server's resource (PUBLIC_URL http://mcp.test/mcp) as its audience.
  bearer = await token();
});
afterAll(async () => {
  await server?.close();
  await portkey?.close();
});

let seq = 0;
/** mcp-remote keeps OAuth state under ~/.mcp-auth: a scratch HOME, removed after the file. */
let home: string | undefined;
async function runExample(command: string, args: string[], extraEnv: Record<string, string> = {}, bearerToken = bearer): Promise<Record<string, any>[]> {
  const email = `client-${++seq}@example.com`;
  const { stdout } = await run(command, args, {
    cwd: examples,
    timeout: 60_000,
    env: { PATH: process.env.PATH!, HOME: (home ??= scratchDir('pim-clients-home-')), MCP_URL: server.mcpUrl, MCP_TOKEN: bearerToken, EMAIL: email, ...extraEnv },
  });
  observed.responses.push(stdout);
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

function expectTheThreeSteps(steps: Record<string, any>[], toolName = 'invite_user'): void {
  expect(steps.find((s) => s.step === 'tools')?.tools).toContain(toolName);
  expect(steps.find((s) => s.step === 'invite')?.invite_id).toMatch(/^[0-9a-f-]{36}$/);
  const again = steps.find((s) => s.step === 'again');
  expect(again?.isError).toBe(true);
  // Portkey's 409 and the server's advice, as the caller sees it.
  expect(again?.message).toMatch(/HTTP 409, AB07.*already has a pending invite.*most likely your own earlier attempt/s);
}

/** The TypeScript SDK and Python rows also list the invite they made and cancel it. */
function expectListAndCancel(steps: Record<string, any>[]): void {
  const invited = steps.find((s) => s.step === 'invite')?.invite_id;
  expect(steps.find((s) => s.step === 'list')).toMatchObject({ invite_ids: [invited], left_out: 0 });
  expect(steps.find((s) => s.step === 'cancel')).toMatchObject({ isError: false, status: 'cancelled' });
  expect(portkey.invites.find((i) => i.id === invited)?.status).toBe('cancelled');
}

const node = process.execPath;
describe.each([
  ['TypeScript SDK', 'ts-sdk.mjs', 'invite_user'],
  ['Vercel AI SDK (@ai-sdk/mcp)', 'ai-sdk.mjs', 'invite_user'],
  ['OpenAI Agents SDK (@openai/agents)', 'openai-agents.mjs', 'invite_user'],
  ['LangChain.js (@langchain/mcp-adapters)', 'langchain.mjs', 'invite_user'],
  ['Mastra (@mastra/mcp)', 'mastra.mjs', 'portkey_invite_user'],
  ['mcp-remote (Claude Desktop)', 'mcp-remote.mjs', 'invite_user'],
])('%s', (_name, file, toolName) => {
  it('lists invite_user, invites, and gets the 409 advice', async () => {
    const steps = await runExample(node, [file]);
    expectTheThreeSteps(steps, toolName);
    if (file === 'ts-sdk.mjs') expectListAndCancel(steps);
  }, 90_000);
});

describe('mcp-remote (Claude Desktop) with a refused token ends with the server\'s advice, never a transport error', () => {
  const signed = (claims: { aud: string; exp: number }) =>
    new SignJWT({ scope: 'portkey.invite' }).setProtectedHeader({ alg: 'HS256' }).setSubject('bob').setAudience(claims.aud).setIssuedAt(claims.exp - 600).setExpirationTime(claims.exp).sign(new TextEncoder().encode(SECRETS.jwtSecret));
  const now = () => Math.floor(Date.now() / 1000);
  it.each([
    ['an expired token', async () => signed({ aud: server.config.resource, exp: now() - 300 })],
    ['a token for another audience', async () => signed({ aud: 'https://elsewhere.example/mcp', exp: now() + 600 })],
  ])('%s', async (_label, make) => {
    const refused = await make();
    observed.secrets.add(refused);
    const steps = await runExample(node, ['mcp-remote.mjs'], {}, refused);
    const last = steps.find((s) => s.step === 'refused');
    expect(last?.message).toMatch(/If you did send one, it was refused: it has expired, was issued for another audience.*docs\/auth\.md#getting-a-token/);
    expect(last?.message).not.toMatch(/SseError|Non-200 status code|405/);
  }, 90_000);
});

describe.skipIf(!!pythonSkipped).each([
  ['the Python SDK (mcp 2.x), mode auto', 'python_sdk.py', { MCP_MODE: 'auto' }],
  ['the Python SDK (mcp 2.x), mode legacy', 'python_sdk.py', { MCP_MODE: 'legacy' }],
  ["FastMCP's client", 'fastmcp_client.py', {}],
])('%s', (_name, file, env) => {
  it('lists invite_user, invites, and gets the 409 advice', async () => {
    const steps = await runExample(venvPython, [file], env);
    expectTheThreeSteps(steps);
    if (file === 'python_sdk.py') expectListAndCancel(steps);
  }, 90_000);
});
