/**
 * Nothing Portkey sends back may carry the tenant's admin key onward (into a result, an error or
 * a log line), whatever field it hides in. Every string taken from an answer goes through here,
 * whole and before anything else (parsing aside) touches it, so that no clip or rewrite can cut
 * the key into pieces that escape a later check.
 */
const REDACTED = '[redacted]';

export function redactKey(text: string, key: string): string {
  return key && text.includes(key) ? text.split(key).join(REDACTED) : text;
}

/**
 * A short protocol token from an answer (a content-type, a content-encoding), fit to be quoted in
 * a message: undefined when it is not a plain token or carries the key.
 */
export function quotableToken(value: string | null | undefined, key: string): string | undefined {
  if (!value) return undefined;
  const token = value.trim();
  if (!/^[A-Za-z0-9!#$&^_.+\-/, ]{1,60}$/.test(token)) return undefined;
  return key && token.includes(key) ? undefined : token;
}
