import type { Context } from 'hono';
import type { Config } from '../server-config.js';
import type { AppEnv } from '../http/app-env.js';
import { bearerError } from '../http/bearer-error.js';
import { clientAddress } from '../http/client-address.js';
import { readMcpMessage } from '../http/read-mcp-message.js';
import type { Logger } from '../log.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { checkAdminStepUp } from './admin-step-up.js';
import type { McpCall } from './mcp-handler.js';

export interface McpRouteDeps {
  config: Config;
  resolveTenant: TenantResolver;
  logger: Logger;
  telemetry: Telemetry;
  handleMcp: (call: McpCall) => Promise<Response>;
  /** The address the request came from as the runtime sees it (see AppDeps.socketAddress). */
  socketAddress?: (c: Context) => string | undefined;
}

/**
 * The POST /mcp handler, once the caller is authenticated and the body is within its limit: read
 * the JSON-RPC message, answer an admin invite without the admin scope with a 403 step-up, and
 * hand everything else (with what the step-up check already settled) to the MCP server.
 */
export function mcpRoute(deps: McpRouteDeps): (c: Context<AppEnv>) => Promise<Response> {
  const { config, telemetry } = deps;
  return async (c) => {
    const caller = c.get('caller')!;
    const message = await readMcpMessage(c);
    if (message instanceof Response) return message;
    const address = clientAddress(deps.socketAddress?.(c), c.req.header('x-forwarded-for'), config.trustProxyHops);
    return telemetry.mcpRequest(message.body, c.req.raw.headers, async (outcome) => {
      const check = await checkAdminStepUp({
        config,
        caller,
        message: message.body,
        resolveTenant: deps.resolveTenant,
        logger: deps.logger,
        requestId: c.get('requestId'),
        tenantId: c.get('tenant'),
        clientAddress: address,
        headers: c.req.raw.headers,
      });
      if (check && 'stepUp' in check) {
        const { scopes, description } = check.stepUp;
        outcome.errorType = '403';
        return bearerError(c, config, 403, { error: 'insufficient_scope', scopes, description }, { error: 'insufficient_scope', error_description: description });
      }
      const response = await deps.handleMcp({
        request: message.request,
        parsedBody: message.body,
        caller,
        requestId: c.get('requestId'),
        clientAddress: address,
        outcome,
        settled: check?.settled,
      });
      if (response.status >= 400) outcome.errorType ??= String(response.status);
      return response;
    });
  };
}
