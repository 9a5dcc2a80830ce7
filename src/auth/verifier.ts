import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  importJWK,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTVerifyGetKey,
  type JWSHeaderParameters,
  type FlattenedJWSInput,
} from 'jose';
import type { AuthConfig } from '../config/auth-settings.js';
import { callerFromClaims, type Caller } from './caller.js';
import { createVerifiedTokenCache } from './verified-tokens.js';

/**
 * Why a token was refused; `description` is safe to put in a WWW-Authenticate header, `check`
 * names the check that failed in words, for the operator's log.
 */
export class InvalidTokenError extends Error {
  constructor(
    readonly code: string,
    readonly description: string,
    readonly check: TokenCheck = 'unknown',
  ) {
    super(description);
  }
}

export type TokenCheck =
  | 'audience' | 'issuer' | 'expiry' | 'not before' | 'issued at' | 'required claim' | 'claim'
  | 'signature' | 'algorithm' | 'key' | 'format' | 'unknown';
/**
 * The token could not be checked because the keys to check it with are out of reach (the JWKS
 * host did not answer and no key already fetched matches). The server is at fault, not the
 * token: the HTTP layer answers 503, so an OAuth client keeps its token and retries.
 */
export class KeySourceUnavailableError extends Error {
  override name = 'KeySourceUnavailableError';
  /** `reason` is a stable code for logs (e.g. ECONNREFUSED, ERR_JWKS_TIMEOUT, http_503). */
  constructor(readonly reason: string) {
    super('The keys that verify tokens cannot be fetched right now');
  }
}

export type TokenVerifier = ((token: string) => Promise<Caller>) & {
  /** Fetches the issuer's JWKS ahead of the first request (JWKS source only); never throws. Resolves to the failure's reason code, if any. */
  warmUp(): Promise<string | undefined>;
  /** Undefined when tokens can be verified now; otherwise what is missing. May fetch the JWKS (at most once per cooldown). */
  keysReady(): Promise<string | undefined>;
};

/**
 * Builds the verifier once at start-up: key material is imported (or the remote key set
 * created) here, never per request.
 */
export function createTokenVerifier(auth: AuthConfig): TokenVerifier {
  const key = keyResolver(auth);
  const options = {
    algorithms: auth.algorithms,
    issuer: auth.issuer,
    // RFC 8707 / MCP authorization §2.5.1: the token must have been issued for this resource.
    audience: auth.audiences,
    // jose checks `exp` only when present; a token without one would never expire.
    requiredClaims: ['exp'],
    clockTolerance: auth.clockToleranceSec,
  };
  const verified = createVerifiedTokenCache({ maxEntries: 10_000, maxAgeMs: 60_000, clockToleranceSec: auth.clockToleranceSec });
  const verify = async (token: string): Promise<Caller> => {
    const known = verified.get(token, Date.now());
    if (known) return known;
    try {
      const { payload } = await jwtVerify(token, key.get, options);
      // jose only checks that iat is a number; a token issued in the future is not honest.
      if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + auth.clockToleranceSec) {
        throw new InvalidTokenError('ERR_JWT_IAT_IN_FUTURE', 'The token iat claim is in the future', 'issued at');
      }
      const caller = callerFromClaims(payload, auth.tenantClaim);
      verified.set(token, caller, Date.now());
      return caller;
    } catch (err) {
      throw describe(err);
    }
  };
  return Object.assign(verify, { warmUp: key.warmUp, keysReady: key.keysReady });
}

interface Resolver {
  get: JWTVerifyGetKey;
  warmUp: () => Promise<string | undefined>;
  keysReady: () => Promise<string | undefined>;
}

/** A local key is always there: nothing to fetch, nothing to wait for. */
const LOCAL_KEY = { warmUp: async () => undefined, keysReady: async () => undefined };

const HMAC_HASH: Record<string, string> = { HS256: 'SHA-256', HS384: 'SHA-384', HS512: 'SHA-512' };

function keyResolver(auth: AuthConfig): Resolver {
  const source = auth.keySource;
  if (source.kind === 'secret') {
    // Import the secret once per algorithm: handing jose raw bytes would re-import it through
    // WebCrypto on every request.
    const imported = new Map<string, Promise<CryptoKey>>();
    const get: JWTVerifyGetKey = (header) => {
      const alg = header.alg ?? '';
      let key = imported.get(alg);
      if (!key) {
        key = crypto.subtle.importKey('raw', source.secret as BufferSource, { name: 'HMAC', hash: HMAC_HASH[alg] ?? 'SHA-256' }, false, ['verify']);
        imported.set(alg, key);
      }
      return key;
    };
    return { get, ...LOCAL_KEY };
  }
  if (source.kind === 'public-key') {
    // A PEM or JWK is imported for a given algorithm; import once per algorithm and keep it.
    const imported = new Map<string, Promise<CryptoKey | Uint8Array>>();
    const text = source.key.trim();
    const importFor = (alg: string) => {
      let key = imported.get(alg);
      if (!key) {
        key = text.startsWith('{') ? (importJWK(JSON.parse(text) as JWK, alg) as Promise<CryptoKey>) : importSPKI(text, alg);
        key.catch(() => imported.delete(alg));
        imported.set(alg, key);
      }
      return key;
    };
    return { get: (header) => importFor(header.alg ?? ''), ...LOCAL_KEY };
  }
  return jwksResolver(source.url, source.cooldownMs);
}

