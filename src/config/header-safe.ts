/**
 * A Portkey key travels in the `x-portkey-api-key` header. RFC 9110 §5.5: a field value is
 * visible ASCII with inner spaces or tabs; CR, LF and NUL are never allowed (RFC 9110 §5.5,
 * "field values containing CR, LF or NUL characters are invalid and dangerous"). A key with a
 * line break (a copy-paste with a trailing newline inside a JSON string, say) would make every call
 * fail in the HTTP client before anything is sent, and read as "may or may not have been created".
 * Portkey's keys are printable ASCII without spaces, so that is what is accepted.
 */
const HEADER_SAFE_KEY = /^[\x21-\x7e]+$/;

/** Why a key cannot be sent in a header (never naming its characters' values); undefined when it can. */
export function keyHeaderProblem(key: string): string | undefined {
  if (HEADER_SAFE_KEY.test(key)) return undefined;
  const what = /[\r\n]/.test(key)
    ? 'a line break (CR or LF)'
    : /[\x00-\x1f\x7f]/.test(key)
      ? 'a control character'
      : /\s/.test(key)
        ? 'a space'
        : 'a non-ASCII character';
  return `the key contains ${what}, which cannot be sent in an HTTP header: copy the key again (printable ASCII, no spaces or line breaks).`;
}
