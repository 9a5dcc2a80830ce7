import { redactKey } from './redact.js';

export interface PortkeyErrorBody {
  message?: string;
  errorCode?: string;
}

const MAX_MESSAGE = 500;
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,40}$/;

/**
 * Reads either error shape Portkey uses: the Admin API envelope
 * `{"success": false, "data": {"message", "errorCode"}}` and the gateway's OpenAI-style
 * `{"error": {"message", "code"}}`. A non-JSON body (an HTML error page from a proxy) yields no
 * message: its text is not shown to the caller.
 *
 * `key` (the tenant's admin key) is redacted from the message before it is clipped, so a key
 * near the clip point cannot leave its first characters behind; an error code that carries it
 * is dropped (the caller and the audit line then see the HTTP status alone).
 */
export function readPortkeyError(text: string, key: string): PortkeyErrorBody {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (!body || typeof body !== 'object') return {};
  const b = body as { data?: unknown; error?: unknown; message?: unknown; errorCode?: unknown };
  const inner = (isObject(b.data) ? b.data : isObject(b.error) ? b.error : b) as Record<string, unknown>;
  const message = typeof inner.message === 'string' ? clip(redactKey(inner.message, key), key) : undefined;
  const code = typeof inner.errorCode === 'string' ? inner.errorCode : typeof inner.code === 'string' ? inner.code : undefined;
  const usableCode = code !== undefined && ERROR_CODE.test(code) && !(key && code.includes(key)) ? code : undefined;
  return { message, errorCode: usableCode };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** One line of at most MAX_MESSAGE characters. Redacts again after joining lines, which could rebuild the key. */
function clip(s: string, key: string): string {
  const oneLine = redactKey(s.replace(/\s+/g, ' ').trim(), key);
  return oneLine.length > MAX_MESSAGE ? `${oneLine.slice(0, MAX_MESSAGE)}…` : oneLine;
}
