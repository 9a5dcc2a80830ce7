import { PortkeyRefusedError, type UpstreamAnswer } from '../errors.js';
import type { PortkeyErrorBody } from './error-body.js';

/**
 * The isError for a non-2xx answer to the invite POST: Portkey's own words (already redacted),
 * its status and code, and what to do about it. `label` names the tenant's key, never the key.
 */
export function inviteRefusal(
  answer: UpstreamAnswer & { headers: { get(name: string): string | null } },
  error: PortkeyErrorBody,
  label: string,
  email: string,
): PortkeyRefusedError {
  const { status } = answer;
  const said = error.message ? `: ${error.message}` : '';
  const tag = `HTTP ${status}${error.errorCode ? `, ${error.errorCode}` : ''}`;
  const what = `Portkey refused the invite (${tag})${said}.`;
  let advice: string;
  switch (status) {
    case 400:
    case 422:
      advice = 'Correct the arguments named above and call invite_user again.';
      break;
    case 401:
      // Portkey's docs give AB05 both for a wrong key and for a key without the permission.
      advice =
        `Portkey did not accept the admin API key configured for ${label}: it is wrong, revoked or expired, or it lacks the permission to invite users ` +
        '(Portkey answers 401 for both). The server operator must replace the key or grant it the users permissions; retrying will not help.';
      break;
    case 403:
      advice = `The admin API key configured for ${label} lacks the rights to invite users (it must be an organisation admin key allowed to create users), or a workspace is not in the organisation. Check the workspace ids; otherwise the server operator must fix the key.`;
      break;
    case 404:
      // Portkey uses 404 for two things, told apart by errorCode (docs/portkey-api.md#errors).
      advice =
        error.errorCode === 'AB02'
          ? 'Portkey found the request invalid (AB02, request validation): correct the fields its message names and call invite_user again.'
          : error.errorCode === 'AB08'
            ? 'Something named in the request does not exist (AB08, not found): check the workspace ids or slugs.'
            : 'Something named in the request does not exist, or the request was invalid: check the workspace ids or slugs and the fields named above.';
      break;
    case 409:
      advice = `${email} is most likely already invited or already a member; nothing new was created. List the organisation's invites and members for this email instead of inviting again.`;
      break;
    case 301:
    case 302:
    case 303:
    case 307:
    case 308:
      advice = `Portkey answered with a redirect, which this server does not follow (it would send the admin key elsewhere), so no invite was created. The operator should check the Portkey base URL configured for ${label} (for the public API it ends in /v1).`;
      break;
    case 402:
      advice = "The Portkey organisation's subscription is exhausted; an organisation owner must upgrade it before more users can be invited.";
      break;
    case 429: {
      const retryAfter = parseRetryAfter(answer.headers.get('retry-after'));
      advice =
        retryAfter !== undefined
          ? `Portkey is rate limiting this organisation; no invite was created. Retry after ${retryAfter} s.`
          : 'Portkey is rate limiting this organisation; no invite was created. Wait a minute before retrying.';
      break;
    }
    default: {
      const retryAfter = parseRetryAfter(answer.headers.get('retry-after'));
      advice =
        status >= 500
          ? `Portkey failed on its side, so the invite was probably not created, but it may have been. List pending invites for ${email} before trying again` +
            (retryAfter !== undefined ? `, and retry no sooner than ${retryAfter} s (Portkey's Retry-After).` : '.')
          : 'Check the arguments and try again.';
    }
  }
  return new PortkeyRefusedError(answer, error.errorCode, `${what} ${advice}`, what);
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. Returns whole seconds, or undefined. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}
