import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { getParseErrorMessage } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker';
import * as z from 'zod';
import type { Caller } from '../auth/caller.js';
import { InvalidInputError, RateLimitedError } from '../errors.js';
import type { InviteRateLimiters } from '../limits/rate-limiter.js';
import { writeAuditLine, type AuditedArgs, type AuditRecord } from '../tools/audit-line.js';
import type { Logger } from '../log.js';
import type { PortkeyClient } from '../portkey/client.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import type { Tenant } from '../tenants/tenant-table.js';
import { createInviteClaims, type InviteClaims } from '../tools/invite-claims.js';
import type { McpOutcome, Telemetry } from '../telemetry/telemetry.js';
import { listedOutcome } from '../tools/audit-outcomes.js';
import { INVITE_USER, inviteUser, inviteUserDefinition } from '../tools/invite-user.js';
import { inviteUserInput } from '../tools/invite-user-schema.js';
import { outcomeOf, toolErrorResult } from '../tools/tool-result.js';
import { createToolsListing, seedToolsListing } from './tools-listing.js';
import type { SettledInvite } from './admin-step-up.js';

export const SERVER_INFO = { name: 'portkey-invite-mcp', version: '0.1.0' };

/**
 * What the tool is registered with. McpServer validates arguments against the registered schema
 * and answers a failure itself, before any code of ours runs, so such a call would leave no audit
 * line. It is given "any object" instead, and runInviteUser applies invite_user's own schema,
 * where a refusal can be audited. Clients still see the strict schema: tools/list is answered
 * from listTools(), built from inviteUserDefinition.
 */
const registeredDefinition = { ...inviteUserDefinition, inputSchema: z.looseObject({}) };

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
  const listTools = createToolsListing({ seed: seedToolsListing(), resolveTenant: deps.resolveTenant, logger: deps.logger });
  // One per server: the calls it serves never report one invite twice (src/tools/invite-claims.ts).
  const claims = createInviteClaims();

  return async ({ request, parsedBody, caller, requestId, clientAddress, outcome: spanOutcome, settled }) => {
    const server = new McpServer(SERVER_INFO, { jsonSchemaValidator, capabilities: { tools: {} } });
    server.registerTool(INVITE_USER, registeredDefinition, async (args) =>
      withNotice(await runInviteUser(args, caller, { requestId, clientAddress, spanOutcome, settled }, deps, claims), deps.answerNotice),
    );
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

async function runInviteUser(
  input: Record<string, unknown>,
  caller: Caller,
  { requestId, clientAddress, spanOutcome, settled }: { requestId: string; clientAddress?: string; spanOutcome?: McpOutcome; settled?: SettledInvite },
  deps: McpHandlerDeps,
  claims: InviteClaims,
) {
  const started = Date.now();
  const audit: AuditRecord = {};
  // What the audit line shows: the validated arguments, or for invalid_input whatever arrived.
  let args: AuditedArgs = input;
  let invalid: string[] | undefined;
  let outcome = 'invited';
  try {
    if (settled) {
      args = settled.args;
      throw settled.refusal;
    }
    const parsed = inviteUserInput.safeParse(input);
    if (!parsed.success) {
      invalid = invalidFields(parsed.error);
      // The text McpServer itself would have sent: each issue with the path of its field.
      throw new InvalidInputError(`Input validation error: Invalid arguments for tool ${INVITE_USER}: ${getParseErrorMessage(parsed.error)}`);
    }
    args = parsed.data;
    // Upstream status and latency reach `audit` inside inviteUser, on success and on every Portkey error alike.
    const result = await inviteUser(parsed.data, { ...deps, caller, audit, claims });
    if (audit.reconcile === 'matched') outcome = 'invited_confirmed';
    return result;
  } catch (err) {
    outcome = outcomeOf(err);
    // OpenTelemetry MCP semconv: a tool result with isError is error.type "tool_error".
    if (spanOutcome) spanOutcome.errorType = 'tool_error';
    if (err instanceof RateLimitedError) deps.telemetry.rateLimited(err.limit, audit.tenant ?? '_none');
    if (outcome === 'internal_error') {
      deps.logger.error('invite_user.unexpected_error', { request_id: requestId, error: err instanceof Error ? err.name : typeof err });
    }
    return toolErrorResult(err, requestId);
  } finally {
    deps.telemetry.inviteOutcome(audit.tenant, listedOutcome(outcome) ?? 'internal_error');
    writeAuditLine(deps.logger, {
      requestId,
      caller,
      clientAddress,
      args,
      tenant: audit.tenant ?? caller.tenantId,
      outcome,
      audit,
      invalidFields: invalid,
      durationMs: Date.now() - started,
    });
  }
}

/** The notice as a last text block, so that no reader of the answer, person or agent, can miss it. */
function withNotice<R extends { content: { type: 'text'; text: string }[] }>(result: R, notice: string | undefined): R {
  return notice ? { ...result, content: [...result.content, { type: 'text' as const, text: notice }] } : result;
}

/** The paths of the fields that failed (unknown fields by name), bounded: they come from the caller. */
function invalidFields(error: z.ZodError): string[] {
  const paths = error.issues.flatMap((issue) => {
    const at = issue.path.map(String).join('.');
    return issue.code === 'unrecognized_keys' ? issue.keys.map((k) => (at ? `${at}.${k}` : k)) : [at || '(arguments)'];
  });
  return [...new Set(paths)].slice(0, 20).map((p) => p.slice(0, 100));
}
