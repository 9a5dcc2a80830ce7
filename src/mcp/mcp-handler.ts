import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import type { Caller } from '../auth/caller.js';
import { PortkeyAnsweredError } from '../errors.js';
import type { InviteRateLimiters } from '../limits/rate-limiter.js';
import { writeAuditLine } from '../audit.js';
import type { Logger } from '../log.js';
import type { PortkeyClient } from '../portkey/client.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import type { Tenant } from '../tenants/tenant-table.js';
import { INVITE_USER, inviteUser, inviteUserDefinition, type InviteAudit } from '../tools/invite-user.js';
import type { InviteUserArgs } from '../tools/invite-user-schema.js';
import { outcomeOf, toolErrorResult } from '../tools/tool-result.js';
import { createToolsListing, seedToolsListing } from './tools-listing.js';

export const SERVER_INFO = { name: 'portkey-invite-mcp', version: '0.1.0' };

export interface McpHandlerDeps {
  resolveTenant: TenantResolver;
  keyLabel: (tenant: Tenant) => string;
  portkey: PortkeyClient;
  adminScope: string | undefined;
  rateLimiters: InviteRateLimiters;
  logger: Logger;
}

export interface McpCall {
  request: Request;
  parsedBody: unknown;
  caller: Caller;
  requestId: string;
  /** Where the call came from, for the audit line (see http/client-address.ts). */
  clientAddress?: string;
}

/**
 * Serves one MCP POST. Stateless Streamable HTTP: every request gets a fresh McpServer and
 * transport, because a transport reused across requests would mix up JSON-RPC ids between
 * clients. What does not depend on the request (tool definition, schemas, the JSON Schema
 * validator) is built once, here, outside the per-request function.
 */
export function createMcpHandler(deps: McpHandlerDeps): (call: McpCall) => Promise<Response> {
  // @cfworker/json-schema interprets schemas; Ajv (the SDK default) compiles code, which workerd forbids.
  const jsonSchemaValidator = new CfWorkerJsonSchemaValidator();
  const listTools = createToolsListing({ seed: seedToolsListing(), resolveTenant: deps.resolveTenant, logger: deps.logger });

  return async ({ request, parsedBody, caller, requestId, clientAddress }) => {
    const server = new McpServer(SERVER_INFO, { jsonSchemaValidator, capabilities: { tools: {} } });
    server.registerTool(INVITE_USER, inviteUserDefinition, (args) => runInviteUser(args, caller, { requestId, clientAddress }, deps));
    // tools/list from listings built once (at start-up, then once per tenant policy), never by
    // converting the zod schemas to JSON Schema per call; narrowed to what this caller's tenant may grant.
    server.server.setRequestHandler(ListToolsRequestSchema, () => listTools(caller));
    // registerTool announces tools.listChanged, but a stateless server has no stream to send it on.
    server.server.registerCapabilities({ tools: { listChanged: false } });

    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    // In JSON-response mode the response is complete only when every handler has finished, so
    // nothing is left in flight: the server and transport are simply dropped for the GC.
    // (Closing them would build a "Connection closed" error with a stack trace per request.)
    return transport.handleRequest(request, { parsedBody });
  };
}

async function runInviteUser(args: InviteUserArgs, caller: Caller, { requestId, clientAddress }: { requestId: string; clientAddress?: string }, deps: McpHandlerDeps) {
  const started = Date.now();
  const audit: InviteAudit = {};
  let outcome = 'invited';
  try {
    return await inviteUser(args, { ...deps, caller, audit });
  } catch (err) {
    outcome = outcomeOf(err);
    if (outcome === 'internal_error') {
      deps.logger.error('invite_user.unexpected_error', { request_id: requestId, error: err instanceof Error ? err.name : typeof err });
    }
    if (err instanceof PortkeyAnsweredError) {
      audit.upstreamStatus = err.upstreamStatus;
      audit.upstreamLatencyMs = err.upstreamLatencyMs;
    }
    return toolErrorResult(err, requestId);
  } finally {
    writeAuditLine(deps.logger, {
      requestId,
      caller,
      clientAddress,
      args,
      tenant: audit.tenant ?? caller.tenantId,
      outcome,
      audit,
      durationMs: Date.now() - started,
    });
  }
}
