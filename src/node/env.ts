/**
 * Node only (imported by src/node.ts and the operator tools in src/node/cli/, never by the core): the environment
 * as the server and the token script both see it, `.env` included, and local mode's secret.
 */
import { existsSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError } from '../errors.js';

type Env = Record<string, string | undefined>;

/**
 * Settings that only make sense together. When the environment chooses one of a group's
 * `choices`, `.env`'s values for the whole group are ignored, so the environment's choice wins
 * entirely instead of clashing with `.env`'s ("Set only one of…").
 */
const GROUPS = [
  {
    choices: ['AUTH_JWT_SECRET', 'AUTH_PUBLIC_KEY', 'AUTH_JWKS_URL'],
    members: ['AUTH_JWT_SECRET', 'AUTH_PUBLIC_KEY', 'AUTH_JWKS_URL', 'AUTH_JWKS_COOLDOWN_MS', 'AUTH_ALGORITHMS', 'AUTH_ISSUER'],
  },
  // Where tenants' keys come from: one key, a table, or Redis entries (TENANTS_REDIS_PREFIX).
  {
    choices: ['PORTKEY_API_KEY', 'TENANTS', 'TENANTS_FILE', 'TENANTS_REDIS_PREFIX'],
    members: ['PORTKEY_API_KEY', 'TENANTS', 'TENANTS_FILE', 'TENANTS_REDIS_PREFIX'],
  },
];

/** The environment with `.env` (when the file exists) filled in under it. */
export function withDotEnv(env: Env, path = '.env'): Env {
  if (!existsSync(path)) return env;
  let fromFile: Env;
  try {
    fromFile = parseEnv(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the file.`);
  }
  const isSet = (name: string) => (env[name]?.trim() ?? '') !== '';
  for (const group of GROUPS) {
    if (group.choices.some(isSet)) for (const name of group.members) delete fromFile[name];
  }
  return { ...fromFile, ...env };
}

export const LOCAL_SECRET_FILE = '.local-secret';

/** True when no key source is set: the server runs in local mode. */
export function isLocalMode(env: Env): boolean {
  return !GROUPS[0]!.choices.some((name) => (env[name]?.trim() ?? '') !== '');
}

/** Reads local mode's signing secret (base64url, at least 32 bytes); undefined when there is none yet. */
export function readLocalSecret(path = LOCAL_SECRET_FILE): Uint8Array | undefined {
  if (!existsSync(path)) return undefined;
  const bytes = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
  if (bytes.byteLength < 32) {
    throw new ConfigError(`${path} does not hold a local secret (at least 32 bytes, base64url): delete it, and the next local-mode start makes a new one.`);
  }
  return new Uint8Array(bytes);
}

/**
 * Local mode's secret, kept in a git-ignored file (mode 0600) so `npm run token` can mint
 * tokens for other users and tenants of the same local server, across restarts.
 */
export function readOrCreateLocalSecret(path = LOCAL_SECRET_FILE): Uint8Array {
  const existing = readLocalSecret(path);
  if (existing) return existing;
  const secret = crypto.getRandomValues(new Uint8Array(32));
  // Written aside and linked into place: two servers starting at once never read a half-written file.
  const aside = `${path}.${process.pid}.tmp`;
  writeFileSync(aside, `${Buffer.from(secret).toString('base64url')}\n`, { mode: 0o600 });
  try {
    linkSync(aside, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readLocalSecret(path)!;
  } finally {
    unlinkSync(aside);
  }
  return secret;
}
