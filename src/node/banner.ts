/**
 * Node only: what local mode prints on start, a token valid for an hour and a curl that lists
 * the tools, so a newcomer's first call works without reading further.
 */
import { mintToken } from '../auth/mint.js';
import { allScopes } from '../config/auth-settings.js';
import { type Config } from '../server-config.js';
import type { Logger } from '../log.js';
import { LOCAL_SECRET_FILE } from './env.js';

const TOKEN_TTL_S = 3600;

export async function printLocalBanner(config: Config, logger: Logger): Promise<void> {
  if (config.auth.keySource.kind !== 'secret') return;
  const claims: Record<string, unknown> = {};
  if (config.tenants.mode === 'multi') claims[config.auth.tenantClaim] = [...config.tenants.tenants.keys()][0];
  const token = await mintToken({
    secret: config.auth.keySource.secret,
    audience: config.auth.audiences[0]!,
    issuer: config.auth.issuer,
    subject: 'local-user',
    scopes: allScopes(config.auth),
    claims,
    ttlSeconds: TOKEN_TTL_S,
  });
  // The URL the token's audience names (http://localhost:PORT/mcp): a client that checks the
  // resource against the URL it was given (RFC 9728 §3.3) refuses any other spelling.
  const mcpUrl = config.resource;
  const missingKey = config.tenants.mode === 'single' && !config.tenants.tenant.apiKey;
  const curl = (body: string) =>
    `curl -s ${mcpUrl} -H 'Authorization: Bearer ${token}' -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d '${body}'`;
  const invite = '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"invite_user","arguments":{"email":"ada@example.com","role":"member","workspaces":[{"id":"ws-eng","role":"member"}]}}}';
  const portkeyLines = config.sandbox
    ? [
        'Portkey: the embedded SANDBOX answers (no PORTKEY_API_KEY set). Invites are kept in memory until the server stops;',
        'nothing is sent to Portkey and every answer says so. Set PORTKEY_API_KEY (or PORTKEY_SANDBOX=off) for the real Portkey.',
        '',
        'Send an invite to the sandbox (run it twice: the second answers "already invited", with the invite it found):',
        curl(invite),
      ]
    : [missingKey ? 'PORTKEY_API_KEY is not set: invite_user will answer with an error until you set it (environment or .env).' : 'Portkey key: configured.'];
  process.stdout.write(
    [
      '',
      `portkey-invite-mcp is running in LOCAL MODE at ${mcpUrl}`,
      `(no AUTH_JWT_SECRET / AUTH_PUBLIC_KEY / AUTH_JWKS_URL set: tokens are signed with the local secret in ${LOCAL_SECRET_FILE}, made on the first start)`,
      '',
      'Bearer token (valid 1 hour):',
      token,
      '',
      'List the tools:',
      curl('{"jsonrpc":"2.0","id":1,"method":"tools/list"}'),
      '',
      ...portkeyLines,
      '',
      `A token for another user or tenant (signed with the secret in ${LOCAL_SECRET_FILE}):`,
      'TOKEN=$(npm run -s token -- --sub bob --tenant acme)',
      ...(config.warnings.length ? ['', 'Warnings:', ...config.warnings.map((w) => `- ${w}`)] : []),
      '',
    ].join('\n'),
  );
  // For log readers: where, and how to get more tokens; the banner's token stays on the terminal.
  logger.info('server.local_mode', { mcp_url: mcpUrl, portkey_sandbox: config.sandbox, token_ttl_s: TOKEN_TTL_S, local_secret_file: LOCAL_SECRET_FILE });
}