/**
 * The issuer's JWKS through one jose remote key set: fetched on first use, refetched on an
 * unknown `kid` at most once per cooldown. When the JWKS host is down, keys already fetched keep
 * verifying: jose would otherwise refuse every token once its cache ages out. A token whose key
 * is neither cached nor fetchable cannot be judged: KeySourceUnavailableError (503), not 401.
 */
function jwksResolver(url: URL, cooldownMs: number): Resolver {
  const remote = createRemoteJWKSet(url, { cooldownDuration: cooldownMs, timeoutDuration: 5000 });
  let lastFailure = -Infinity;
  let lastReason = 'not_fetched';
  const failed = (err: unknown) => {
    lastFailure = Date.now();
    lastReason = reasonOf(err);
  };
  /** A key fetched earlier for this token, or KeySourceUnavailableError: the host is down, so an unknown kid may be a new key. */
  const fromCache = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    const cached = remote.jwks();
    if (!cached) throw new KeySourceUnavailableError(lastReason);
    try {
      return await createLocalJWKSet(cached)(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey) throw new KeySourceUnavailableError(lastReason);
      throw err;
    }
  };
  const get: JWTVerifyGetKey = async (header, token) => {
    // The last fetch failed: wait out the cooldown instead of hitting the JWKS host on every request.
    if (Date.now() - lastFailure < cooldownMs) return fromCache(header, token);
    try {
      return await remote(header, token);
    } catch (err) {
      // The host answered (or jose's own cooldown after a good fetch): the kid really is unknown.
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      failed(err);
      return fromCache(header, token);
    }
  };
  const warmUp = async () => {
    try {
      await remote.reload();
      return undefined;
    } catch (err) {
      failed(err);
      return lastReason;
    }
  };
  const keysReady = async () => {
    if (!remote.jwks() && Date.now() - lastFailure >= cooldownMs) await warmUp();
    if (remote.jwks()) return undefined;
    return `The issuer's key set (AUTH_JWKS_URL) has not been fetched (${lastReason}): tokens cannot be verified until the JWKS host answers.`;
  };
  return { get, warmUp, keysReady };
}

/** A stable, secret-free code for a failed JWKS fetch: jose's code, the HTTP status, or the socket error. */
function reasonOf(err: unknown): string {
  // While fetching a key set, jose's generic error means "not 200 OK".
  if (err instanceof errors.JOSEError) return err.code === 'ERR_JOSE_GENERIC' ? 'jwks_not_200' : err.code;
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  if (typeof cause === 'string') return cause;
  return err instanceof Error ? err.name : 'unknown';
}

/** Maps jose's stable error codes to short, header-safe descriptions (RFC 6750 §3). */
function describe(err: unknown): InvalidTokenError | KeySourceUnavailableError {
  if (err instanceof InvalidTokenError || err instanceof KeySourceUnavailableError) return err;
  if (err instanceof errors.JWTExpired) return new InvalidTokenError(err.code, 'The token has expired', 'expiry');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    const [why, check]: [string, TokenCheck] =
      claim === 'aud'
        ? ['The token audience does not include this resource', 'audience']
        : claim === 'iss'
          ? ['The token issuer is not the expected issuer', 'issuer']
          : claim === 'nbf'
            ? ['The token is not yet valid', 'not before']
            : claim === 'exp'
              ? ['The token has no exp claim', 'required claim']
              : claim === 'iat'
                ? ['The token iat claim is invalid', 'issued at']
                : [`The token ${claim} claim is invalid`, 'claim'];
    return new InvalidTokenError(err.code, why, check);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new InvalidTokenError(err.code, 'The token signing algorithm is not allowed', 'algorithm');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new InvalidTokenError(err.code, 'The token signature is invalid', 'signature');
  if (err instanceof errors.JWKSNoMatchingKey) return new InvalidTokenError(err.code, 'No issuer key matches the token kid', 'key');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return new InvalidTokenError((err as errors.JOSEError).code, 'The token is malformed or uses an unsupported algorithm', 'format');
  }
  if (err instanceof errors.JWKSTimeout) return new InvalidTokenError(err.code, 'The issuer keys could not be fetched in time', 'key');
  if (err instanceof errors.JOSEError) return new InvalidTokenError(err.code, 'The token could not be verified');
  // Key import failures (a key that does not fit the alg), JWKS fetch failures.
  return new InvalidTokenError('ERR_TOKEN_UNVERIFIABLE', 'The token could not be verified with the configured keys', 'key');
}
