/**
 * Issue 10 item 8: a deployment under a path (PUBLIC_URL=http://mcp.test/invite). The resource is
 * http://mcp.test/invite/mcp; RFC 9728 §3.1 puts its metadata at
 * http://mcp.test/.well-known/oauth-protected-resource/invite/mcp. Behind a proxy that strips the
 * prefix, requests arrive at /mcp; behind one that keeps it, at /invite/mcp: both are served.
 * Through the real Node server and the official SDK client (including its own metadata discovery).
 */
import { discoverOAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { connectClient, postMcp, recordingFetch, serverPool, token, type TestServer } from './harness.js';

const ISSUER = 'https://issuer.test';
const PUBLIC_URL = 'http://mcp.test/invite';
const RESOURCE = `${PUBLIC_URL}/mcp`;
const RFC_METADATA_PATH = '/.well-known/oauth-protected-resource/invite/mcp';

const start = serverPool();
let server: TestServer;
beforeAll(async () => {
  server = await start({ PUBLIC_URL, AUTH_ISSUER: ISSUER });
});

const TOOLS_LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };
const expectedMetadata = {
  resource: RESOURCE,
  authorization_servers: [ISSUER],
  scopes_supported: ['portkey.invite', 'portkey.invite.admin'],
  bearer_methods_supported: ['header'],
  resource_name: expect.any(String),
};

describe('PUBLIC_URL with a path', () => {
  it('the 401 challenge advertises the RFC 9728 §3.1 metadata URL (well-known between host and path)', async () => {
    for (const path of ['/invite/mcp', '/mcp']) {
      const res = await postMcp(`${server.url}${path}`, TOOLS_LIST);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="http://mcp.test${RFC_METADATA_PATH}", scope="portkey.invite"`);
    }
  });

  it.each([
    [RFC_METADATA_PATH, 'the RFC 9728 location'],
    ['/.well-known/oauth-protected-resource/mcp', 'the location a prefix-stripping proxy forwards /invite/.well-known/… to'],
    ['/.well-known/oauth-protected-resource', 'the root well-known URL'],
    ['/invite/.well-known/oauth-protected-resource/mcp', 'the legacy location under the prefix'],
    ['/invite/.well-known/oauth-protected-resource', 'the legacy root under the prefix'],
  ])('the metadata is served at %s (%s)', async (path) => {
    const res = await recordingFetch(`${server.url}${path}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(expectedMetadata);
  });

  it("the SDK client's own discovery finds the metadata from the MCP URL", async () => {
    const metadata = await discoverOAuthProtectedResourceMetadata(`${server.url}/invite/mcp`, undefined, recordingFetch);
    expect(metadata).toEqual(expectedMetadata);
  });

  it.each([
    ['/invite/mcp', 'a proxy that keeps the prefix'],
    ['/mcp', 'a proxy that strips the prefix'],
  ])('MCP is served at %s (%s) with tokens for the prefixed resource', async (path) => {
    const client = await connectClient(`${server.url}${path}`, await token({ aud: RESOURCE, iss: ISSUER }));
    const { tools } = await client.listTools();
    await client.close();
    expect(tools.map((t) => t.name)).toEqual(['invite_user', 'list_invites']);
  });

  it('a token for the un-prefixed resource is not accepted', async () => {
    const res = await postMcp(`${server.url}/invite/mcp`, TOOLS_LIST, { authorization: `Bearer ${await token({ aud: 'http://mcp.test/mcp', iss: ISSUER })}` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });

  it('other paths under the prefix are not MCP', async () => {
    const res = await postMcp(`${server.url}/invite/other`, TOOLS_LIST);
    expect(res.status).toBe(404);
    expect(res.text).toMatch(/The MCP endpoint is POST \/invite\/mcp/);
  });
});
