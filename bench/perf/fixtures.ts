/** What every target is driven with: tokens (HS256, RS256 + a counting JWKS server), bodies, scenarios. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { ScenarioName, TargetName } from './names.js';

export const PUBLIC_URL = 'http://mcp.bench.test';
export const RESOURCE = `${PUBLIC_URL}/mcp`;
export const ISSUER = 'http://issuer.bench.test';
export const JWT_SECRET = 'bench-jwt-secret-0123456789abcdef0123456789abcdef';
export const PORTKEY_API_KEY = 'pk-bench-admin-key';
const KID = 'bench-rs256-1';

const INVITE_ARGS = { email: 'jane@example.com', role: 'member', workspaces: [{ id: 'ws-engineering', role: 'member' }] };
const BODIES: Record<'invite' | 'list', string> = {
  invite: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'invite_user', arguments: INVITE_ARGS } }),
  list: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
};

export interface Fixtures {
  hsToken: string;
  rsToken: string;
  jwks: { server: Server; url: string; fetches: Map<string, number> };
}

export async function makeFixtures(): Promise<Fixtures> {
  const now = Math.floor(Date.now() / 1000);
  const ttl = 6 * 3600; // outlives the longest run
  const hsToken = await new SignJWT({ scope: 'portkey.invite' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('bench-user')
    .setAudience(RESOURCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(new TextEncoder().encode(JWT_SECRET));
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const rsToken = await new SignJWT({ scope: 'portkey.invite' })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: KID })
    .setSubject('bench-user')
    .setIssuer(ISSUER)
    .setAudience(RESOURCE)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(privateKey);

  // A JWKS per path (/jwks/<label>), each path's fetches counted.
  const fetches = new Map<string, number>();
  const payload = JSON.stringify({ keys: [jwk] });
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    fetches.set(path, (fetches.get(path) ?? 0) + 1);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=600' });
    res.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { hsToken, rsToken, jwks: { server, url, fetches } };
}

export interface Scenario {
  name: ScenarioName;
  auth: 'hs256' | 'rs256';
  body: string;
  /** Targets that measure nothing new here (the undici floor's tools/list never goes upstream). */
  skip: readonly TargetName[];
  /** Checks one parsed JSON-RPC response; returns a problem or undefined. */
  check(message: any): string | undefined;
}

const checkInvite = (m: any) =>
  m?.result?.isError ? `isError: ${m.result.content?.[0]?.text}` : typeof m?.result?.structuredContent?.invite_id === 'string' ? undefined : `no invite_id in ${JSON.stringify(m).slice(0, 300)}`;
const checkList = (m: any) => (m?.result?.tools?.[0]?.name === 'invite_user' ? undefined : `no invite_user tool in ${JSON.stringify(m).slice(0, 300)}`);

export const SCENARIO_DEFS: Record<ScenarioName, Scenario> = {
  'invite-hs256': { name: 'invite-hs256', auth: 'hs256', body: BODIES.invite, skip: [], check: checkInvite },
  'invite-rs256': { name: 'invite-rs256', auth: 'rs256', body: BODIES.invite, skip: [], check: checkInvite },
  'tools-list': { name: 'tools-list', auth: 'hs256', body: BODIES.list, skip: ['floor-undici'], check: checkList },
};

export function requestHeaders(scenario: Scenario, fx: Fixtures): Record<string, string> {
  return {
    authorization: `Bearer ${scenario.auth === 'rs256' ? fx.rsToken : fx.hsToken}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': '2025-11-25',
  };
}
