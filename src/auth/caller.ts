import type { JWTPayload } from 'jose';

/** A caller whose bearer token has been verified. Built only by the token verifier. */
export interface Caller {
  subject: string | undefined;
  scopes: ReadonlySet<string>;
  /** The value of the configured tenant claim, when it is a non-empty string. */
  tenantId: string | undefined;
  claims: JWTPayload;
}

/** OAuth scopes from `scope` (RFC 8693 §4.2: space-separated string) or `scp` (an array, as Okta and Azure AD send). */
function scopesOf(claims: JWTPayload): Set<string> {
  const scopes = new Set<string>();
  const add = (v: unknown) => {
    if (typeof v === 'string') {
      for (const s of v.split(' ')) if (s) scopes.add(s);
    } else if (Array.isArray(v)) {
      for (const s of v) if (typeof s === 'string' && s) scopes.add(s);
    }
  };
  add(claims.scope);
  add(claims.scp);
  return scopes;
}

export function callerFromClaims(claims: JWTPayload, tenantClaim: string): Caller {
  const tenant = claims[tenantClaim];
  return {
    subject: typeof claims.sub === 'string' ? claims.sub : undefined,
    scopes: scopesOf(claims),
    tenantId: typeof tenant === 'string' && tenant !== '' ? tenant : undefined,
    claims,
  };
}
