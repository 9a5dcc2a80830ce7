import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { bearerError } from './bearer-error.js';
import { InvalidTokenError, KeySourceUnavailableError, type TokenVerifier } from '../auth/verifier.js';
import type { Config } from '../server-config.js';
import type { Logger } from '../log.js';
import { jsonRpcError } from './json-rpc-error.js';

/**
 * Bearer authentication (RFC 6750) as an OAuth 2.1 resource server (MCP authorization §2.6).
 * The token is only verified here; it is never forwarded anywhere (MCP "token passthrough" is
 * forbidden), and never logged.
 */
export function authenticate({ config, verify, logger, telemetry }: { config: Config; verify: TokenVerifier; logger: Logger; telemetry?: Pick<Telemetry, 'authRejected'> }): MiddlewareHandler<AppEnv> {
  const required = config.auth.requiredScopes;
  // A 401 asks for the connect-time scopes: Claude's clients request exactly these (AUTH_CONNECT_SCOPES).
  const connect = config.auth.connectScopes;
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header) : null;
    if (!match) {
      // RFC 6750 §3.1: no credentials, or another scheme (Basic…), gets a bare challenge without
      // an error code; only a malformed Bearer header is an invalid_request.
      const malformed = header !== undefined && /^bearer(\s|$)/i.test(header);
      telemetry?.authRejected(malformed ? 'format' : 'missing');
      return malformed
        ? bearerError(
            c,
            config,
            401,
            { scopes: connect, error: 'invalid_request', description: 'The Authorization header must be "Bearer <token>"' },
            { error: 'invalid_request', error_description: 'The Authorization header must be "Bearer <token>".' },
          )
        : bearerError(c, config, 401, { scopes: connect }, { error: 'unauthorized', error_description: 'This server needs a bearer token: send "Authorization: Bearer <JWT>".' });
    }
    let caller;
    try {
      caller = await verify(match[1]!);
    } catch (err) {
      if (err instanceof KeySourceUnavailableError) return keysUnavailable(c, config, logger, err);
      const e = err instanceof InvalidTokenError ? err : new InvalidTokenError('ERR_UNKNOWN', 'The token could not be verified');
      logger.info('auth.rejected', { request_id: c.get('requestId'), reason: e.code, check: e.check });
      telemetry?.authRejected(e.check);
      return bearerError(c, config, 401, { error: 'invalid_token', description: e.description, scopes: connect }, { error: 'invalid_token', error_description: `${e.description}.` });
    }
    c.set('caller', caller);
    // The tenant id the audit line will name: "default" in single-tenant mode, else the claim.
    const tenant = config.tenants.mode === 'single' ? config.tenants.tenant.id : caller.tenantId;
    if (tenant) c.set('tenant', tenant);
    const missing = required.filter((s) => !caller.scopes.has(s));
    if (missing.length) {
      // RFC 6750 §3.1 / MCP authorization "scope challenge": name every scope the operation needs.
      const description = `The token lacks the required scope(s): ${missing.join(' ')}`;
      telemetry?.authRejected('scope');
      return bearerError(c, config, 403, { error: 'insufficient_scope', description, scopes: required }, { error: 'insufficient_scope', error_description: `${description}.` });
    }
    await next();
  };
}

/**
 * 503, not 401: the token was not judged. A 401 invalid_token would make an OAuth client throw a
 * good token away and sign the user in again; 503 + Retry-After (RFC 9110 §15.6.4, §10.2.3) says
 * try the same token later. The body was not read, so the connection is closed.
 */
function keysUnavailable(c: Context<AppEnv>, config: Config, logger: Logger, err: KeySourceUnavailableError): Response {
  const source = config.auth.keySource;
  const retryAfterS = Math.max(1, Math.ceil((source.kind === 'jwks' ? source.cooldownMs : 30_000) / 1000));
  logger.warn('auth.key_source_unavailable', { request_id: c.get('requestId'), reason: err.reason });
  c.header('Retry-After', String(retryAfterS));
  return jsonRpcError(
    c,
    503,
    -32000,
    `The server cannot verify tokens right now: its token issuer's key set (JWKS) is unreachable. This is a server-side fault, not a problem with your token: keep it and retry in ${retryAfterS} s.`,
    { closeConnection: true },
  );
}
