/** Project "workers-with-issuer": the same Worker with AUTH_ISSUER set (vitest.workers.config.ts). */
import { describe, expect, it } from 'vitest';
import { ISSUER, MCP_URL, PUBLIC_URL } from '../support/bindings.js';
import { mintToken, postMcp, rpc, workerFetch } from '../support/mcp.js';

describe('workerd with AUTH_ISSUER', () => {
  it('serves RFC 9728 protected resource metadata at both well-known URLs', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const res = await workerFetch(`${PUBLIC_URL}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.json).toMatchObject({ resource: MCP_URL, authorization_servers: [ISSUER] });
    }
  });

  it('the 401 challenge points at the metadata', async () => {
    const res = await postMcp(rpc('tools/list'), null);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*resource_metadata="http:\/\/mcp\.test\/\.well-known\/oauth-protected-resource\/mcp"/);
  });

  it('accepts a token from the issuer', async () => {
    const res = await postMcp(rpc('tools/list'), await mintToken({ iss: ISSUER }));
    expect(res.status).toBe(200);
    expect(res.json.result.tools.map((t: { name: string }) => t.name)).toContain('invite_user');
  });
});
