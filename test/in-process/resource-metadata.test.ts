/**
 * RFC 9728 protected resource metadata, and the `resource_metadata` pointer in the 401 challenge,
 * through the real Node server on loopback.
 */
import { describe, expect, it } from 'vitest';
import { postMcp, recordingFetch, type TestServer, serverPool } from './harness.js';

const ISSUER = 'https://issuer.test';
const PATHS = ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'];
const TOOLS_LIST = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

const start = serverPool();

async function get(s: TestServer, path: string, headers: Record<string, string> = {}) {
  const res = await recordingFetch(`${s.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

describe('with AUTH_ISSUER set', () => {
  it.each(PATHS)('GET %s returns the RFC 9728 document, readable cross-origin', async (path) => {
    const server = await start({ AUTH_ISSUER: ISSUER });
    const res = await get(server, path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.json).toEqual({
      resource: 'http://mcp.test/mcp',
      authorization_servers: [ISSUER],
      scopes_supported: ['portkey.invite', 'portkey.invite.admin'],
      bearer_methods_supported: ['header'],
      resource_name: expect.any(String),
    });
    expect((res.json.resource_name as string).length).toBeGreaterThan(0);
  });

  it('answers a CORS preflight from any origin', async () => {
    const server = await start({ AUTH_ISSUER: ISSUER });
    const res = await recordingFetch(`${server.url}${PATHS[0]}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example', 'access-control-request-method': 'GET' },
    });
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toContain('GET');
  });

  it('the 401 challenge points at the path-suffixed metadata URL', async () => {
    const server = await start({ AUTH_ISSUER: ISSUER });
    const res = await postMcp(server.mcpUrl, TOOLS_LIST);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer resource_metadata="http://mcp.test/.well-known/oauth-protected-resource/mcp", scope="portkey.invite"',
    );
  });
});

describe('AUTH_SERVERS', () => {
  it.each(PATHS)('overrides authorization_servers at %s', async (path) => {
    const server = await start({ AUTH_ISSUER: ISSUER, AUTH_SERVERS: 'https://a.example, https://b.example' });
    const res = await get(server, path);
    expect(res.status).toBe(200);
    expect(res.json.authorization_servers).toEqual(['https://a.example', 'https://b.example']);
    expect(res.json.resource).toBe('http://mcp.test/mcp');
  });
});

describe('with only AUTH_JWT_SECRET (no authorization server)', () => {
  it.each(PATHS)('GET %s answers 404', async (path) => {
    const server = await start({});
    const res = await get(server, path);
    expect(res.status).toBe(404);
    expect(res.json.error).toBe('not_found');
    expect(res.json).not.toHaveProperty('resource');
  });

  it('the 401 challenge carries no resource_metadata', async () => {
    const server = await start({});
    const res = await postMcp(server.mcpUrl, TOOLS_LIST);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer scope="portkey.invite"');
  });
});

describe('canonical resource URI', () => {
  it.each([
    ['HTTP://MCP.Example.COM/', 'http://mcp.example.com'],
    ['https://MCP.example.com:443//', 'https://mcp.example.com'],
    ['http://mcp.example.com:8080', 'http://mcp.example.com:8080'],
  ])('PUBLIC_URL %s yields resource %s/mcp, in the document and the challenge', async (publicUrl, base) => {
    const server = await start({ PUBLIC_URL: publicUrl, AUTH_ISSUER: ISSUER });
    const res = await get(server, PATHS[0]!);
    expect(res.json.resource).toBe(`${base}/mcp`);
    const challenge = await postMcp(server.mcpUrl, TOOLS_LIST);
    expect(challenge.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="portkey.invite"`,
    );
  });
});
