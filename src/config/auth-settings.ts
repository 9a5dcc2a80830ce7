import type { EnvValues } from './variables.js';

/** How tokens are verified: the key source, algorithms, issuer, audience and scopes. */

export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
export const ASYMMETRIC_ALGORITHMS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
] as const;

export type KeySource =
  | { kind: 'secret'; secret: Uint8Array }
  | { kind: 'public-key'; key: string }
  | { kind: 'jwks'; url: URL; cooldownMs: number };

export interface AuthConfig {
  keySource: KeySource;
  algorithms: string[];
  issuer?: string;
  /** The audiences a token may carry, any one of them: AUTH_AUDIENCE's list, else the canonical resource URI. */
  audiences: string[];
  requiredScopes: string[];
  /**
   * AUTH_CONNECT_SCOPES: what the first 401's `scope` asks for and `scopes_supported` lists first,
   * since Claude's clients request exactly those at connect time and never step up on a 403.
   */
  connectScopes: string[];
  /** Scope needed to invite an org admin; undefined turns the check off. */
  adminScope?: string;
  /** RFC 9728 `authorization_servers`; empty means none is known. */
  authorizationServers: string[];
  tenantClaim: string;
  clockToleranceSec: number;
}

/** Every scope this server knows, the connect-time ones first (RFC 9728 scopes_supported). */
export function allScopes(auth: Pick<AuthConfig, 'connectScopes' | 'requiredScopes' | 'adminScope'>): string[] {
  return [...new Set([...auth.connectScopes, ...auth.requiredScopes, ...(auth.adminScope ? [auth.adminScope] : [])])];
}

export function buildKeySource(e: EnvValues, localSecret: Uint8Array | undefined, problems: string[]): KeySource {
  if (e.AUTH_JWT_SECRET) {
    const secret = new TextEncoder().encode(e.AUTH_JWT_SECRET);
    if (secret.byteLength < 32) {
      // RFC 7518 §3.2: an HS256 key must be at least as long as the hash output (256 bits).
      problems.push(
        `AUTH_JWT_SECRET is too short (${secret.byteLength} bytes): use at least 32 bytes, e.g. the output of \`openssl rand -base64 48\`.`,
      );
    }
    return { kind: 'secret', secret };
  }
  if (e.AUTH_PUBLIC_KEY) {
    const key = e.AUTH_PUBLIC_KEY.replace(/\\n/g, '\n');
    const looksLikePem = key.includes('-----BEGIN PUBLIC KEY-----');
    let jwk: { kty?: unknown; d?: unknown } | undefined;
    try {
      jwk = JSON.parse(key) as { kty?: unknown; d?: unknown };
    } catch {
      jwk = undefined;
    }
    const looksLikeJwk = typeof jwk?.kty === 'string';
    if (jwk?.kty === 'oct') {
      problems.push('AUTH_PUBLIC_KEY is a symmetric JWK (kty "oct"): use AUTH_JWT_SECRET for shared secrets.');
    } else if (looksLikeJwk && jwk?.d !== undefined) {
      problems.push('AUTH_PUBLIC_KEY is a private JWK (it has "d"): give the public key only.');
    } else if (!looksLikePem && !looksLikeJwk) {
      problems.push('AUTH_PUBLIC_KEY must be a PEM SPKI public key ("-----BEGIN PUBLIC KEY-----") or a public JWK as JSON.');
    }
    return { kind: 'public-key', key };
  }
  if (e.AUTH_JWKS_URL) return { kind: 'jwks', url: new URL(e.AUTH_JWKS_URL), cooldownMs: e.AUTH_JWKS_COOLDOWN_MS };
  // Local mode: the entry's local secret, or a throw-away one (Web Crypto exists on both runtimes).
  return { kind: 'secret', secret: localSecret ?? crypto.getRandomValues(new Uint8Array(32)) };
}
