/**
 * Tenant entries in Redis (REDIS_URL, TENANTS_REDIS_PREFIX), checked with the server's own parser
 * and rules before anything is written, so an operator never stores an entry the server refuses:
 *   npm run -s tenants -- put <tenant id> <file | ->   check and write (JSON from a file or stdin)
 *   npm run -s tenants -- check <tenant id> <file | -> check only
 *   npm run -s tenants -- get <tenant id>              print the entry (an inline key is not shown)
 *   npm run -s tenants -- delete <tenant id>
 *   npm run -s tenants -- list                         the tenant ids under the prefix
 * It reads the environment and .env as the server does. REDIS_URL is never printed.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig, type Config } from '../../server-config.js';
import { SERVER_VARIABLES } from '../../config/variables.js';
import { parseTenantEntry, TENANT_KEY_PREFIX, type Tenant } from '../../tenants/tenant-table.js';
import { upstreamHosts } from '../../tenants/upstream-hosts.js';
import { withDotEnv } from '../env.js';

const USAGE = [
  'Usage: npm run -s tenants -- <command> [arguments]',
  '',
  '  put <tenant id> <file | ->     check the entry with the server\'s rules, then write it',
  '  check <tenant id> <file | ->   check only; nothing is written',
  '  get <tenant id>                print the entry (an inline apiKey is not shown)',
  '  delete <tenant id>             remove the entry',
  '  list                           the tenant ids stored under TENANTS_REDIS_PREFIX',
  '',
  'Needs REDIS_URL and TENANTS_REDIS_PREFIX (environment or .env), as the server reads them.',
  'Every replica serves a written entry within TENANTS_CACHE_TTL_MS (default 30 s).',
].join('\n');

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

const [command, id, source, ...extra] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h') fail(USAGE, command ? 0 : 2);
const arity: Record<string, number> = { put: 2, check: 2, get: 1, delete: 1, list: 0 };
if (!(command in arity)) fail(`Unknown command ${JSON.stringify(command)}.\n\n${USAGE}`, 2);
const given = [id, source].filter((a) => a !== undefined).length;
if (given !== arity[command] || extra.length) fail(`${command} takes ${arity[command]} argument(s).\n\n${USAGE}`, 2);

const env = withDotEnv(process.env);
let config: Config;
try {
  // Only the settings the entry rules depend on; the server's key source does not matter here.
  config = loadConfig({ ...env, AUTH_JWT_SECRET: 'x'.repeat(32), AUTH_PUBLIC_KEY: undefined, AUTH_JWKS_URL: undefined, PORTKEY_API_KEY: undefined, TENANTS: undefined });
} catch (err) {
  if (err instanceof ConfigError) fail(`Configuration error: ${err.problems.join('\n')}`);
  throw err;
}
const redisConfig = config.redis;
if (!redisConfig?.tenantsPrefix) fail('REDIS_URL and TENANTS_REDIS_PREFIX must both be set (environment or .env).');
const prefix = redisConfig.tenantsPrefix;

/** Whose settings an entry was checked with: this machine's, which each replica's may differ from. */
const CHECKED_WITH =
  "Checked with this machine's settings (environment and .env: PORTKEY_BASE_URL, PORTKEY_ALLOWED_HOSTS, INSECURE_HTTP_HOSTS, " +
  'PORTKEY_KEY_* variables); each replica checks the entry again with its own when it reads it.';

function parseJson(tenantId: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    fail(`The entry for ${JSON.stringify(tenantId)} is not valid JSON: the server refuses it. Put a valid one.`);
  }
}

/**
 * Reads an entry exactly as the server will read it from Redis, with this machine's settings:
 * the server's own problem (it names fields and variables, never values), or the tenant.
 */
function readEntry(tenantId: string, entry: unknown): { problem: string } | { tenant: Tenant; variableUnsetHere?: string } {
  // The server resolves {"env": NAME} on each replica; here a variable that is not set is only a note.
  const ownVariable = typeof entry === 'object' && entry && typeof (entry as { apiKey?: { env?: unknown } }).apiKey === 'object'
    ? (entry as { apiKey: { env?: unknown } }).apiKey.env
    : undefined;
  const keyEnv = { ...env };
  const unset = typeof ownVariable === 'string' && ownVariable.startsWith(TENANT_KEY_PREFIX) && !keyEnv[ownVariable] ? ownVariable : undefined;
  if (unset) keyEnv[unset] = 'placeholder-key';
  try {
    const tenant = parseTenantEntry(tenantId, entry, {
      env: keyEnv,
      defaultBaseUrl: config.portkeyBaseUrl,
      allowedHosts: upstreamHosts(config.portkeyAllowedHosts, config.portkeyBaseUrl),
      serverVariables: SERVER_VARIABLES,
      insecureHttpHosts: config.insecureHttpHosts,
      external: true,
    });
    return { tenant, variableUnsetHere: unset };
  } catch (err) {
    if (err instanceof ConfigError) return { problem: err.message };
    throw err;
  }
}

