import type { Context } from 'hono';
import { CallToolRequestSchema, InitializeRequestSchema, ListToolsRequestSchema, PingRequestSchema } from '@modelcontextprotocol/sdk/types.js';
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
  if (!isJsonRpcMessage(body)) {
    return jsonRpcError(c, 400, -32600, 'Invalid Request: expected one JSON-RPC 2.0 message, {"jsonrpc": "2.0", "method": "...", "id": ...}.');
  }
  const invalid = invalidParams(body);
  if (invalid) return jsonRpcError(c, 400, -32602, `Invalid params for ${invalid.method}: ${invalid.detail}.`, { id: invalid.id });
  let request = c.req.raw;
  if (!accept || !/application\/json/i.test(accept) || !/text\/event-stream/i.test(accept)) {
    const headers = new Headers(request.headers);
    headers.set('accept', ACCEPT_BOTH);
    request = new Request(request.url, { method: 'POST', headers });
  }
  return { request, body };
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The shape every well-formed tools/call and tools/list has, checked without zod: the full schema
 * parse below only runs for the rare message that fails it (the SDK parses every message again).
 */
function looksWellFormed(method: string, params: unknown): boolean {
  if (method === 'tools/call') {
    return (
      isPlainObject(params) &&
      typeof params.name === 'string' &&
      (params.arguments === undefined || isPlainObject(params.arguments)) &&
      (params._meta === undefined || isPlainObject(params._meta)) &&
      params.task === undefined
    );
  }
  if (method === 'tools/list') return params === undefined || (isPlainObject(params) && params.cursor === undefined && params._meta === undefined);
  return false;
}

/** JSON-RPC 2.0 §4 and §5: a request or notification (method), or a response (result/error with an id). */
function isJsonRpcMessage(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const m = body as { jsonrpc?: unknown; method?: unknown; id?: unknown; result?: unknown; error?: unknown };
  if (m.jsonrpc !== '2.0') return false;
  if (typeof m.method === 'string') return m.id === undefined || typeof m.id === 'string' || typeof m.id === 'number';
  return ('result' in m || 'error' in m) && (typeof m.id === 'string' || typeof m.id === 'number');
}

/** The requests this server answers, with the SDK's own schemas for them (a Map: no inherited keys). */
const REQUEST_SCHEMAS = new Map<string, typeof PingRequestSchema | typeof InitializeRequestSchema | typeof ListToolsRequestSchema | typeof CallToolRequestSchema>([
  ['initialize', InitializeRequestSchema],
  ['ping', PingRequestSchema],
  ['tools/list', ListToolsRequestSchema],
  ['tools/call', CallToolRequestSchema],
]);

/**
 * A request whose params do not fit the method (tools/call without a name, non-object
 * arguments…). The SDK would answer it with -32603 "Internal error" and a dump of schema issues;
 * it is the caller's mistake, so it gets -32602 naming each problem.
 */
function invalidParams(body: unknown): { method: string; id: string | number; detail: string } | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const m = body as { jsonrpc?: unknown; id?: unknown; method?: unknown };
  // Anything that is not a well-formed request is left to the SDK transport.
  if (m.jsonrpc !== '2.0' || typeof m.method !== 'string' || (typeof m.id !== 'string' && typeof m.id !== 'number')) return undefined;
  if (looksWellFormed(m.method, (body as { params?: unknown }).params)) return undefined;
  const parsed = REQUEST_SCHEMAS.get(m.method)?.safeParse(body);
  if (!parsed || parsed.success) return undefined;
  const detail = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.map(String).join('.') || 'message'}: ${issue.message}`)
    .join('; ');
  return { method: m.method, id: m.id, detail };
}
