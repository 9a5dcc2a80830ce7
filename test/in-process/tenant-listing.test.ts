/**
 * tools/list per tenant, through the real server and the official SDK client: a tenant with
 * `allow` rules sees invite_user narrowed to them (and says so in its description); a tenant
 * without rules, or a caller whose tenant cannot be resolved, sees the seed listing that
 * tools-list.test.ts pins. Calls are still checked by the policy on the server.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ListToolsResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, resultText, SECRETS, serverPool, token, type TestServer } from './harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './portkey-double.js';

const ACME_KEY = SECRETS.portkeyKey;
const OTHER_KEY = SECRETS.otherTenantKey;

/** The issue's example: member only, two workspaces (one a prefix), member role, one key scope. */
const ACME_ALLOW = { orgRoles: ['member'], workspaces: ['ws-eng', 'ws-data-*'], workspaceRoles: ['member'], apiKeyScopes: ['logs.view'] };

let portkey: PortkeyDouble;
let multi: TestServer;
let single: TestServer;
const clients: Client[] = [];
const startServer = serverPool();

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [ACME_KEY, OTHER_KEY] });
  multi = await startServer({
    TENANTS: JSON.stringify({
      acme: { apiKey: ACME_KEY, baseUrl: portkey.url, allow: ACME_ALLOW },
      globex: { apiKey: OTHER_KEY, baseUrl: portkey.url },
      initech: { apiKey: OTHER_KEY, baseUrl: portkey.url, allow: { orgRoles: ['admin', 'member'], workspaces: ['ws-ops'] } },
      hooli: { apiKey: OTHER_KEY, baseUrl: portkey.url, allow: { orgRoles: [] } },
    }),
  });
  // Single-tenant mode: the listing tools-list.test.ts pins as the seed.
  single = await startServer({ PORTKEY_API_KEY: ACME_KEY, PORTKEY_BASE_URL: portkey.url });
});
afterEach(() => portkey.reset());
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await portkey?.close();
});

async function clientFor(server: TestServer, claims: Record<string, unknown>, scope = 'portkey.invite'): Promise<Client> {
  const client = await connectClient(server.mcpUrl, await token({ claims, scope }));
  clients.push(client);
  return client;
}

async function inviteUserTool(server: TestServer, claims: Record<string, unknown>, scope?: string) {
  const { tools } = await (await clientFor(server, claims, scope)).listTools();
  expect(tools.map((t) => t.name)).toEqual(['invite_user', 'list_invites']);
  return tools[0]! as Omit<ListToolsResult['tools'][number], 'inputSchema'> & { inputSchema: Record<string, any> };
}

describe('tools/list for a tenant with a policy', () => {
  it('offers only the values the policy allows, and the description names them', async () => {
    const tool = await inviteUserTool(multi, { org_id: 'acme' });
    const p = tool.inputSchema.properties;
    expect(p.role.enum).toEqual(['member']);
    expect(p.workspaces.minItems).toBe(1);
    expect(p.workspaces.items.properties.id.anyOf).toEqual([{ enum: ['ws-eng'] }, { pattern: '^ws-data-' }]);
    expect(p.workspaces.items.properties.role.enum).toEqual(['member']);
    expect(p.workspace_api_key_details.properties.scopes.items.enum).toEqual(['logs.view']);
    expect(tool.description).toMatch(
      /This organisation's policy allows only: org role "member"; workspaces "ws-eng", "ws-data-\*" \(at least one\); workspace role "member"; API key scope "logs\.view"\.$/,
    );
    expect({ description: tool.description, inputSchema: tool.inputSchema }).toMatchSnapshot();
  });

  it('keeps the seed shape, title, annotations and output schema', async () => {
    const [narrowed, seed] = await Promise.all([inviteUserTool(multi, { org_id: 'acme' }), inviteUserTool(single, {})]);
    expect(narrowed.title).toBe(seed.title);
    expect(narrowed.annotations).toEqual(seed.annotations);
    expect(narrowed.outputSchema).toEqual(seed.outputSchema);
    expect(narrowed.inputSchema.required).toEqual(seed.inputSchema.required);
    expect(Object.keys(narrowed.inputSchema.properties)).toEqual(Object.keys(seed.inputSchema.properties));
  });

  it('keeps org admin listed when the policy allows it, even for a token without the admin scope', async () => {
    const tool = await inviteUserTool(multi, { org_id: 'initech' }, 'portkey.invite');
    expect(tool.inputSchema.properties.role.enum).toEqual(['admin', 'member']);
    expect(tool.inputSchema.properties.workspaces.items.properties.id.enum).toEqual(['ws-ops']);
  });

  it('says the tenant cannot invite at all when a rule leaves nothing', async () => {
    const tool = await inviteUserTool(multi, { org_id: 'hooli' });
    expect(tool.description).toMatch(/This organisation's policy allows no invites at all \(no organisation role may be granted\)/);
    expect(tool.inputSchema.properties.role).not.toHaveProperty('enum');
    expect(tool.inputSchema.properties.role.not).toEqual({});
  });
});

describe('tools/list gives the seed listing', () => {
  it.each([
    ['a tenant without rules', { org_id: 'globex' }],
    ['a token without the tenant claim', {}],
    ['a tenant that is not configured', { org_id: 'umbrella' }],
    ['a tenant claim that is not a string', { org_id: 42 }],
  ])('to %s', async (_, claims) => {
    const [tool, seed] = await Promise.all([inviteUserTool(multi, claims), inviteUserTool(single, {})]);
    expect(tool).toEqual(seed);
  });
});

describe('calls are still checked by the policy on the server', () => {
  it('an invite within the narrowed listing succeeds', async () => {
    const client = await clientFor(multi, { org_id: 'acme' });
    const result = await client.callTool({
      name: 'invite_user',
      arguments: {
        email: 'jane@example.com',
        role: 'member',
        workspaces: [{ id: 'ws-data-lake', role: 'member' }],
        workspace_api_key_details: { scopes: ['logs.view'] },
      },
    });
    expect(result.isError, resultText(result)).toBeFalsy();
    expect(portkey.invites.map((i) => i.email)).toEqual(['jane@example.com']);
  });

  it('a value outside the listing (the SDK client does not validate input) is refused with the policy naming the rules', async () => {
    const client = await clientFor(multi, { org_id: 'acme' });
    const result = await client.callTool({
      name: 'invite_user',
      arguments: { email: 'eve@example.com', role: 'member', workspaces: [{ id: 'ws-fin', role: 'manager' }], workspace_api_key_details: { scopes: ['keys.delete'] } },
    });
    expect(result.isError).toBe(true);
    expect(resultText(result)).toBe(
      [
        "Refused by this tenant's policy, nothing was sent to Portkey:",
        '- workspace(s) "ws-fin" not allowed; allowed workspaces: "ws-eng", "ws-data-*"',
        '- workspace role(s) "ws-fin: manager" not allowed; allowed workspace roles: "member"',
        '- API key scope(s) "keys.delete" not allowed; allowed API key scopes: "logs.view"',
      ].join('\n'),
    );
    expect(portkey.requests).toHaveLength(0);
  });
});
