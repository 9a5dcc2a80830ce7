import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import * as z from 'zod';
import type { Caller } from '../auth/caller.js';
import type { InviteRateLimiters } from '../limits/rate-limiter.js';
import type { Logger } from '../log.js';
import type { PortkeyClient } from '../portkey/client.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import type { Tenant } from '../tenants/tenant-table.js';
import { createInviteClaims } from '../tools/invite-claims.js';
import { ALL_TOOLS } from '../tools/all-tools.js';
import type { ToolName } from '../tenants/tool-names.js';
import { storeStepDeadline } from '../limits/store-deadline.js';
import { runTool } from './run-tool.js';
import type { McpOutcome, Telemetry } from '../telemetry/telemetry.js';
import { createToolsListing, seedToolsListing } from './tools-listing.js';
import type { SettledInvite } from './admin-step-up.js';

export const SERVER_INFO = { name: 'portkey-invite-mcp', version: '0.1.0' };

/**
 * What a tool is registered with. McpServer validates arguments against the registered schema
 * and answers a failure itself, before any code of ours runs, so such a call would leave no audit
 * line. It is given "any object" instead, and runTool applies the tool's own schema, where a
 * refusal can be audited. Clients still see the strict schemas: tools/list is answered from
 * listTools(), built from the definitions.
 */
const registered = ALL_TOOLS.map((def) => ({
  def,
  config: { title: def.title, description: def.description, inputSchema: z.looseObject({}), outputSchema: def.outputSchema, annotations: def.annotations },
}));
const ALL_TOOL_NAMES: readonly ToolName[] = ALL_TOOLS.map((t) => t.name);

export interface McpHandlerDeps {
  resolveTenant: TenantResolver;
  keyLabel: (tenant: Tenant) => string;
  portkey: PortkeyClient;
  adminScope: string | undefined;
  rateLimiters: InviteRateLimiters;
  logger: Logger;
  /** See InviteUserDeps.responsesCutAt. */
  responsesCutAt?: () => number | undefined;
  telemetry: Telemetry;
  /** The tools a tenant exposes unless its entry lists its own (EXPOSED_TOOLS). */
  defaultTools: readonly ToolName[];
  /** A line added to every tool answer (the sandbox's: nothing was sent to Portkey). */
  answerNotice?: string;
}

export interface McpCall {
  request: Request;
  parsedBody: unknown;
  caller: Caller;
  requestId: string;
  /** Where the call came from, for the audit line (see http/client-address.ts). */
  clientAddress?: string;
  /** The request's span outcome: a tool error sets errorType `tool_error`. */
  outcome?: McpOutcome;
  /** An admin invite the step-up check already parsed and refused (./admin-step-up.ts): answered as is. */
  settled?: SettledInvite;
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
  const listTools = createToolsListing({ seed: seedToolsListing(), resolveTenant: deps.resolveTenant, logger: deps.logger, defaultTools: deps.defaultTools });
  // One per server: the calls it serves never report one invite twice (src/tools/invite-claims.ts).
  const runDeps = { ...deps, claims: createInviteClaims() };

  return async ({ request, parsedBody, caller, requestId, clientAddress, outcome: spanOutcome, settled }) => {
    const server = new McpServer(SERVER_INFO, { jsonSchemaValidator, capabilities: { tools: {} } });
    // A call is served only with the tools its tenant exposes: any other is unknown to this server
    // (McpServer's own "Tool … not found"), exactly as for a name no tool has.
    if (isToolCall(parsedBody)) {
      const startedAt = Date.now();
      const tenant = await deps.resolveTenant(caller, storeStepDeadline()).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
      // A tenant that cannot be resolved exposes nothing to decide by: every tool is registered so
      // that the call ends in the tenant's own error (not configured, store unreadable), not "not found".
      const exposed = tenant instanceof Error ? ALL_TOOL_NAMES : (tenant.tools ?? deps.defaultTools);
      for (const { def, config } of registered) {
        if (!exposed.includes(def.name)) continue;
        server.registerTool(def.name, config, async (args) =>
          withNotice(await runTool(def, args, { requestId, startedAt, caller, clientAddress, spanOutcome, tenant, settled }, runDeps), deps.answerNotice),
        );
      }
    }
    // Any other request registers no tool: the tools capability is declared above, and tools/list
    // is answered below from the listing, so registering per request would be work for nothing.
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

/** The notice as a last text block, so that no reader of the answer, person or agent, can miss it. */
function withNotice<R extends { content: { type: 'text'; text: string }[] }>(result: R, notice: string | undefined): R {
  return notice ? { ...result, content: [...result.content, { type: 'text' as const, text: notice }] } : result;
}

const isToolCall = (body: unknown) => (body as { method?: unknown } | null)?.method === 'tools/call';
