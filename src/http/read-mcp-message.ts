import type { Context } from 'hono';
import { jsonRpcError } from './json-rpc-error.js';

export interface McpMessage {
  /** The request to hand the SDK transport (its Accept header normalised, see below). */
  request: Request;
  body: unknown;
}

const ACCEPT_BOTH = 'application/json, text/event-stream';

/**
 * Reads and parses the POST body once (the SDK transport then takes it as `parsedBody`), and
 * answers the protocol-level mistakes itself with a precise message.
 */
export async function readMcpMessage(c: Context): Promise<McpMessage | Response> {
  const contentType = c.req.header('content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType.trim())) {
    return jsonRpcError(c, 415, -32000, 'Unsupported Media Type: send the JSON-RPC message with Content-Type: application/json.', {
      closeConnection: true,
    });
  }
  const accept = c.req.header('accept');
  // This server always answers with a single JSON body, so a client that accepts only
  // application/json (or anything) is served; the SDK transport insists on both types.
  if (accept && !/application\/json|application\/\*|\*\/\*|text\/event-stream/i.test(accept)) {
    return jsonRpcError(c, 406, -32000, 'Not Acceptable: this server answers with application/json; include it in the Accept header.');
  }
  const text = await c.req.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return jsonRpcError(c, 400, -32700, 'Parse error: the request body is not valid JSON.');
  }
  if (Array.isArray(body)) {
    // JSON-RPC batching was removed from MCP in revision 2025-06-18.
    return jsonRpcError(c, 400, -32600, 'Invalid Request: JSON-RPC batches are not supported; send one message per POST.');
  }
  let request = c.req.raw;
  if (!accept || !/application\/json/i.test(accept) || !/text\/event-stream/i.test(accept)) {
    const headers = new Headers(request.headers);
    headers.set('accept', ACCEPT_BOTH);
    request = new Request(request.url, { method: 'POST', headers });
  }
  return { request, body };
}