const noteUnset = (tenantId: string, variable: string | undefined) => {
  if (variable) console.error(`Note: ${variable} is not set here; it must be set on every replica, or calls for ${JSON.stringify(tenantId)} are refused.`);
};

/** Checks an entry as the server will read it; returns the JSON to store. */
function checkEntry(tenantId: string, text: string): string {
  const entry = parseJson(tenantId, text);
  const read = readEntry(tenantId, entry);
  if ('problem' in read) fail(`Refused: ${read.problem}\n${CHECKED_WITH}`);
  noteUnset(tenantId, read.variableUnsetHere);
  return JSON.stringify(entry);
}

function readSource(from: string): string {
  try {
    return readFileSync(from === '-' ? 0 : from, 'utf8');
  } catch (err) {
    fail(`Cannot read ${from === '-' ? 'standard input' : JSON.stringify(from)} (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
  }
}

/**
 * The entry as the server reads it, its known fields only, an inline key replaced by a note (the key
 * is a secret). An entry the server refuses is not shown at all: in an unexpected shape (`api_key`,
 * a bare string, a nested field) a key may sit anywhere.
 */
function shown(tenantId: string, text: string): string {
  const entry = parseJson(tenantId, text) as { apiKey: unknown; baseUrl?: unknown; allow?: unknown; tools?: unknown };
  const read = readEntry(tenantId, entry);
  if ('problem' in read) {
    fail(`The entry for ${JSON.stringify(tenantId)} is refused by the server's rules, so it is not shown (a key may sit in any field): ${read.problem}\n${CHECKED_WITH}`);
  }
  noteUnset(tenantId, read.variableUnsetHere);
  // The schema the entry just passed is strict: these are all the fields it can have.
  const known = {
    apiKey: typeof entry.apiKey === 'string' ? `<inline key, ${entry.apiKey.length} characters, not shown>` : entry.apiKey,
    ...(entry.baseUrl !== undefined ? { baseUrl: entry.baseUrl } : {}),
    ...(entry.allow !== undefined ? { allow: entry.allow } : {}),
    ...(entry.tools !== undefined ? { tools: entry.tools } : {}),
  };
  return JSON.stringify(known, null, 2);
}

if (command === 'check') {
  checkEntry(id!, readSource(source!));
  console.log(`OK: the entry for ${JSON.stringify(id)} follows the server's rules.\n${CHECKED_WITH}`);
  process.exit(0);
}

const client = new Redis(redisConfig.url, { connectTimeout: 3_000, commandTimeout: 3_000, maxRetriesPerRequest: 1, enableOfflineQueue: true, retryStrategy: () => null });
client.on('error', () => {});
try {
  if (command === 'put') {
    const json = checkEntry(id!, readSource(source!));
    await client.set(`${prefix}${id}`, json);
    console.log(`Stored the entry for ${JSON.stringify(id)} at ${prefix}${id}; every replica serves it within ${config.tenantsCacheTtlMs} ms.\n${CHECKED_WITH}`);
  } else if (command === 'get') {
    const text = await client.get(`${prefix}${id}`);
    if (text === null) fail(`No entry for ${JSON.stringify(id)} at ${prefix}${id}.`);
    console.log(shown(id!, text));
  } else if (command === 'delete') {
    const removed = await client.del(`${prefix}${id}`);
    console.log(removed ? `Deleted the entry for ${JSON.stringify(id)}.` : `No entry for ${JSON.stringify(id)}; nothing deleted.`);
  } else {
    const ids: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 500);
      cursor = next;
      ids.push(...keys.map((k) => k.slice(prefix.length)));
    } while (cursor !== '0');
    console.log(ids.sort().join('\n'));
  }
} catch (err) {
  fail(`Redis could not be reached or refused the command (${(err as NodeJS.ErrnoException).code ?? (err as Error).name}); REDIS_URL is not shown.`);
} finally {
  client.disconnect();
}
