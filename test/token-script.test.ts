/**
 * `npm run token`, as people use it: TOKEN=$(npm run -s token -- …). It reads the environment
 * and .env like the server, works in local mode (signing with the local server's .local-secret),
 * and a wrong flag gets the usage, not a stack trace. Tokens it mints are accepted by the real
 * server, started as a child process in the same directory.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { banner, repo, startChild, waitFor } from './support/child.js';
import { SECRETS, connectClient, observed } from './support/harness.js';
import { scratchDir } from './support/scratch.js';

const tsx = fileURLToPath(import.meta.resolve('tsx'));
const script = join(repo, 'src/node/cli/token.ts');
const entry = join(repo, 'src/node.ts');
const childEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', ...env });

/** The documented command, from the repository. */
const npmRun = (args: string[], env: Record<string, string>) =>
  promisify(execFile)('npm', ['run', '-s', 'token', '--', ...args], { cwd: repo, env: childEnv(env) });
/** The same script in another working directory (where its .env and .local-secret live). */
const runIn = (cwd: string, args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, ['--import', tsx, script, ...args], { cwd, env: childEnv(env) });
const scratch = () => scratchDir('pim-token-');

describe('npm run token', () => {
  it('mints an HS256 token the server accepts, with subject, tenant claim, scopes and TTL', async () => {
    const { stdout } = await npmRun(['--sub', 'alice', '--tenant', 'acme', '--scope', 'portkey.invite portkey.invite.admin', '--ttl', '30m'], {
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
    const { stdout } = await runIn(scratch(), ['--sub', 'bob', '--tenant', 'globex'], { AUTH_JWT_SECRET: SECRETS.jwtSecret, TENANT_CLAIM: 'tenant' });
    observed.secrets.add(stdout.trim());
    const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode(SECRETS.jwtSecret));
    expect(payload).toMatchObject({ sub: 'bob', tenant: 'globex', scope: 'portkey.invite' });
  });

  it('reads .env like the server does', async () => {
    const dir = scratch();
    writeFileSync(join(dir, '.env'), `AUTH_JWT_SECRET=${SECRETS.jwtSecret}\nPUBLIC_URL=https://from-dotenv.example.com\n`);
    const { stdout } = await runIn(dir, ['--sub', 'carol']);
    observed.secrets.add(stdout.trim());
    const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode(SECRETS.jwtSecret), { audience: 'https://from-dotenv.example.com/mcp' });
    expect(payload.sub).toBe('carol');
  });

  it('says what is missing when neither AUTH_JWT_SECRET nor a local secret exists', async () => {
    const err = await runIn(scratch(), ['--sub', 'alice']).catch((e: unknown) => e as { code: number; stderr: string });
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(/AUTH_JWT_SECRET is not set, and there is no \.local-secret here.*npm start/);
  });

  it.each([
    ['an unknown flag', ['--sub', 'alice', '--tenat', 'acme'], /Unknown option '--tenat'/],
    ['a stray argument', ['alice'], /Unexpected argument 'alice'/],
    ['no --sub', ['--tenant', 'acme'], /Give the caller with --sub/],
  ])('answers %s with the usage and exit code 2, not a stack trace', async (_, args, message) => {
    const err = (await runIn(scratch(), args, { AUTH_JWT_SECRET: SECRETS.jwtSecret }).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(2);
    expect(err.stderr).toMatch(message);
    expect(err.stderr).toContain('Usage: npm run -s token -- --sub <subject>');
    expect(err.stderr).not.toMatch(/\n\s+at /);
  });

  it('in local mode, mints tokens for another user and tenant that the running local server accepts', async () => {
    const dir = scratch();
    const server = startChild(process.execPath, ['--import', tsx, entry], { PORT: '0' }, dir);
    await waitFor(() => server.stdout().includes('List the tools:'), 'the local-mode banner');
    const { url, token: bannerToken } = banner(server.stdout());
    observed.secrets.add(bannerToken);

    const { stdout } = await runIn(dir, ['--sub', 'bob', '--tenant', 'acme'], { PORT: new URL(url).port });
    const token = stdout.trim();
    observed.secrets.add(token);
    const client = await connectClient(url, token);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['invite_user', 'list_invites']);
    await client.close();

    process.kill(server.child.pid!, 'SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
