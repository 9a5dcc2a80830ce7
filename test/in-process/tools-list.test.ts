import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startTestServer, token, type TestServer } from './harness.js';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';

let server: TestServer;
let client: Client;
beforeAll(async () => {
  server = await startTestServer({});
  client = await connectClient(server.mcpUrl, await token());
});
afterAll(async () => {
  await client.close();
  await server.close(100);
});

describe('tools/list', () => {
  it('lists exactly invite_user with its title and annotations', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['invite_user', 'list_invites']);
    const [tool] = tools;
    expect(tool!.name).toBe('invite_user');
    expect(tool!.title).toBe('Invite a user to Portkey');
    expect(tool!.annotations).toEqual({
      title: 'Invite a user to Portkey',
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    });
  });

  it('has the input schema the contract names, every field described', async () => {
    const { tools } = await client.listTools();
    const input = tools[0]!.inputSchema as unknown as { properties: Record<string, { description?: string }>; required: string[]; additionalProperties: boolean };
    expect(Object.keys(input.properties).sort()).toEqual(['email', 'first_name', 'last_name', 'role', 'workspace_api_key_details', 'workspaces']);
    expect(input.required.sort()).toEqual(['email', 'role', 'workspaces']);
    expect(input.additionalProperties).toBe(false);
    for (const [name, prop] of Object.entries(input.properties)) expect(prop.description, name).toBeTruthy();
  });

  it('pins the full input and output schemas', async () => {
    const { tools } = await client.listTools();
    expect({ inputSchema: tools[0]!.inputSchema, outputSchema: tools[0]!.outputSchema }).toMatchSnapshot();
  });

  it('announces the server and the tools capability on initialize', () => {
    expect(client.getServerVersion()).toMatchObject({ name: 'portkey-invite-mcp' });
    // Stateless: no stream on which a list_changed notification could ever be sent.
    expect(client.getServerCapabilities()?.tools).toEqual({ listChanged: false });
  });
});
