/**
 * Node only: the configuration as the Node entry builds it. The environment (and .env),
 * TENANTS_FILE read in, local mode's secret, and PORT=0 resolved to a free port; a refusal to
 * start names every problem, never a value.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { ConfigError, loadConfig, type Config } from '../server-config.js';
import { createLogger } from '../log.js';
import { isLocalMode, LOCAL_SECRET_FILE, readOrCreateLocalSecret } from './env.js';
import type { BatchedStdout } from './stdout.js';

/** The environment as the core expects it: on Node, TENANTS may also come from a file. */
export function readNodeEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const file = env.TENANTS_FILE?.trim();
  if (!file) return env;
  if (env.TENANTS?.trim()) throw new ConfigError('Both TENANTS and TENANTS_FILE are set: choose one.');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`TENANTS_FILE ${JSON.stringify(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path.`);
  }
  return { ...env, TENANTS: text };
}

/**
 * The Node configuration: the environment, TENANTS_FILE read in (messages naming the file), and
 * in local mode the secret kept in .local-secret. Every problem is reported at once.
 */
export function loadNodeConfig(env: Record<string, string | undefined>): Config {
  const file = env.TENANTS_FILE?.trim();
  const problems: string[] = [];
  let withTenants = env;
  try {
    withTenants = readNodeEnv(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.problems);
  }
  let localSecret: Uint8Array | undefined;
  const warnings: string[] = [];
  if (isLocalMode(env)) {
    try {
      localSecret = readOrCreateLocalSecret();
    } catch (err) {
      if (err instanceof ConfigError) problems.push(...err.problems);
      // An unwritable working directory: this run's tokens still work, npm run token cannot mint more.
      else warnings.push(`${LOCAL_SECRET_FILE} cannot be written here (${(err as NodeJS.ErrnoException).code ?? 'error'}): tokens are signed with a secret for this run only, so npm run token cannot mint more.`);
    }
  }
  const config = loadConfig(withTenants, { tenantsSource: file ? `TENANTS_FILE ${JSON.stringify(file)}` : undefined, localSecret, problems });
  return { ...config, warnings: [...config.warnings, ...warnings] };
}

/**
 * PORT=0 without PUBLIC_URL: a free port is chosen before the configuration is built, so the
 * resource (and a token's audience, http://localhost:<PORT>/mcp) names the port actually served.
 */
export async function withFreePort(env: Record<string, string | undefined>): Promise<Record<string, string | undefined>> {
  if (env.PORT?.trim() !== '0' || env.PUBLIC_URL?.trim()) return env;
  const port = await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, env.HOST?.trim() || '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
  return { ...env, PORT: String(port) };
}

/** Configuration problems, for people (stderr) and as a JSON line (stdout); never a value. */
export function refuseToStart(err: ConfigError, stdout: BatchedStdout): never {
  const { problems } = err;
  console.error(
    problems.length === 1
      ? `Configuration error: ${problems[0]}`
      : `Configuration errors (${problems.length}):\n${problems.map((p) => `- ${p}`).join('\n')}`,
  );
  createLogger(stdout.write).error('config.invalid', { problems });
  stdout.flush();
  process.exit(1);
}
