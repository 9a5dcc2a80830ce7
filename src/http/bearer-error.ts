import type { Context } from 'hono';
import { bearerChallenge, type ChallengeOptions } from '../auth/challenge.js';
import type { Config } from '../server-config.js';

/**
 * A 401 or 403 answer with its `WWW-Authenticate: Bearer` challenge (RFC 6750 §3) and an OAuth
 * error body. The connection is closed: the request body may not have been read.
 */
export function bearerError(
  c: Context,
  config: Config,
  status: 401 | 403,
  challenge: ChallengeOptions,
  body: { error: string; error_description: string },
): Response {
  c.header('Connection', 'close');
  c.header('WWW-Authenticate', bearerChallenge(config, challenge));
  return c.json(body, status);
}
