import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { SECRETS, observed } from './support/harness.js';

const repo = fileURLToPath(new URL('..', import.meta.url));
const run = (args: string[], env: Record<string, string>) =>
  promisify(execFile)('npm', ['run', '-s', 'token', '--', ...args], {
    cwd: repo,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env },
  });

describe('npm run token', () => {
  it('mints an HS256 token the server accepts, with subject, tenant claim, scopes and TTL', async () => {
    const { stdout } = await run(['--sub', 'alice', '--tenant', 'acme', '--scope', 'portkey.invite portkey.invite.admin', '--ttl', '30m'], {
      AUTH_JWT_SECRET: SECRETS.jwtSecret,
      PUBLIC_URL: 'https://mcp.example.com',
    });
    const token = stdout.trim();
    observed.secrets.add(token);
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(SECRETS.jwtSecret), {
      audience: 'https://mcp.example.com/mcp',
    });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({ sub: 'alice', org_id: 'acme', scope: 'portkey.invite portkey.invite.admin' });
    expect(payload.exp! - payload.iat!).toBe(1800);
  });

  it('uses TENANT_CLAIM and the default required scopes', async () => {
    const { stdout } = await run(['--sub', 'bob', '--tenant', 'globex'], { AUTH_JWT_SECRET: SECRETS.jwtSecret, TENANT_CLAIM: 'tenant' });
    observed.secrets.add(stdout.trim());
    const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode(SECRETS.jwtSecret));
    expect(payload).toMatchObject({ sub: 'bob', tenant: 'globex', scope: 'portkey.invite' });
  });

  it('says what is missing when AUTH_JWT_SECRET is not set', async () => {
    await expect(run(['--sub', 'alice'], {})).rejects.toMatchObject({ stderr: expect.stringMatching(/AUTH_JWT_SECRET is not set/) });
  });
});
