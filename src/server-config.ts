import { ConfigError } from './errors.js';
import { readSettings, type LoadOptions, type Settings } from './config/settings.js';
import { SERVER_VARIABLES } from './config/variables.js';
import { parseTenantsJson, type TenantTable } from './tenants/tenant-table.js';
import { upstreamHosts } from './tenants/upstream-hosts.js';
import { DEFAULT_TOOLS, TOOL_NAMES, type ToolName } from './tenants/tool-names.js';
import { SANDBOX_API_KEY, SANDBOX_BASE_URL } from './sandbox/constants.js';

export { ConfigError };
export type { LoadOptions };

/** The whole configuration: the settings (src/config/, the bottom layer) and the tenant table read from them. */
export type Config = Settings & {
  tenants: TenantTable;
  /** The tools a tenant exposes unless its entry lists its own (EXPOSED_TOOLS, else DEFAULT_TOOLS). */
  defaultTools: readonly ToolName[];
};

/**
 * Reads and checks the whole configuration. Every problem, the settings' and the tenant
 * table's, is collected and reported at once (one ConfigError, one problem per line).
 */
export function loadConfig(rawEnv: Record<string, string | undefined>, options: LoadOptions = {}): Config {
  const { settings, tenantSource, problems, warnings } = readSettings(rawEnv, options);
  let tenants: TenantTable = {
    mode: 'single',
    tenant: settings.sandbox
      ? { id: 'default', apiKey: SANDBOX_API_KEY, baseUrl: SANDBOX_BASE_URL, allow: {} }
      : { id: 'default', apiKey: tenantSource.mode === 'single' ? tenantSource.apiKey : undefined, baseUrl: settings.portkeyBaseUrl, allow: {} },
  };
  if (tenantSource.mode === 'multi') {
    // TENANTS is the operator's own writing: its baseUrls are held to PORTKEY_ALLOWED_HOSTS only when it is set.
    const context = {
      env: tenantSource.env,
      defaultBaseUrl: settings.portkeyBaseUrl,
      allowedHosts: settings.portkeyAllowedHosts.length ? upstreamHosts(settings.portkeyAllowedHosts, settings.portkeyBaseUrl) : undefined,
      serverVariables: SERVER_VARIABLES,
      insecureHttpHosts: settings.insecureHttpHosts,
    };
    try {
      tenants = { mode: 'multi', tenants: tenantSource.json ? parseTenantsJson(tenantSource.json, context, tenantSource.sourceName) : new Map() };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
    }
  }
  const defaultTools = exposedTools(settings.exposedTools, problems);
  if (problems.length) throw new ConfigError(problems);
  return { ...settings, warnings, tenants, defaultTools };
}

function exposedTools(names: string[] | undefined, problems: string[]): readonly ToolName[] {
  if (names === undefined) return DEFAULT_TOOLS;
  const unknown = names.filter((n) => !(TOOL_NAMES as readonly string[]).includes(n));
  if (unknown.length) problems.push(`EXPOSED_TOOLS names ${unknown.map((n) => JSON.stringify(n)).join(', ')}, which this server does not have: use ${TOOL_NAMES.join(', ')}.`);
  return names.filter((n): n is ToolName => (TOOL_NAMES as readonly string[]).includes(n));
}
