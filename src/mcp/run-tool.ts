import { getParseErrorMessage } from '@modelcontextprotocol/sdk/server/zod-compat.js';
import type * as z from 'zod';
import type { Caller } from '../auth/caller.js';
import { InvalidInputError, RateLimitedError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Tenant } from '../tenants/tenant-table.js';
import { TOOL } from '../tenants/tool-names.js';
import type { McpOutcome, Telemetry } from '../telemetry/telemetry.js';
import { writeAuditLine, type AuditedArgs, type AuditRecord } from '../tools/audit-line.js';
import { listedOutcome } from '../tools/audit-outcomes.js';
import { outcomeOf, toolErrorResult } from '../tools/tool-result.js';
import type { ToolContext, ToolDefinition } from '../tools/tool.js';
import type { SettledInvite } from './admin-step-up.js';

export interface ToolCall {
  requestId: string;
  /** When the call started (ms since the epoch), before its tenant was resolved. */
  startedAt: number;
  caller: Caller;
  clientAddress?: string;
  /** The request's span outcome: a tool error sets errorType `tool_error`. */
  spanOutcome?: McpOutcome;
  /** The caller's tenant as resolved for this request (or why it could not be). */
  tenant: Tenant | Error;
  /** An admin invite the step-up check already parsed and refused (./admin-step-up.ts): answered as is. */
  settled?: SettledInvite;
}

export interface RunToolDeps extends Omit<ToolContext, 'caller' | 'requestId' | 'audit' | 'resolveTenant' | 'startedAt'> {
  logger: Logger;
  telemetry: Telemetry;
}

/**
 * What every tool call needs, for every tool: its arguments validated against its own schema
 * (McpServer is given "any object", so that a refusal can be audited), the tenant resolved once,
 * one audit line with the outcome (every outcome, invalid input included), the outcome metric with
 * the tool's name, and every error as an `isError` result with advice.
 */
export async function runTool(def: ToolDefinition, input: Record<string, unknown>, call: ToolCall, deps: RunToolDeps) {
  const started = call.startedAt;
  const audit: AuditRecord = {};
  // What the audit line shows: the validated arguments, or for invalid_input whatever arrived.
  let args: Record<string, unknown> = input;
  let invalid: string[] | undefined;
  let outcome = 'internal_error';
  const tenant = call.tenant;
  if (!(tenant instanceof Error)) audit.tenant = tenant.id;
  try {
    if (call.settled) {
      args = call.settled.args;
      throw call.settled.refusal;
    }
    const parsed = def.inputSchema.safeParse(input);
    if (!parsed.success) {
      invalid = invalidFields(parsed.error);
      // The text McpServer itself would have sent: each issue with the path of its field.
      throw new InvalidInputError(`Input validation error: Invalid arguments for tool ${def.name}: ${getParseErrorMessage(parsed.error)}`);
    }
    args = parsed.data;
    const answer = await def.run(parsed.data, {
      ...deps,
      caller: call.caller,
      requestId: call.requestId,
      startedAt: call.startedAt,
      audit,
      resolveTenant: async () => {
        if (tenant instanceof Error) throw tenant;
        return tenant;
      },
    });
    outcome = answer.outcome;
    return { content: answer.content, ...(answer.structuredContent ? { structuredContent: answer.structuredContent } : {}) };
  } catch (err) {
    outcome = outcomeOf(err);
    // OpenTelemetry MCP semconv: a tool result with isError is error.type "tool_error".
    if (call.spanOutcome) call.spanOutcome.errorType = 'tool_error';
    if (err instanceof RateLimitedError) deps.telemetry.rateLimited(err.limit, audit.tenant ?? '_none');
    if (outcome === 'internal_error') {
      deps.logger.error(`${def.name}.unexpected_error`, { request_id: call.requestId, error: err instanceof Error ? err.name : typeof err });
    }
    return toolErrorResult(err, call.requestId, def.name);
  } finally {
    const listed = listedOutcome(outcome) ?? 'internal_error';
    deps.telemetry.toolOutcome(def.name, audit.tenant, listed);
    if (def.name === TOOL.inviteUser) deps.telemetry.inviteOutcome(audit.tenant, listed);
    writeAuditLine(deps.logger, {
      tool: def.name,
      fields: def.auditFields(args as AuditedArgs & Record<string, unknown>),
      requestId: call.requestId,
      caller: call.caller,
      clientAddress: call.clientAddress,
      args,
      tenant: audit.tenant ?? call.caller.tenantId,
      outcome,
      audit,
      invalidFields: invalid,
      durationMs: Date.now() - started,
    });
  }
}

/** The paths of the fields that failed (unknown fields by name), bounded: they come from the caller. */
function invalidFields(error: z.ZodError): string[] {
  const paths = error.issues.flatMap((issue) => {
    const at = issue.path.map(String).join('.');
    return issue.code === 'unrecognized_keys' ? issue.keys.map((k) => (at ? `${at}.${k}` : k)) : [at || '(arguments)'];
  });
  return [...new Set(paths)].slice(0, 20).map((p) => p.slice(0, 100));
}
