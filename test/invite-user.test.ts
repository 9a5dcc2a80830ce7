import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, connectClient, freePort, resultText, startTestServer, token, type TestServer } from './support/harness.js';
import { startPortkeyDouble, validateCreateInvite, type PortkeyDouble } from './support/portkey-double.js';

let portkey: PortkeyDouble;
let server: TestServer;
let client: Client;

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey], workspaceKeys: [SECRETS.workspaceKey] });
  server = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: portkey.url, PORTKEY_TIMEOUT_MS: '300' });
  client = await connectClient(server.mcpUrl, await token());
});
afterEach(() => portkey.reset());
afterAll(async () => {
  await client.close();
  await server.close(100);
  await portkey.close();
});

const call = (args: Record<string, unknown>) => client.callTool({ name: 'invite_user', arguments: args });
const invitePosts = () => portkey.requests.filter((r) => r.method === 'POST');

describe('invite_user: success', () => {
  it('invites with only the required fields and sends exactly them upstream', async () => {
    const result = await call({ email: 'jane@example.com', role: 'member', workspaces: [] });
    expect(result.isError).toBeFalsy();
    const [sent] = invitePosts();
    expect(sent!.path).toBe('/v1/admin/users/invites');
    expect(sent!.headers['x-portkey-api-key']).toBe(SECRETS.portkeyKey);
    expect(sent!.headers['content-type']).toBe('application/json');
    expect(sent!.body).toEqual({ email: 'jane@example.com', role: 'member', workspaces: [] });
    expect(sent!.headers.authorization).toBeUndefined(); // the caller's token is never forwarded

    const created = portkey.invites[0]!;
    expect(result.structuredContent).toEqual({
      invite_id: created.id,
      invite_link: `https://app.portkey.ai/invite/${created.id}`,
      email: 'jane@example.com',
      role: 'member',
      workspaces: [],
      api_key_requested: false,
    });
    expect(JSON.parse(resultText(result))).toEqual({
      message: 'Successfully invited jane@example.com as member',
      invite_id: created.id,
      invite_link: `https://app.portkey.ai/invite/${created.id}`,
    });
  });

  it('sends every optional field given, and the body validates against CreateInvite', async () => {
    const args = {
      email: 'sam@example.com',
      role: 'admin',
      first_name: 'Sam',
      last_name: 'Lee',
      workspaces: [
        { id: 'ws-eng', role: 'manager' },
        { id: 'ws-ops', role: 'member' },
      ],
      workspace_api_key_details: {
        name: 'sam-key',
        expiry: '2027-01-31T00:00:00Z',
        metadata: { team: 'eng' },
        scopes: ['logs.view', 'completions.write'],
      },
    };
    const adminClient = await connectClient(server.mcpUrl, await token({ scope: 'portkey.invite portkey.invite.admin' }));
    const result = await adminClient.callTool({ name: 'invite_user', arguments: args });
    await adminClient.close();
    expect(result.isError).toBeFalsy();
    expect(invitePosts()[0]!.body).toEqual(args);
    expect(validateCreateInvite(invitePosts()[0]!.body)).toBeUndefined();
    expect((result.structuredContent as { api_key_requested: boolean }).api_key_requested).toBe(true);
  });

  it('omits absent optional fields inside workspace_api_key_details (never null)', async () => {
    await call({ email: 'k@example.com', role: 'member', workspaces: [{ id: 'ws-a', role: 'admin' }], workspace_api_key_details: { scopes: ['logs.view'] } });
    expect(invitePosts()[0]!.rawBody).toBe(
      '{"email":"k@example.com","role":"member","workspaces":[{"id":"ws-a","role":"admin"}],"workspace_api_key_details":{"scopes":["logs.view"]}}',
    );
  });
});

