/**
 * Configuration messages as the Node entry prints them (a real child process): every problem at
 * once, for people on stderr and as one JSON line on stdout; warnings as JSON warn lines (and in
 * the local-mode banner); .env's key source giving way to the environment's as a whole.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repo, startChild, waitFor } from './support/child.js';
import { observed, SECRETS } from './support/harness.js';
import { scratchDir } from './support/scratch.js';

const tsx = new URL(import.meta.resolve('tsx')).pathname;
const entry = join(repo, 'src/node.ts');
const scratch = () => scratchDir('pim-entry-');
const run = (env: Record<string, string>, cwd = scratch()) => startChild(process.execPath, ['--import', tsx, entry], env, cwd);
const jsonLines = (out: string) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('the Node entry reports configuration problems', () => {
  it('lists every problem at once on stderr, and logs them as one config.invalid JSON line', async () => {
    const s = run({ PORT: 'abc', PORTKEY_TIMEOUT_MS: 'soon', AUTH_JWT_SECRET: 'short-SECRET' });
    observed.secrets.add('short-SECRET');
    expect(await s.exited).toBe(1);
    expect(s.stderr()).toMatchInlineSnapshot(`
      "Configuration errors (3):
      - Invalid PORT: Invalid input: expected number, received NaN. Expected a whole number from 0 to 65535.
      - Invalid PORTKEY_TIMEOUT_MS: Invalid input: expected number, received NaN. Expected a whole number of milliseconds from 1 to 120000 (default 10000).
      - AUTH_JWT_SECRET is too short (12 bytes): use at least 32 bytes, e.g. the output of \`openssl rand -base64 48\`.
      "
    `);
    const [line] = jsonLines(s.stdout());
    expect(line).toMatchObject({ level: 'error', event: 'config.invalid', problems: expect.arrayContaining([expect.stringMatching(/^Invalid PORT:/)]) });
    expect((line!.problems as string[]).length).toBe(3);
    expect(s.stdout() + s.stderr()).not.toContain('short-SECRET');
  });

  it('refuses a non-loopback HOST without PUBLIC_URL', async () => {
    const s = run({ PORT: '0', HOST: '0.0.0.0', AUTH_JWT_SECRET: SECRETS.jwtSecret });
    expect(await s.exited).toBe(1);
    expect(s.stderr()).toMatchInlineSnapshot(`
      "Configuration error: PUBLIC_URL is required when HOST (0.0.0.0) is not a loopback address: set it to the URL clients reach this server at (e.g. https://mcp.example.com); tokens must carry the audience <PUBLIC_URL>/mcp.
      "
    `);
    expect(jsonLines(s.stdout())[0]).toMatchObject({ event: 'config.invalid' });
  });

  it('warns about a misspelt variable, as a JSON line and in the local-mode banner', async () => {
    const s = run({ PORT: '0', AUTH_JWKS_URI: 'https://issuer.example.com/jwks.json' });
    await waitFor(() => s.stdout().includes('List the tools:'), 'the local-mode banner');
    const warning = jsonLines(s.stdout()).find((l) => l.event === 'config.warning');
    expect(warning).toMatchObject({ level: 'warn', message: 'AUTH_JWKS_URI is not a setting this server reads (ignored); did you mean AUTH_JWKS_URL?' });
    expect(s.stdout()).toContain('Warnings:\n- AUTH_JWKS_URI is not a setting this server reads (ignored); did you mean AUTH_JWKS_URL?');
  });

  it("lets the environment's key source win over .env's as a whole, instead of 'Set only one of…'", async () => {
    const dir = scratch();
    writeFileSync(join(dir, '.env'), 'AUTH_JWKS_URL=https://issuer.example.com/jwks.json\nAUTH_ISSUER=https://issuer.example.com/\nPORTKEY_API_KEY=pk-dotenv-SECRET-1\n');
    observed.secrets.add('pk-dotenv-SECRET-1');
    const s = run({ PORT: '0', AUTH_JWT_SECRET: SECRETS.jwtSecret }, dir);
    await waitFor(() => s.stdout().includes('server.started') || s.child.exitCode !== null, 'start-up');
    expect(s.stderr()).toBe('');
    expect(jsonLines(s.stdout()).find((l) => l.event === 'server.started')).toMatchObject({ local_mode: false, tenants: 'single' });
    process.kill(s.child.pid!, 'SIGTERM');
    expect(await s.exited).toBe(0);
  });
});
