import { ToolError } from '../errors.js';

export interface ToolErrorResult {
  [key: string]: unknown;
  content: { type: 'text'; text: string }[];
  isError: true;
}

/**
 * The one place an error becomes an `isError` result. A ToolError's message was written for
 * the caller; anything else is unexpected, so its text (which might carry anything) is not shown.
 */
export function toolErrorResult(err: unknown, requestId: string, tool = 'invite_user'): ToolErrorResult {
  const text =
    err instanceof ToolError
      ? err.message
      : `${tool} failed unexpectedly on the server (request id ${requestId}); nothing is known to have been sent to Portkey. ` +
        'Report the request id to the server operator.';
  return { content: [{ type: 'text', text }], isError: true };
}

/** The stable outcome code for the audit line. */
export function outcomeOf(err: unknown): string {
  return err instanceof ToolError ? err.code : 'internal_error';
}