describe('invite_user: invalid arguments never reach Portkey', () => {
  it.each([
    ['a bad email', { email: 'not-an-email', role: 'member', workspaces: [] }, /email/],
    ['an unknown org role', { email: 'a@example.com', role: 'owner', workspaces: [] }, /role/],
    ['a missing workspaces list', { email: 'a@example.com', role: 'member' }, /workspaces/],
    ['a bad workspace role', { email: 'a@example.com', role: 'member', workspaces: [{ id: 'ws', role: 'owner' }] }, /role/],
    ['an unknown field', { email: 'a@example.com', role: 'member', workspaces: [], team: 'x' }, /team|unrecognized/i],
    ['a bad expiry', { email: 'a@example.com', role: 'member', workspaces: [], workspace_api_key_details: { scopes: ['logs.view'], expiry: 'tomorrow' } }, /expiry|datetime/i],
    ['an empty scope list', { email: 'a@example.com', role: 'member', workspaces: [], workspace_api_key_details: { scopes: [] } }, /scopes/],
    ['a CR/LF in a name', { email: 'a@example.com', role: 'member', workspaces: [], first_name: 'A\r\nX-Evil: 1' }, /control characters/],
  ])('%s gives isError naming the problem', async (_label, args, pattern) => {
    const result = await call(args);
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(pattern);
    expect(invitePosts()).toHaveLength(0);
  });
});

describe('invite_user: Portkey refusals', () => {
  it.each([
    [400, 'AB01', 'email is invalid', /HTTP 400, AB01\): email is invalid\. Correct the arguments/],
    [404, 'AB02', 'Workspace ws-x not found', /HTTP 404, AB02\): Workspace ws-x not found\. .*AB02, request validation/],
    [403, 'AB03', 'You do not have enough permissions to execute this request', /HTTP 403, AB03\).*lacks the rights/],
    [500, 'AB04', 'Internal Server Error', /HTTP 500, AB04\).*may have been\. List pending invites for jane@example.com/],
    [401, 'AB05', 'Unauthorised Request', /HTTP 401, AB05\).*PORTKEY_API_KEY.*wrong, revoked or expired/],
    [429, 'AB06', 'Rate limit exceeded', /HTTP 429, AB06\).*Wait a minute/],
    // 409: the lookup that follows (test/reconcile.test.ts) finds no pending invite in the double.
    [409, 'AB07', 'User already invited', /HTTP 409, AB07\): User already invited\. No pending invite for jane@example.com was found as of .*, so jane@example.com is most likely already a member/],
    [404, 'AB08', 'Resource not found', /HTTP 404, AB08\)/],
    [402, 'AB09', 'Subscription exhausted', /HTTP 402, AB09\).*subscription is exhausted/],
  ])('HTTP %i %s gives isError with the message, code and status', async (status, errorCode, message, pattern) => {
    portkey.failNext({ kind: 'status', status, body: { success: false, data: { message, errorCode } } });
    const result = await call({ email: 'jane@example.com', role: 'member', workspaces: [] });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(pattern);
    expect(resultText(result)).not.toMatch(/Failed to invite user/);
    expect(invitePosts()).toHaveLength(1); // never retried
  });

  it('does not follow a redirect, so the admin key is never sent to another host', async () => {
    const elsewhere = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
    portkey.failNext({ kind: 'status', status: 307, rawBody: '', headers: { location: `${elsewhere.url}/admin/users/invites` } });
    const result = await call({ email: 'jane@example.com', role: 'member', workspaces: [] });
    await elsewhere.close();
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/HTTP 307\).*redirect, which this server does not follow.*no invite was created/);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('an oversized answer is not read and not reported as success', async () => {
    portkey.failNext({ kind: 'success-body', body: { id: 'x', invite_link: 'https://app.portkey.ai/i', padding: 'x'.repeat(300 * 1024) } });
    const result = await call({ email: 'big@example.com', role: 'member', workspaces: [] });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/HTTP 200 with a body over 262144 bytes.*This server then looked for the invite: no pending invite for big@example.com as of /);
  });

  it('reads the gateway error shape too', async () => {
    portkey.failNext({ kind: 'status', status: 400, body: { error: { message: 'bad role', type: 'invalid_request', code: null, param: null } } });
    const result = await call({ email: 'jane@example.com', role: 'member', workspaces: [] });
    expect(resultText(result)).toMatch(/HTTP 400\): bad role/);
  });

  it('honours Retry-After on 429', async () => {
    portkey.failNext({ kind: 'rate-limit', retryAfter: '17' });
    const result = await call({ email: 'jane@example.com', role: 'member', workspaces: [] });
    expect(resultText(result)).toMatch(/Retry after 17 s/);
  });

  it('a real 401 from a wrong key says the key is wrong, without showing it', async () => {
    const wrongKey = await startTestServer({ PORTKEY_API_KEY: 'pk-wrong-SECRET-999', PORTKEY_BASE_URL: portkey.url });
    const c = await connectClient(wrongKey.mcpUrl, await token());
    const result = await c.callTool({ name: 'invite_user', arguments: { email: 'j@example.com', role: 'member', workspaces: [] } });
    await c.close();
    await wrongKey.close(100);
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/HTTP 401, AB05\).*did not accept the admin API key/);
    expect(resultText(result)).not.toContain('pk-wrong');
  });
});

