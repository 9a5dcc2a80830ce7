/**
 * Several replicas sharing one Redis (issue 21), through two real server processes (the Node
 * entry as a child, as in production) and a real redis-server: the tenant limit holds across
 * both; a tenant entry written with the CLI is served by both; a rotated key is used by both
 * within TENANTS_CACHE_TTL_MS; Redis killed gives a quick, clear, retryable error (nothing sent,
 * audited, one warn line) and Redis back brings invites back without a restart; the Redis
 * password is in no log line.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SECRETS, inviteCall, observed, postMcp, resultText, startTestServer, token } from './support/harness.js';
import { repo, startChild, waitFor, type Started } from './support/child.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';
import { redisUnavailable, startTestRedis, type TestRedis } from './support/redis-server.js';

const skipped = redisUnavailable();
if (skipped) console.warn(skipped);

const entry = fileURLToPath(new URL('../src/node.ts', import.meta.url));
const tsx = fileURLToPath(import.meta.resolve('tsx'));
const KEY_A = 'pk-redis-tenant-SECRET-a1';
const KEY_B = 'pk-redis-tenant-SECRET-b2';

describe.skipIf(!!skipped)('two replicas sharing one Redis', () => {
  let redis: TestRedis;
  let portkey: PortkeyDouble;
  beforeAll(async () => {
    redis = await startTestRedis();
    observed.secrets.add(redis.password);
    observed.secrets.add(KEY_A);
    observed.secrets.add(KEY_B);
    portkey = await startPortkeyDouble({ adminKeys: [SECRETS.portkeyKey, KEY_A, KEY_B] });
  });
  afterAll(async () => {
    await portkey?.close();
    await redis?.close();
  });

  const baseEnv = (extra: Record<string, string> = {}) => ({
    PORT: '0',
    AUTH_JWT_SECRET: SECRETS.jwtSecret,
    PUBLIC_URL: 'http://mcp.test',
    PORTKEY_BASE_URL: portkey.url,
    REDIS_URL: redis.url,
    RATE_LIMIT_CALLER_PER_MINUTE: '0',
    ...extra,
  });

  async function replica(extra: Record<string, string>): Promise<Started & { url: string }> {
    const s = startChild(process.execPath, ['--import', tsx, entry], baseEnv(extra));
    await waitFor(() => s.stdout().includes('"event":"server.started"') || s.child.exitCode !== null, 'a replica to start');
    if (!s.stdout().includes('server.started')) throw new Error(`replica did not start: ${s.stderr()}`);
    return Object.assign(s, { url: /"url":"([^"]+)"/.exec(s.stdout())![1]! });
  }

  async function invite(url: string, email: string, bearer: string): Promise<{ isError?: boolean; text: string }> {
    const res = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify(inviteCall({ email, role: 'member', workspaces: [] })),
    });
    const text = await res.text();
    observed.responses.push(text);
    const result = JSON.parse(text).result;
    return { isError: result.isError, text: result.content[0].text };
  }

  const logsOf = (...replicas: Started[]) => replicas.map((r) => r.stdout() + r.stderr()).join('\n');
  const events = (r: Started, name: string) =>
    r.stdout().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === name);

  function cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ['--import', tsx, 'src/node/cli/tenants.ts', ...args], {
      cwd: repo,
      input,
      encoding: 'utf8',
      env: { PATH: process.env.PATH!, REDIS_URL: redis.url, TENANTS_REDIS_PREFIX: 'tenants:', PORTKEY_BASE_URL: portkey.url },
    });
    expect(r.stdout + r.stderr).not.toContain(redis.password);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('limiters injected into the Node server replace Redis\'s limits only: its tenant store still serves', async () => {
    portkey.reset();
    redis.cli('SET', 'injected:acme', JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_ACME' } }));
    // Tenant entries read their keys from the server's environment (process.env on Node).
    vi.stubEnv('PORTKEY_KEY_ACME', KEY_A);
    let checked = 0;
    const counting = { check: async () => (checked++, { allowed: true, retryAfterSec: 0 }) };
    const server = await startTestServer(
      { PORTKEY_BASE_URL: portkey.url, REDIS_URL: redis.url, TENANTS_REDIS_PREFIX: 'injected:' },
      { rateLimiters: { tenant: counting, caller: counting } },
    );
    try {
      const res = await postMcp(`${server.url}/mcp`, inviteCall({ email: 'injected@example.com', role: 'member', workspaces: [] }), {
        authorization: `Bearer ${await token({ claims: { org_id: 'acme' } })}`,
      });
      expect(res.json.result.isError, resultText(res.json.result)).toBeFalsy();
      expect(portkey.requests.at(-1)!.headers['x-portkey-api-key']).toBe(KEY_A);
      expect(checked).toBe(2);
    } finally {
      vi.unstubAllEnvs();
      await server.close();
    }
  });

  it('a tenant limit holds across both replicas', async () => {
    portkey.reset();
    const env = { PORTKEY_API_KEY: SECRETS.portkeyKey, RATE_LIMIT_TENANT_PER_MINUTE: '3' };
    const [a, b] = await Promise.all([replica(env), replica(env)]);
    const bearer = await token();
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await invite([a, b][i % 2]!.url, `limit-${i}@example.com`, bearer));
    expect(results.map((r) => !!r.isError)).toEqual([false, false, false, true, true, true]);
    expect(results[3]!.text).toMatch(/Too many invites for tenant "default".*Retry after \d+ s/);
    expect(portkey.requests.filter((r) => r.method === 'POST')).toHaveLength(3);
    expect(logsOf(a, b)).not.toContain(redis.password);
  });

  it('a tenant entry written with the CLI is served by both; a rotated key is used by both within the TTL', async () => {
    portkey.reset();
    const bad = cli(['put', 'acme', '-'], JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_GLOBEX' } }));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/Refused: Tenant "acme": apiKey: .*not this tenant's key variable/);
    expect(cli(['put', 'acme', '-'], JSON.stringify({ apiKey: KEY_A })).status).toBe(0);
    const shown = cli(['get', 'acme']);
    expect(shown.stdout).toContain('not shown');
    expect(shown.stdout).not.toContain(KEY_A);
    // Every field an entry can have is shown, the exposed tools and the email domains included.
    expect(cli(['put', 'tooled', '-'], JSON.stringify({ apiKey: 'pk-tooled', allow: { emailDomains: ['example.com'] }, tools: ['invite_user', 'cancel_invite'] })).status).toBe(0);
    expect(JSON.parse(cli(['get', 'tooled']).stdout)).toMatchObject({ allow: { emailDomains: ['example.com'] }, tools: ['invite_user', 'cancel_invite'] });
    redis.cli('DEL', 'tenants:tooled');
    // Entries not in the shape the server reads (written around the CLI): nothing of them is shown.
    const oddShapes = [JSON.stringify({ api_key: KEY_A }), JSON.stringify(KEY_A), JSON.stringify({ apiKey: 'pk-x', allow: { note: KEY_A } }), JSON.stringify({ apiKey: { env: 'PORTKEY_KEY_ODD', key: KEY_A } })];
    for (const [i, value] of oddShapes.entries()) {
      redis.cli('SET', `tenants:odd${i}`, value);
      const odd = cli(['get', `odd${i}`]);
      expect(odd.status).toBe(1);
      expect(odd.stdout + odd.stderr).not.toContain(KEY_A);
      expect(odd.stderr).toMatch(/refused by the server's rules, so it is not shown.*\n.*Checked with this machine's settings/);
      redis.cli('DEL', `tenants:odd${i}`);
    }
    expect(cli(['check', 'acme', '-'], JSON.stringify({ apiKey: KEY_A })).stdout).toMatch(/Checked with this machine's settings/);
    expect(cli(['list']).stdout.trim()).toBe('acme');

    const env = { TENANTS_REDIS_PREFIX: 'tenants:', TENANTS_CACHE_TTL_MS: '500', RATE_LIMIT_TENANT_PER_MINUTE: '0' };
    const [a, b] = await Promise.all([replica(env), replica(env)]);
    const bearer = await token({ claims: { org_id: 'acme' } });
    for (const [i, r] of [a, b].entries()) expect((await invite(r.url, `cli-${i}@example.com`, bearer)).isError).toBeFalsy();
    expect(portkey.requests.map((r) => r.headers['x-portkey-api-key'])).toEqual([KEY_A, KEY_A]);

    expect(cli(['put', 'acme', '-'], JSON.stringify({ apiKey: KEY_B })).status).toBe(0);
    await new Promise((r) => setTimeout(r, 700));
    portkey.reset();
    for (const [i, r] of [a, b].entries()) expect((await invite(r.url, `rotated-${i}@example.com`, bearer)).isError).toBeFalsy();
    expect(portkey.requests.map((r) => r.headers['x-portkey-api-key'])).toEqual([KEY_B, KEY_B]);

    // An unknown tenant is refused, naming the claim; nothing is sent.
    const unknown = await invite(a.url, 'ghost@example.com', await token({ claims: { org_id: 'ghost' } }));
    expect(unknown.isError).toBe(true);
    expect(cli(['delete', 'acme']).status).toBe(0);
    expect(logsOf(a, b)).not.toContain(redis.password);
    expect(logsOf(a, b)).not.toContain(KEY_A);
  });

  it('Redis killed: a quick, clear, retryable error, nothing sent, audited, one warn line; Redis back: invites again, no restart', async (ctx) => {
    if (!redis.own) ctx.skip();
    portkey.reset();
    const env = { PORTKEY_API_KEY: SECRETS.portkeyKey, RATE_LIMIT_TENANT_PER_MINUTE: '100' };
    const a = await replica(env);
    const bearer = await token();
    expect((await invite(a.url, 'before@example.com', bearer)).isError).toBeFalsy();

    await redis.kill();
    const outcomes = [];
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const r = await invite(a.url, `down-${i}@example.com`, bearer);
      outcomes.push({ ...r, ms: Date.now() - started });
    }
    for (const o of outcomes) {
      expect(o.isError).toBe(true);
      expect(o.text).toMatch(/rate limiter is unavailable.*nothing was sent to Portkey\. Try again/);
      expect(o.ms).toBeLessThan(5_000); // bounded by the client's 1 s timeouts, not hung
    }
    expect(portkey.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
    await waitFor(() => events(a, 'audit.invite_user').length === 4, 'the audit lines');
    expect(events(a, 'audit.invite_user').slice(1).map((e) => e.outcome)).toEqual(['rate_limiter_unavailable', 'rate_limiter_unavailable', 'rate_limiter_unavailable']);
    expect(events(a, 'redis.unavailable')).toHaveLength(1);

    await redis.restart();
    await waitFor(() => events(a, 'redis.recovered').length === 1, 'the replica to reconnect');
    expect((await invite(a.url, 'after@example.com', bearer)).isError).toBeFalsy();
    expect(logsOf(a)).not.toContain(redis.password);
  });

  it('Redis stalls: each call is refused within about a second, one warn line names the stall, and the refused calls are not counted after it', async (ctx) => {
    if (!redis.own) ctx.skip();
    portkey.reset();
    redis.cli('FLUSHALL'); // earlier tests' counts for this tenant
    const a = await replica({ PORTKEY_API_KEY: SECRETS.portkeyKey, RATE_LIMIT_TENANT_PER_MINUTE: '5' });
    const bearer = await token();
    expect((await invite(a.url, 'before-stall@example.com', bearer)).isError).toBeFalsy();
    redis.stall();
    let results: { isError?: boolean; text: string; ms: number }[];
    try {
      // Two waves of concurrent calls: the second must not queue behind the first's wait.
      results = [];
      for (let wave = 0; wave < 2; wave++) {
        results.push(
          ...(await Promise.all(
            Array.from({ length: 20 }, async (_, i) => {
              const started = Date.now();
              const r = await invite(a.url, `stall-${wave}-${i}@example.com`, bearer);
              return { ...r, ms: Date.now() - started };
            }),
          )),
        );
      }
    } finally {
      redis.resume();
    }
    for (const r of results) {
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/rate limiter is unavailable.*nothing was sent to Portkey/);
      expect(r.ms).toBeLessThan(2_000);
    }
    const warned = events(a, 'redis.unavailable');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 'warn', reason: 'stalled' });
    await waitFor(() => events(a, 'redis.recovered').length === 1, 'the replica to reconnect');
    // Redis ran the increments that reached it during the stall, past their deadline: none counted.
    // 40 refused calls against a limit of 5: the next four invites still go through.
    for (let i = 0; i < 4; i++) expect((await invite(a.url, `after-stall-${i}@example.com`, bearer)).text).toMatch(/Successfully invited/);
    expect(portkey.requests.filter((r) => r.method === 'POST')).toHaveLength(5);
  });

  it('with the memory fallback, a stall is announced and calls go on, counted per process', async (ctx) => {
    if (!redis.own) ctx.skip();
    portkey.reset();
    const a = await replica({ PORTKEY_API_KEY: SECRETS.portkeyKey, RATE_LIMIT_TENANT_PER_MINUTE: '100', RATE_LIMIT_REDIS_FALLBACK: 'memory' });
    const bearer = await token();
    expect((await invite(a.url, 'fb-before@example.com', bearer)).isError).toBeFalsy();
    redis.stall();
    try {
      expect((await invite(a.url, 'fb-stalled@example.com', bearer)).isError).toBeFalsy();
      expect(events(a, 'redis.unavailable')).toHaveLength(1);
      expect(events(a, 'redis.unavailable')[0]).toMatchObject({ reason: 'stalled', effect: expect.stringMatching(/count per process/) });
    } finally {
      redis.resume();
    }
  });

  it("a reply error is logged by Redis's own first word (NOPERM), with what to do", async (ctx) => {
    if (!redis.own) ctx.skip();
    portkey.reset();
    redis.cli('ACL', 'SETUSER', 'readonly-pim', 'on', '>pim-readonly-SECRET-pw', '~*', '+get', '+ping', '+info', '+client', '+hello', '+time');
    observed.secrets.add('pim-readonly-SECRET-pw');
    const url = `redis://readonly-pim:pim-readonly-SECRET-pw@127.0.0.1:${redis.port}`;
    const a = await replica({ PORTKEY_API_KEY: SECRETS.portkeyKey, RATE_LIMIT_TENANT_PER_MINUTE: '100', REDIS_URL: url });
    const r = await invite(a.url, 'noperm@example.com', await token());
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/rate limiter is unavailable/);
    await waitFor(() => events(a, 'redis.unavailable').length === 1, 'the warn line');
    expect(events(a, 'redis.unavailable')[0]).toMatchObject({ reason: 'reply_error', redis_says: 'NOPERM', hint: expect.stringMatching(/ACL/) });
    expect(logsOf(a)).not.toContain('pim-readonly-SECRET-pw');
  });

  it('a database index the ACL user may not select is refused at start-up, naming REDIS_URL and the fix', async (ctx) => {
    if (!redis.own) ctx.skip();
    redis.cli('ACL', 'SETUSER', 'noselect-pim', 'on', '>pim-noselect-SECRET-pw', '~*', '+@all', '-select');
    observed.secrets.add('pim-noselect-SECRET-pw');
    const s = startChild(process.execPath, ['--import', tsx, entry], baseEnv({ PORTKEY_API_KEY: SECRETS.portkeyKey, REDIS_URL: `redis://noselect-pim:pim-noselect-SECRET-pw@127.0.0.1:${redis.port}/1` }));
    await waitFor(() => s.child.exitCode !== null, 'the server to refuse to start');
    expect(s.child.exitCode).not.toBe(0);
    expect(s.stdout() + s.stderr()).toMatch(/REDIS_URL names database 1, but Redis refused to select it \(NOPERM\).*\+select/);
    expect(s.stdout() + s.stderr()).not.toContain('pim-noselect-SECRET-pw');
  });

  it('with RATE_LIMIT_REDIS_FALLBACK=memory, calls go on (counted per process) while Redis is down, and that is logged', async (ctx) => {
    if (!redis.own) ctx.skip();
    portkey.reset();
    const a = await replica({ PORTKEY_API_KEY: SECRETS.portkeyKey, RATE_LIMIT_TENANT_PER_MINUTE: '100', RATE_LIMIT_REDIS_FALLBACK: 'memory' });
    await redis.kill();
    try {
      expect((await invite(a.url, 'fallback@example.com', await token())).isError).toBeFalsy();
      await waitFor(() => events(a, 'redis.unavailable').length === 1, 'the warn line');
      expect(events(a, 'redis.unavailable')[0]!.effect).toMatch(/count per process/);
    } finally {
      await redis.restart();
    }
  });
});
