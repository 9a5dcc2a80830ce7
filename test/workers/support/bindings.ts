/**
 * The Worker's bindings in the workerd suite. Imported by vitest.workers.config.ts (Node, to set
 * the miniflare bindings) and by the tests (workerd, to mint tokens and assert), so both agree.
 * Distinctive values: setup.ts fails a file if any of them shows up in a response or log line.
 */
export const PUBLIC_URL = 'http://mcp.test';
export const MCP_URL = `${PUBLIC_URL}/mcp`;
/** Never resolvable: every request to it must be answered by the fake (fake-portkey.ts). */
export const PORTKEY_BASE_URL = 'https://portkey.test/v1';
export const ISSUER = 'https://issuer.test/';

export const SECRETS = {
  portkeyKey: 'pk-admin-SECRET-workers',
  kvTenantKey: 'pk-admin-SECRET-kv-acme',
  jwtSecret: 'jwt-secret-SECRET-workers-0123456789abcdef0123456789',
} as const;

/** String bindings only: src/worker.ts treats every string binding as configuration. */
export const WORKER_BINDINGS: Record<string, string> = {
  AUTH_JWT_SECRET: SECRETS.jwtSecret,
  PUBLIC_URL,
  PORTKEY_API_KEY: SECRETS.portkeyKey,
  PORTKEY_BASE_URL,
  PORTKEY_TIMEOUT_MS: '2000',
  // A misspelt setting (LOG_LEVEL): the Worker must warn about it once per isolate (worker.test.ts).
  LOG_LEVL: 'debug',
};

/** Tenants from TENANTS_KV (no PORTKEY_API_KEY); keys named by {"env"} are Worker secrets. */
export const KV_BINDINGS: Record<string, string> = {
  AUTH_JWT_SECRET: SECRETS.jwtSecret,
  PUBLIC_URL,
  PORTKEY_BASE_URL,
  PORTKEY_TIMEOUT_MS: '2000',
  PORTKEY_KEY_ACME: SECRETS.kvTenantKey,
  // KV entries may read only their own tenant's variable (src/tenants/tenant-table.ts).
  PORTKEY_KEY_OWN_PATH: SECRETS.kvTenantKey,
  PORTKEY_KEY_WAYNE: SECRETS.kvTenantKey,
  // Not the default (30 s): the Worker must honour the setting (kv-tenants.test.ts).
  TENANTS_CACHE_TTL_MS: '5000',
};
