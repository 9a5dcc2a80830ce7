/**
 * Mints an HS256 access token from AUTH_JWT_SECRET, for local use and tests:
 *   npm run token -- --sub alice --tenant acme [--scope "portkey.invite portkey.invite.admin"] [--ttl 1h]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { mintToken, parseTtl } from '../src/auth/mint.js';
import { ConfigError } from '../src/config.js';
import { loadNodeConfig } from '../src/node.js';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    tenant: { type: 'string' },
    scope: { type: 'string', multiple: true },
    ttl: { type: 'string', default: '1h' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
}).valueOf() as { values: { sub?: string; tenant?: string; scope?: string[]; ttl: string; help?: boolean } };

if (values.help) {
  console.log('Usage: npm run token -- --sub <subject> [--tenant <id>] [--scope "<scopes>"]... [--ttl 1h]');
  process.exit(0);
}
if (existsSync('.env')) process.loadEnvFile('.env');
if (!process.env.AUTH_JWT_SECRET?.trim()) {
  fail('AUTH_JWT_SECRET is not set: this command signs tokens with it. Set it (at least 32 bytes) in the environment or .env.');
}
if (!values.sub) fail('Give the caller with --sub <subject>, e.g. --sub alice.');

let config;
try {
  config = loadNodeConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) fail(`Configuration error: ${err.message}`);
  throw err;
}
if (config.auth.keySource.kind !== 'secret') fail('npm run token needs AUTH_JWT_SECRET (not a public key or JWKS).');

let ttlSeconds: number;
try {
  ttlSeconds = parseTtl(values.ttl);
} catch (err) {
  fail((err as Error).message);
}
const scopes = values.scope
  ? values.scope.flatMap((s) => s.split(/[\s,]+/)).filter(Boolean)
  : [...config.auth.requiredScopes];
const claims: Record<string, unknown> = {};
if (values.tenant) claims[config.auth.tenantClaim] = values.tenant;

const token = await mintToken({
  secret: config.auth.keySource.secret,
  audience: config.auth.audience,
  issuer: config.auth.issuer,
  subject: values.sub,
  scopes,
  claims,
  ttlSeconds,
});
process.stdout.write(`${token}\n`);
