import { SignJWT } from 'jose';

export interface MintOptions {
  secret: Uint8Array;
  audience: string;
  issuer?: string;
  subject: string;
  scopes: string[];
  /** Extra claims, e.g. the tenant claim. */
  claims?: Record<string, unknown>;
  ttlSeconds: number;
  algorithm?: 'HS256' | 'HS384' | 'HS512';
}

/** Mints an HMAC-signed access token, for local mode and `npm run token`. */
export async function mintToken(o: MintOptions): Promise<string> {
  let jwt = new SignJWT({ ...o.claims, scope: o.scopes.join(' ') })
    .setProtectedHeader({ alg: o.algorithm ?? 'HS256', typ: 'JWT' })
    .setSubject(o.subject)
    .setAudience(o.audience)
    .setIssuedAt()
    .setExpirationTime(`${o.ttlSeconds}s`);
  if (o.issuer) jwt = jwt.setIssuer(o.issuer);
  return jwt.sign(o.secret);
}

/** Parses a duration such as `90`, `30s`, `15m`, `1h`, `2d` into seconds. */
export function parseTtl(value: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  if (!m) throw new Error(`Invalid TTL ${JSON.stringify(value)}: use a number of seconds or e.g. 30m, 1h, 7d.`);
  const n = Number(m[1]);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  if (n <= 0) throw new Error('TTL must be greater than zero.');
  return n * unit;
}
