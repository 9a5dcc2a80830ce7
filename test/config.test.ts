/**
 * Configuration that catches mistakes: every problem at once, misspelt names with the closest
 * known name, HOST without PUBLIC_URL, no Portkey key, and .env under the environment with the
 * key source chosen as a whole. Messages are pinned by snapshot: they are the interface.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/server-config.js';
import { KNOWN_VARIABLES } from '../src/config/variables.js';
import { closestName, editDistance } from '../src/config/unknown-variables.js';
import { clientAddress } from '../src/http/client-address.js';
import { withDotEnv } from '../src/node/env.js';
import { SECRETS } from './support/harness.js';
import { scratchDir } from './support/scratch.js';

const SECRET = SECRETS.jwtSecret;

function problems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration problems are all reported at once', () => {
  it('names every bad value, not only the first', () => {
    expect(problems({ PORT: 'abc', PORTKEY_TIMEOUT_MS: 'soon' })).toMatchInlineSnapshot(`
      [
        "Invalid PORT: Invalid input: expected number, received NaN. Expected a whole number from 0 to 65535.",
        "Invalid PORTKEY_TIMEOUT_MS: Invalid input: expected number, received NaN. Expected a whole number of milliseconds from 1 to 120000 (default 10000).",
      ]
    `);
  });

  it('collects value problems and cross-field problems together, one per line, never a value', () => {
    const env = {
      AUTH_JWT_SECRET: 'short-SECRET',
      AUTH_JWKS_URL: 'https://issuer.example.com/jwks.json',
      LOG_LEVEL: 'loud',
      TRUST_PROXY: 'yes',
      ALLOWED_ORIGINS: 'https://ok.example.com, not-an-origin',
      PORTKEY_API_KEY: 'pk-SECRET-1',
      TENANTS: '{"acme": {"apiKey": "pk-SECRET-2"}}',
    };
    const list = problems(env);
    expect(list).toMatchInlineSnapshot(`
      [
        "Invalid LOG_LEVEL: Invalid option: expected one of "debug"|"info"|"warn"|"error". Expected one of debug, info, warn, error (default info).",
        "Invalid TRUST_PROXY: Invalid input: expected number, received NaN. Expected the number of reverse proxies in front of this server that append to X-Forwarded-For, from 0 to 16 (default 0: the header is ignored).",
        "Set only one of AUTH_JWT_SECRET, AUTH_PUBLIC_KEY, AUTH_JWKS_URL (found AUTH_JWT_SECRET, AUTH_JWKS_URL).",
        "AUTH_JWT_SECRET is too short (12 bytes): use at least 32 bytes, e.g. the output of \`openssl rand -base64 48\`.",
        "Both PORTKEY_API_KEY and TENANTS are set: choose one (PORTKEY_API_KEY for one tenant, TENANTS for several).",
        "ALLOWED_ORIGINS entry "not-an-origin" is not an origin: use scheme://host[:port], e.g. https://app.example.com.",
      ]
    `);
    const message = (() => {
      try {
        loadConfig(env);
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(message).toBe(list.join('\n'));
    for (const secret of ['short-SECRET', 'pk-SECRET-1', 'pk-SECRET-2']) expect(message).not.toContain(secret);
  });

  it('refuses a non-loopback HOST without PUBLIC_URL, since every token would then fail on audience', () => {
    expect(problems({ HOST: '0.0.0.0', AUTH_JWT_SECRET: SECRET })).toMatchInlineSnapshot(`
      [
        "PUBLIC_URL is required when HOST (0.0.0.0) is not a loopback address: set it to the URL clients reach this server at (e.g. https://mcp.example.com); tokens must carry the audience <PUBLIC_URL>/mcp.",
      ]
    `);
    expect(problems({ HOST: '10.0.0.5', AUTH_JWKS_URL: 'https://issuer.example.com/jwks', AUTH_ISSUER: 'https://issuer.example.com/' })).toHaveLength(1);
    expect(() => loadConfig({ HOST: '0.0.0.0', AUTH_JWT_SECRET: SECRET, PUBLIC_URL: 'https://mcp.example.com' })).not.toThrow();
    for (const host of ['127.0.0.1', '::1', 'localhost']) expect(() => loadConfig({ HOST: host, AUTH_JWT_SECRET: SECRET })).not.toThrow();
  });
});

describe('warnings', () => {
  const warningsOf = (env: Record<string, string>) => loadConfig(env).warnings;

  it('names a misspelt variable and the closest known name', () => {
    expect(warningsOf({ AUTH_JWKS_URI: 'https://issuer.example.com/jwks', PORTKEY_API_KEY: 'pk', RATE_LIMIT_CALER_PER_MINUTE: '5', LOG_LEVLE: 'debug', TENANT_CLIAM: 'org' }))
      .toMatchInlineSnapshot(`
        [
          "AUTH_JWKS_URI is not a setting this server reads (ignored); did you mean AUTH_JWKS_URL?",
          "RATE_LIMIT_CALER_PER_MINUTE is not a setting this server reads (ignored); did you mean RATE_LIMIT_CALLER_PER_MINUTE?",
          "LOG_LEVLE is not a setting this server reads (ignored); did you mean LOG_LEVEL?",
          "TENANT_CLIAM is not a setting this server reads (ignored); did you mean TENANT_CLAIM?",
        ]
      `);
    expect(warningsOf({ auth_jwt_secret: 'x', PORTKEY_API_KEY: 'pk' })).toEqual([
      'auth_jwt_secret is not a setting this server reads (ignored); did you mean AUTH_JWT_SECRET?',
    ]);
    expect(warningsOf({ AUTH_SOMETHING_ELSE_ENTIRELY: 'x', PORTKEY_API_KEY: 'pk' })).toEqual([
      'AUTH_SOMETHING_ELSE_ENTIRELY is not a setting this server reads (ignored); see docs/configuration.md for the names.',
    ]);
  });

  it('leaves alone tenant key variables, names read outside the schema, and variables without our prefixes', () => {
    expect(
      warningsOf({
        PORTKEY_API_KEY: 'pk',
        PORTKEY_KEY_ACME: 'pk-acme',
        TENANTS_FILE: '/etc/tenants.json',
        TENANTS_KV: 'x',
        HTTP_PROXY: 'http://proxy:3128',
        PATH: '/usr/bin',
        NODE_ENV: 'production',
        ...Object.fromEntries(KNOWN_VARIABLES.filter((n) => !/^(AUTH_|TENANTS$|PORTKEY_API_KEY|PUBLIC_URL|HOST|PORT$)/.test(n)).map((n) => [n, ''])),
      }),
    ).toEqual([]);
  });

  it('warns when no Portkey key is configured outside local mode (and not in local mode, which says so in its banner)', () => {
    expect(warningsOf({ AUTH_JWT_SECRET: SECRET })).toMatchInlineSnapshot(`
      [
        "No Portkey key is configured (neither PORTKEY_API_KEY nor TENANTS, TENANTS_FILE, TENANTS_REDIS_PREFIX (Node) or TENANTS_KV (Workers) is set): every invite_user call will fail with "not configured" until one is.",
      ]
    `);
    expect(warningsOf({})).toEqual([]);
    expect(warningsOf({ AUTH_JWT_SECRET: SECRET, PORTKEY_API_KEY: 'pk' })).toEqual([]);
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET }, { externalTenants: true }).warnings).toEqual([]);
  });

  it('suggests by edit distance with transpositions', () => {
    expect(editDistance('LEVLE', 'LEVEL')).toBe(1);
    expect(closestName('PORTKEY_BASE_ULR', KNOWN_VARIABLES)).toBe('PORTKEY_BASE_URL');
    expect(closestName('AUTH_XYZ_QQQQQQQQQQ', KNOWN_VARIABLES)).toBeUndefined();
  });
});

describe('LOG_LEVEL and TRUST_PROXY', () => {
  it('default to info and 0', () => {
    expect(loadConfig({})).toMatchObject({ logLevel: 'info', trustProxyHops: 0 });
    expect(loadConfig({ LOG_LEVEL: 'debug', TRUST_PROXY: '2' })).toMatchObject({ logLevel: 'debug', trustProxyHops: 2 });
  });
});

describe('the caller address for the audit line', () => {
  it.each([
    ['no proxy trusted: the socket, whatever the header says', '10.0.0.9', '203.0.113.7', 0, '10.0.0.9'],
    ['one proxy: the entry it appended, not the client-supplied ones left of it', '10.0.0.9', '6.6.6.6, 203.0.113.7', 1, '203.0.113.7'],
    ['two proxies: the entry the outer proxy appended', '10.0.0.9', '6.6.6.6, 203.0.113.7, 10.0.0.2', 2, '203.0.113.7'],
    ['fewer entries than proxies: the left-most, written by a trusted proxy', '10.0.0.9', '203.0.113.7', 3, '203.0.113.7'],
    ['a trusted proxy that sent no header: the socket', '10.0.0.9', undefined, 1, '10.0.0.9'],
    ['an empty header: the socket', '10.0.0.9', ' , ', 1, '10.0.0.9'],
  ])('%s', (_, socket, header, hops, expected) => {
    expect(clientAddress(socket, header, hops)).toBe(expected);
  });
});

describe('.env under the environment', () => {
  const dotenv = (text: string) => {
    const path = join(scratchDir('pim-env-'), '.env');
    writeFileSync(path, text);
    return path;
  };

  it('fills in what the environment does not set, and never overrides it', () => {
    const path = dotenv('PORT=9999\nLOG_LEVEL=debug\nPORTKEY_API_KEY=pk-dotenv\n');
    expect(withDotEnv({ PORT: '8000' }, path)).toMatchObject({ PORT: '8000', LOG_LEVEL: 'debug', PORTKEY_API_KEY: 'pk-dotenv' });
  });

  it("takes the environment's key source as a whole: .env's key source settings are dropped, not mixed in", () => {
    const path = dotenv('AUTH_JWKS_URL=https://issuer.example.com/jwks\nAUTH_ISSUER=https://issuer.example.com/\nAUTH_ALGORITHMS=RS256\nTENANTS={"acme":{"apiKey":"pk"}}\n');
    const env = withDotEnv({ AUTH_JWT_SECRET: SECRET, PORTKEY_API_KEY: 'pk-env' }, path);
    expect(env).not.toHaveProperty('AUTH_JWKS_URL');
    expect(env).not.toHaveProperty('AUTH_ISSUER');
    expect(env).not.toHaveProperty('AUTH_ALGORITHMS');
    expect(env).not.toHaveProperty('TENANTS');
    const config = loadConfig(env);
    expect(config.auth.keySource.kind).toBe('secret');
    expect(config.tenants.mode).toBe('single');
  });

  it("takes the environment's tenant source as a whole: PORTKEY_API_KEY there drops .env's TENANTS_REDIS_PREFIX, and the other way round", () => {
    const path = dotenv('TENANTS_REDIS_PREFIX=tenants:\nREDIS_URL=redis://127.0.0.1:6379\n');
    const env = withDotEnv({ AUTH_JWT_SECRET: SECRET, PORTKEY_API_KEY: 'pk-env' }, path);
    expect(env).not.toHaveProperty('TENANTS_REDIS_PREFIX');
    expect(env).toMatchObject({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(loadConfig(env).tenants.mode).toBe('single');
    const other = withDotEnv({ TENANTS_REDIS_PREFIX: 'tenants:' }, dotenv('PORTKEY_API_KEY=pk-dotenv\n'));
    expect(other).not.toHaveProperty('PORTKEY_API_KEY');
  });

  it("keeps .env's key source when the environment chooses none", () => {
    const path = dotenv('AUTH_JWKS_URL=https://issuer.example.com/jwks\nAUTH_ISSUER=https://issuer.example.com/\n');
    expect(withDotEnv({ AUTH_ISSUER: 'https://other.example.com/' }, path)).toMatchObject({
      AUTH_JWKS_URL: 'https://issuer.example.com/jwks',
      AUTH_ISSUER: 'https://other.example.com/',
    });
  });
});

describe('EXPOSED_TOOLS', () => {
  it('names the tools every tenant without its own list exposes; an unknown name stops start-up; a misspelt variable is warned about', () => {
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET }).defaultTools).toEqual(['invite_user', 'list_invites']);
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET, EXPOSED_TOOLS: 'invite_user, cancel_invite' }).defaultTools).toEqual(['invite_user', 'cancel_invite']);
    expect(problems({ AUTH_JWT_SECRET: SECRET, EXPOSED_TOOLS: 'invite_user delete_everything' })).toEqual([
      'EXPOSED_TOOLS names "delete_everything", which this server does not have: use invite_user, list_invites, cancel_invite, resend_invite.',
    ]);
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET, PORTKEY_API_KEY: 'pk-x', EXPOSED_TOOL: 'cancel_invite' }).warnings).toEqual([expect.stringMatching(/^EXPOSED_TOOL is not a setting .*EXPOSED_TOOLS/)]);
  });
});

describe('the embedded Portkey sandbox (PORTKEY_SANDBOX)', () => {
  it('is on by default in local mode without a Portkey key, and answers for the single tenant', () => {
    const config = loadConfig({});
    expect(config.sandbox).toBe(true);
    expect(config.tenants).toMatchObject({ mode: 'single', tenant: { baseUrl: 'https://portkey-sandbox.invalid/v1' } });
  });

  it('is off in local mode once a Portkey key or tenants are set, or PORTKEY_SANDBOX=off', () => {
    expect(loadConfig({ PORTKEY_API_KEY: 'pk-x' }).sandbox).toBe(false);
    expect(loadConfig({ TENANTS: JSON.stringify({ acme: { apiKey: 'pk-acme' } }) }).sandbox).toBe(false);
    const off = loadConfig({ PORTKEY_SANDBOX: 'off' });
    expect(off.sandbox).toBe(false);
    expect(off.tenants).toMatchObject({ mode: 'single', tenant: { apiKey: undefined, baseUrl: 'https://api.portkey.ai/v1' } });
  });

  it('can never be on outside local mode: PORTKEY_SANDBOX=on with a key source stops start-up', () => {
    expect(loadConfig({ AUTH_JWT_SECRET: SECRET }).sandbox).toBe(false);
    expect(problems({ AUTH_JWT_SECRET: SECRET, PORTKEY_SANDBOX: 'on' })).toEqual([
      expect.stringMatching(/^PORTKEY_SANDBOX=on is only allowed in local mode .*Remove PORTKEY_SANDBOX\.$/),
    ]);
    expect(problems({ PORTKEY_SANDBOX: 'yes' })[0]).toMatch(/^Invalid PORTKEY_SANDBOX: .* Expected on \(/);
  });
});
