import type { ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type * as z from 'zod';
import type { Caller } from '../auth/caller.js';
import type { InviteRateLimiters } from '../limits/rate-limiter.js';
import type { LogFields } from '../log.js';
import type { PortkeyClient } from '../portkey/client.js';
import type { TenantResolver } from '../tenants/resolve-tenant.js';
import type { Tenant } from '../tenants/tenant-table.js';
import type { ToolName } from '../tenants/tool-names.js';
import type { AuditRecord } from './audit-line.js';
import type { InviteClaims } from './invite-claims.js';

/** What a tool's handler is given besides its arguments; one per call (src/mcp/run-tool.ts). */
export interface ToolContext {
  caller: Caller;
  requestId: string;
  /** When the call started (ms since the epoch), before its tenant was resolved: budgets count from here. */
  startedAt: number;
  /** The caller's tenant, resolved once for the call by the wrapper (a rejected promise when it cannot be). */
  resolveTenant: TenantResolver;
  keyLabel: (tenant: Tenant) => string;
  portkey: PortkeyClient;
  adminScope: string | undefined;
  rateLimiters: InviteRateLimiters;
  claims: InviteClaims;
  responsesCutAt?: () => number | undefined;
  /** Filled in as the call proceeds, for the audit line. */
  audit: AuditRecord;
}

export interface ToolAnswer {
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  /** The audit line's outcome on success (`invited`, `listed`, …). */
  outcome: string;
}

/**
 * A tool: its definition as clients see it and its handler, in one file each (src/tools/*.ts).
 * src/mcp/run-tool.ts does what every call needs around `run`: input validation, the tenant and
 * whether it exposes the tool, the audit line with its outcome, the span and the outcome metric,
 * and errors as `isError` results with advice.
 */
export interface ToolDefinition<Input extends z.ZodObject = z.ZodObject> {
  name: ToolName;
  title: string;
  description: string;
  inputSchema: Input;
  outputSchema: z.ZodObject;
  annotations: ToolAnnotations;
  /** What the audit line records of the arguments (validated ones, or for invalid input whatever arrived): bounded, never a secret. */
  auditFields(args: Record<string, unknown>): LogFields;
  run(args: z.infer<Input>, ctx: ToolContext): Promise<ToolAnswer>;
}

/** Bounded text for an audit field: the arguments may be anything a caller sent. */
export const auditText = (value: unknown, max: number): string | null => (typeof value === 'string' ? value.slice(0, max) : null);
