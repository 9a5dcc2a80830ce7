/**
 * Issue 10 item 5: a call whose arguments fail the schema is audited (outcome `invalid_input`,
 * with the offending fields), answered with the same isError text the SDK gives (each bad field
 * named), and sends nothing upstream. Through the real server and the official SDK client.
 */
import { getParseErrorMessage } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { inviteUserInput } from '../../src/tools/invite-user-schema.js';
import { SECRETS, connectClient, inviteCall, postMcp, resultText, serverPool, token, type TestServer } from './harness.js';
import { startPortkeyDouble, type PortkeyDouble } from './portkey-double.js';

let portkey: PortkeyDouble;
let server: TestServer;
const start = serverPool();
beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey] });
  server = await start({
    TENANTS: JSON.stringify({ acme: { apiKey: SECRETS.portkeyKey, baseUrl: portkey.url, allow: { orgRoles: ['member'] } } }),
  });
});
afterAll(() => portkey.close());
beforeEach(() => portkey.reset());

const valid = { email: 'jane@example.com', role: 'member', workspaces: [{ id: 'ws-eng', role: 'member' }] };

describe('invalid tool input is audited', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['a forbidden org role', { ...valid, role: 'owner' }, ['role']],
    ['a malformed email', { ...valid, email: 'not-an-email' }, ['email']],
    ['a missing field', { email: 'jane@example.com', role: 'member' }, ['workspaces']],
    ['an unknown field', { ...valid, org_id: 'globex' }, ['org_id']],
    ['an unknown nested field', { ...valid, workspaces: [{ id: 'ws-eng', role: 'member', tenant: 'globex' }] }, ['workspaces.0.tenant']],
    ['a line break in a name', { ...valid, first_name: 'Jane\r\nBcc: x' }, ['first_name']],
    ['a bad workspace id and role', { ...valid, workspaces: [{ id: '../admin', role: 'owner' }] }, ['workspaces.0.id', 'workspaces.0.role']],
    ['a bad API-key scope', { ...valid, workspace_api_key_details: { scopes: ['logs view'] } }, ['workspace_api_key_details.scopes.0']],
    ['too many workspaces', { ...valid, workspaces: Array.from({ length: 51 }, (_, i) => ({ id: `ws-${i}`, role: 'member' })) }, ['workspaces']],
    ['no arguments at all', {}, ['email', 'role', 'workspaces']],
  ])('%s: isError naming the field, one invalid_input audit line, nothing upstream', async (_label, args, fields) => {
    const before = server.events('audit.invite_user').length;
    const client = await connectClient(server.mcpUrl, await token({ sub: 'prober', claims: { org_id: 'acme' } }));
    const result = await client.callTool({ name: 'invite_user', arguments: args });
    await client.close();

    expect(result.isError).toBe(true);
    // Exactly the text the SDK's own validation gives: every issue with the path of its field.
    const parsed = inviteUserInput.safeParse(args);
    expect(parsed.success).toBe(false);
    expect(resultText(result)).toBe(`Input validation error: Invalid arguments for tool invite_user: ${getParseErrorMessage(parsed.error)}`);
    for (const f of fields) expect(resultText(result)).toContain(f.split('.').filter((part) => !/^\d+$/.test(part)).at(-1));
    expect(portkey.requests).toEqual([]);

    const lines = server.events('audit.invite_user').slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ tenant: 'acme', sub: 'prober', outcome: 'invalid_input', invite_id: null, upstream_status: null });
    expect(lines[0]!.invalid_fields).toEqual(expect.arrayContaining(fields));
    expect(lines[0]!.invitee).toBe(typeof args.email === 'string' ? args.email : null);
  });

  it('what could be read of a hostile call is recorded, bounded', async () => {
    const before = server.events('audit.invite_user').length;
    const res = await postMcp(
      server.mcpUrl,
      inviteCall({ email: 'x'.repeat(10_000), role: { $ne: null }, workspaces: [{ id: 7, role: 'admin' }, 'ws', null], workspace_api_key_details: { scopes: 'all' } }),
      { authorization: `Bearer ${await token({ claims: { org_id: 'acme' } })}` },
    );
    expect(res.json.result.isError).toBe(true);
    const [line] = server.events('audit.invite_user').slice(before);
    expect(line).toMatchObject({ outcome: 'invalid_input', invitee: 'x'.repeat(254), org_role: null, workspaces: ['?:admin', '?:?', '?:?'], api_key_scopes: null });
    expect(portkey.requests).toEqual([]);
  });

  it('valid calls are unchanged: refused by policy and invited still audit as before', async () => {
    const before = server.events('audit.invite_user').length;
    const client = await connectClient(server.mcpUrl, await token({ sub: 'ok', claims: { org_id: 'acme' } }));
    const ok = await client.callTool({ name: 'invite_user', arguments: valid });
    const refused = await client.callTool({ name: 'invite_user', arguments: { ...valid, role: 'admin' } });
    await client.close();
    expect(ok.isError, resultText(ok)).toBeFalsy();
    expect(refused.isError).toBe(true);
    const lines = server.events('audit.invite_user').slice(before);
    expect(lines.map((l) => l.outcome)).toEqual(['invited', 'refused_by_policy']);
    expect(lines.every((l) => !('invalid_fields' in l))).toBe(true);
  });
});
