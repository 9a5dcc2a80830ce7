export interface PortkeyErrorBody {
  message?: string;
  errorCode?: string;
}

const MAX_MESSAGE = 500;

/**
 * Reads either error shape Portkey uses: the Admin API envelope
 * `{"success": false, "data": {"message", "errorCode"}}` and the gateway's OpenAI-style
 * `{"error": {"message", "code"}}`. A non-JSON body (an HTML error page from a proxy) yields no
 * message: its text is not shown to the caller.
 */
export function readPortkeyError(text: string): PortkeyErrorBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (!body || typeof body !== 'object') return {};
  const b = body as { data?: unknown; error?: unknown; message?: unknown; errorCode?: unknown };
  const inner = (isObject(b.data) ? b.data : isObject(b.error) ? b.error : b) as Record<string, unknown>;
  const message = typeof inner.message === 'string' ? clip(inner.message) : undefined;
  const code = typeof inner.errorCode === 'string' ? inner.errorCode : typeof inner.code === 'string' ? inner.code : undefined;
  return { message, errorCode: code && /^[A-Za-z0-9_.-]{1,40}$/.test(code) ? code : undefined };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function clip(s: string): string {
  const oneLine = s.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_MESSAGE ? `${oneLine.slice(0, MAX_MESSAGE)}…` : oneLine;
}
