import { TOOL_NAMES } from '../tenants/tool-names.js';

/** What a span records of an MCP request (MCP semconv). */
export interface McpRequestInfo {
  method: string;
  /** tools/call: the tool's name. */
  toolName?: string;
  requestId?: string | number;
  protocolVersion?: string;
}

type Message = { method?: unknown; id?: unknown; params?: { name?: unknown; protocolVersion?: unknown; _meta?: unknown } };

/**
 * Method and tool names come from the caller, and become metric attributes: only known ones are
 * kept, anything else is `_other`, so a caller cannot mint unbounded series.
 */
const KNOWN_METHODS = new Set([
  'initialize', 'ping', 'tools/list', 'tools/call', 'resources/list', 'resources/templates/list', 'resources/read',
  'prompts/list', 'prompts/get', 'completion/complete', 'logging/setLevel',
  'notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/roots/list_changed',
]);
const KNOWN_TOOLS: ReadonlySet<string> = new Set(TOOL_NAMES);

/** The span's facts from a parsed JSON-RPC message: method, tool, id, protocol version (MCP semconv). */
export function mcpRequestInfo(body: unknown, protocolHeader: string | undefined): McpRequestInfo {
  const m = (body && typeof body === 'object' ? body : {}) as Message;
  const method = typeof m.method === 'string' && KNOWN_METHODS.has(m.method) ? m.method : '_other';
  const toolName = method === 'tools/call' ? (typeof m.params?.name === 'string' && KNOWN_TOOLS.has(m.params.name) ? m.params.name : '_other') : undefined;
  const requestId = recordableId(m.id);
  // initialize names the version it asks for; later requests carry the negotiated one in the header.
  const fromInit = method === 'initialize' && typeof m.params?.protocolVersion === 'string' ? m.params.protocolVersion : undefined;
  const version = fromInit ?? protocolHeader;
  const protocolVersion = version && /^\d{4}-\d{2}-\d{2}$/.test(version) ? version : undefined;
  return { method, toolName, requestId, protocolVersion };
}

/**
 * The caller chooses the JSON-RPC id: it is recorded only when it is a short plain token (a number,
 * or up to 64 letters, digits and . _ : -), so no caller can grow a span (a 900 KiB id) or put
 * personal data in one (an id holding an email has an @).
 */
const RECORDABLE_ID = /^[A-Za-z0-9._:-]{1,64}$/;
function recordableId(id: unknown): string | number | undefined {
  if (typeof id === 'number') return Number.isFinite(id) ? id : undefined;
  return typeof id === 'string' && RECORDABLE_ID.test(id) ? id : undefined;
}

/** `params._meta` of a request, where MCP carries W3C trace context (traceparent, tracestate). */
export function metaOf(body: unknown): unknown {
  return (body as Message | undefined)?.params?._meta;
}
