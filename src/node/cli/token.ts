/**
 * Mints an HS256 access token, for local use and tests:
 *   TOKEN=$(npm run -s token -- --sub alice --tenant acme [--scope "portkey.invite portkey.invite.admin"] [--ttl 1h])
 * It reads the environment and .env exactly as the server does, and signs with AUTH_JWT_SECRET,
 * or in local mode (no key source set) with the local server's secret in .local-secret.
 */
import { parseArgs } from 'node:util';
import { mintToken, parseTtl } from '../../auth/mint.js';
import { ConfigError } from '../../server-config.js';
import { loadNodeConfig } from '../../node.js';
import { isLocalMode, LOCAL_SECRET_FILE, readLocalSecret, withDotEnv } from '../env.js';

const USAGE = [
  'Usage: npm run -s token -- --sub <subject> [--tenant <id>] [--scope "<scopes>"]... [--ttl <duration>]',
  '',
  '  --sub     the caller (the token\'s "sub"), required',
  '  --tenant  the tenant id, put in the TENANT_CLAIM claim (default claim org_id)',
  '  --scope   scopes, space or comma separated; repeatable (default: AUTH_REQUIRED_SCOPES)',
  '  --ttl     lifetime: seconds, or e.g. 30m, 1h, 7d (default 1h)',
  '',
  'Signs with AUTH_JWT_SECRET (environment or .env), or in local mode with the secret the local',
  `server keeps in ${LOCAL_SECRET_FILE}. Example: TOKEN=$(npm run -s token -- --sub alice --tenant acme)`,
].join('\n');

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

let values: { sub?: string; tenant?: string; scope?: string[]; ttl: string; help?: boolean };
try {
  values = parseArgs({
    options: {
      sub: { type: 'string' },
      tenant: { type: 'string' },
      scope: { type: 'string', multiple: true },
      ttl: { type: 'string', default: '1h' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values as typeof values;
} catch (err) {
  // node:util parseArgs: an unknown flag, a missing value, a stray argument.
  fail(`${(err as Error).message}\n\n${USAGE}`, 2);
}

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.sub) fail(`Give the caller with --sub <subject>, e.g. --sub alice.\n\n${USAGE}`, 2);

let config;
try {
  const env = withDotEnv(process.env);
  if (isLocalMode(env) && !readLocalSecret()) {
    fail(
      `AUTH_JWT_SECRET is not set, and there is no ${LOCAL_SECRET_FILE} here: this command signs tokens with one of them. ` +
        `Set AUTH_JWT_SECRET (at least 32 bytes) in the environment or .env, or start the server in local mode (npm start) ` +
        `in this directory once, which creates ${LOCAL_SECRET_FILE}.`,
    );
  }
  config = loadNodeConfig(env);
} catch (err) {
  if (err instanceof ConfigError) {
    fail(err.problems.length === 1 ? `Configuration error: ${err.message}` : `Configuration errors:\n${err.problems.map((p) => `- ${p}`).join('\n')}`);
  }
  throw err;
}
for (const warning of config.warnings) console.error(`Warning: ${warning}`);
if (config.auth.keySource.kind !== 'secret') fail('npm run token needs AUTH_JWT_SECRET (or local mode): it cannot sign for a public key or JWKS.');

let ttlSeconds: number;
try {
  ttlSeconds = parseTtl(values.ttl);
} catch (err) {
  fail((err as Error).message, 2);
}
const scopes = values.scope ? values.scope.flatMap((s) => s.split(/[\s,]+/)).filter(Boolean) : [...config.auth.requiredScopes];
const claims: Record<string, unknown> = {};
if (values.tenant) claims[config.auth.tenantClaim] = values.tenant;

const token = await mintToken({
  secret: config.auth.keySource.secret,
  audience: config.auth.audiences[0]!,
  issuer: config.auth.issuer,
  subject: values.sub,
  scopes,
  claims,
  ttlSeconds,
});
process.stdout.write(`${token}\n`);