describe('invite_user: transport failures', () => {
  it('a reply slower than PORTKEY_TIMEOUT_MS says so, and that the invite may exist', async () => {
    portkey.failNext({ kind: 'delay', ms: 1500 });
    const result = await call({ email: 'slow@example.com', role: 'member', workspaces: [] });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/did not answer within 300 ms\. This server then looked for the invite: no pending invite for slow@example\.com as of .*Portkey may still be processing the request/);
  });

  it('a non-JSON 200 is not reported as success', async () => {
    portkey.failNext({ kind: 'non-json', status: 200 });
    const result = await call({ email: 'j@example.com', role: 'member', workspaces: [] });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/HTTP 200 but the body is not JSON/);
  });

  it('a non-JSON 502 names the status without echoing the page', async () => {
    portkey.failNext({ kind: 'non-json', status: 502 });
    const result = await call({ email: 'j@example.com', role: 'member', workspaces: [] });
    expect(resultText(result)).toMatch(/Portkey refused the invite \(HTTP 502\)\. Portkey failed on its side/);
    expect(resultText(result)).not.toContain('<html');
  });

  it('a 200 without invite_link is not a success', async () => {
    portkey.failNext({ kind: 'success-body', body: { id: 'abc' } });
    const result = await call({ email: 'j@example.com', role: 'member', workspaces: [] });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/without the documented invite_link/);
  });

  it('connection refused says Portkey is unreachable and nothing was created', async () => {
    const port = await freePort();
    const down = await startTestServer({ PORTKEY_API_KEY: SECRETS.portkeyKey, PORTKEY_BASE_URL: `http://127.0.0.1:${port}/v1` });
    const c = await connectClient(down.mcpUrl, await token());
    const result = await c.callTool({ name: 'invite_user', arguments: { email: 'j@example.com', role: 'member', workspaces: [] } });
    await c.close();
    await down.close(100);
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/unreachable at 127\.0\.0\.1:\d+ \(ECONNREFUSED\); the request was not delivered/);
  });

  it('a dropped connection says the outcome is unknown', async () => {
    portkey.failNext({ kind: 'drop' });
    const result = await call({ email: 'drop@example.com', role: 'member', workspaces: [] });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/connection to Portkey .* was lost.*no pending invite for drop@example\.com as of .*Portkey may still be processing the request/);
  });

  it('the server keeps serving after every failure', async () => {
    const result = await call({ email: 'after@example.com', role: 'member', workspaces: [] });
    expect(result.isError).toBeFalsy();
  });
});

describe('invite_user: no Portkey key configured', () => {
  it('answers isError naming the variable to set', async () => {
    const bare = await startTestServer({});
    const c = await connectClient(bare.mcpUrl, await token());
    const result = await c.callTool({ name: 'invite_user', arguments: { email: 'j@example.com', role: 'member', workspaces: [] } });
    await c.close();
    await bare.close(100);
    expect(result.isError).toBe(true);
    expect(resultText(result)).toMatch(/set PORTKEY_API_KEY/);
  });
});
