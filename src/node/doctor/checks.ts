/**
 * `npm run doctor`: checks a deployment the way Claude's connectors will meet it, from the
 * operator's machine, before anyone opens Claude. Each check names what it saw and, when it fails,
 * the fix and on which side it lies: this server's settings, the authorization server's, or the
 * network in front. What Claude needs (Anthropic's connector docs and public issue trackers, read
 * for issue 28): https on port 443, a public IPv4 address, RFC 9728 metadata whose `resource` is
 * the URL exactly, an authorization server with RFC 8414 or OpenID metadata, dynamic client
 * registration or client ID metadata documents, PKCE S256, https endpoints, and an answer to the
 * first authenticated `initialize` within 10 s.
 */
import { isIP } from 'node:net';

export type Status = 'pass' | 'fail' | 'warn';
export type Side = 'network' | 'server' | 'authorization server' | 'token';

export interface Check {
  id: string;
  status: Status;
  /** What was checked and what was seen, one line. */
  summary: string;
  /** For a failure or warning: what to change. */
  fix?: string;
  side?: Side;
}

export interface DoctorDeps {
  fetch: typeof fetch;
  /** The IPv4 and IPv6 addresses a host name resolves to (node:dns lookup with all: true). */
  lookup(host: string): Promise<{ address: string; family: number }[]>;
  now?: () => number;
}

/** claude.ai gives the first authenticated `initialize` this long (Anthropic's connector docs). */
const INITIALIZE_DEADLINE_MS = 10_000;
const TIMEOUT_MS = 10_000;

/** RFC 1918, loopback, CGNAT (RFC 6598), link-local, "this network", and the other ranges claude.ai refuses. */
function nonPublicIPv4(address: string): string | undefined {
  const [a, b] = address.split('.').map(Number) as [number, number];
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private (RFC 1918)';
  if (a === 127) return 'loopback';
  if (a === 100 && b >= 64 && b <= 127) return 'carrier-grade NAT (RFC 6598)';
  if (a === 169 && b === 254) return 'link-local';
  if (a === 0 || a >= 224) return 'not a unicast address';
  return undefined;
}

/** RFC 9728 §3.1: the metadata URL with the resource's path inserted after the well-known segment. */
function metadataUrlFor(resource: URL): string {
  return `${resource.origin}/.well-known/oauth-protected-resource${resource.pathname === '/' ? '' : resource.pathname}`;
}

/** RFC 8414 §3.1 (path-inserted), then OpenID Connect Discovery (appended), then OIDC path-inserted. */
function authorizationServerMetadataUrls(issuer: URL): string[] {
  const path = issuer.pathname.replace(/\/$/, '');
  return [
    `${issuer.origin}/.well-known/oauth-authorization-server${path}`,
    `${issuer.origin}${path}/.well-known/openid-configuration`,
    ...(path ? [`${issuer.origin}/.well-known/openid-configuration${path}`] : []),
  ];
}

function bearerParams(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of (header ?? '').matchAll(/([a-z_]+)="([^"]*)"/gi)) out[m[1]!.toLowerCase()] = m[2]!;
  return out;
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'portkey-invite-mcp-doctor', version: '1' } },
};

export interface DoctorOptions {
  /** An access token to try, as Claude would hold it after signing in. */
  token?: string;
  /** The claim that names the caller's tenant (the server's TENANT_CLAIM). */
  tenantClaim?: string;
}

export async function runDoctor(target: string, options: DoctorOptions, deps: DoctorDeps): Promise<Check[]> {
  const { token, tenantClaim = 'org_id' } = options;
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);
  const now = deps.now ?? (() => performance.now());
  const get = (url: string, init: RequestInit = {}) => deps.fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    get(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(body),
    });

  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return [{ id: 'url', status: 'fail', summary: `${JSON.stringify(target)} is not a URL`, fix: 'Give the public /mcp URL, e.g. https://mcp.example.com/mcp.', side: 'server' }];
  }

  // 1. The address claude.ai dials.
  if (url.protocol === 'https:' && (url.port === '' || url.port === '443')) add({ id: 'https', status: 'pass', summary: 'https on port 443' });
  else {
    add({
      id: 'https',
      status: 'fail',
      summary: `${url.protocol === 'https:' ? `https on port ${url.port}` : 'plain http'}: claude.ai dials only https on port 443`,
      fix: 'Serve the /mcp URL over https on port 443 (a TLS-terminating proxy or load balancer in front), and set PUBLIC_URL to that URL.',
      side: 'network',
    });
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[] = [];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await deps.lookup(host);
  } catch (err) {
    add({ id: 'dns', status: 'fail', summary: `${host} does not resolve (${(err as { code?: string }).code ?? 'lookup failed'})`, fix: `Publish an A record for ${host}.`, side: 'network' });
  }
  if (addresses.length) {
    const v4 = addresses.filter((a) => a.family === 4).map((a) => a.address);
    const bad = v4.flatMap((a) => (nonPublicIPv4(a) ? [`${a} (${nonPublicIPv4(a)})`] : []));
    if (!v4.length) add({ id: 'dns', status: 'fail', summary: `${host} has no IPv4 address: claude.ai dials IPv4 only`, fix: `Publish an A record for ${host}.`, side: 'network' });
    else if (bad.length) {
      const literal = isIP(host) !== 0;
      add({
        id: 'dns',
        status: 'fail',
        summary: literal ? `${bad.join(', ')} is not a public address: claude.ai refuses it` : `${host} resolves to ${bad.join(', ')}: claude.ai refuses such answers`,
        fix: literal ? 'Give Claude a host name that resolves to a public IPv4 address.' : `Point ${host} at a public IPv4 address.`,
        side: 'network',
      });
    }
    else add({ id: 'dns', status: 'pass', summary: `${host} resolves to public IPv4 ${v4.join(', ')}` });
  }

  // 2. The first 401 and the protected resource metadata.
  let challenge: Record<string, string> = {};
  try {
    const res = await post(INITIALIZE);
    await res.body?.cancel();
    challenge = bearerParams(res.headers.get('www-authenticate'));
    if (res.status !== 401) {
      add({
        id: 'challenge',
        status: 'fail',
        summary: `a POST without a token got HTTP ${res.status}, not 401`,
        fix: target.endsWith('/')
          ? `Give Claude the URL without the trailing slash, ${target.replace(/\/+$/, '')}: the metadata's resource has none, and Claude sends the URL it was given as the resource.`
          : "Give the URL of this server's /mcp endpoint (a proxy may be answering instead).",
        side: 'server',
      });
    } else if (!challenge.resource_metadata) {
      add({
        id: 'challenge',
        status: 'warn',
        summary: 'the 401 names no resource_metadata: this server takes bearer tokens only (Claude Code with --header, the Messages API), and claude.ai cannot sign in to it',
        fix: 'For claude.ai, set AUTH_JWKS_URL and AUTH_ISSUER (or AUTH_SERVERS) to your authorization server.',
        side: 'server',
      });
    } else if (challenge.resource_metadata !== metadataUrlFor(url)) {
      add({
        id: 'challenge',
        status: 'fail',
        summary: `the 401's resource_metadata is ${challenge.resource_metadata}, not ${metadataUrlFor(url)}`,
        fix: `Set PUBLIC_URL to ${url.origin}${url.pathname.replace(/\/mcp$/, '')} (this server's public URL, without /mcp).`,
        side: 'server',
      });
    } else add({ id: 'challenge', status: 'pass', summary: `401 with resource_metadata=${challenge.resource_metadata}${challenge.scope ? `, scope="${challenge.scope}"` : ''}` });
  } catch (err) {
    add({ id: 'challenge', status: 'fail', summary: `POST ${target} failed: ${reason(err)}`, fix: 'Start the server, or check the URL and the network path to it.', side: 'network' });
    return checks;
  }

  let authorizationServer: string | undefined;
  if (challenge.resource_metadata) {
    try {
      const res = await get(challenge.resource_metadata);
      const prm = (await res.json()) as { resource?: unknown; authorization_servers?: unknown; scopes_supported?: unknown };
      const expected = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
      if (res.status !== 200) add({ id: 'resource', status: 'fail', summary: `the metadata answered HTTP ${res.status}`, fix: 'Set AUTH_ISSUER or AUTH_SERVERS.', side: 'server' });
      else if (prm.resource !== expected || target.endsWith('/')) {
        add({
          id: 'resource',
          status: 'fail',
          summary: `the metadata's resource is ${JSON.stringify(prm.resource)}; the URL you give Claude is ${JSON.stringify(target)}: Claude sends the resource verbatim and the token's audience must match it`,
          fix: `Give Claude exactly ${JSON.stringify(prm.resource)} (no trailing slash), or set PUBLIC_URL so that <PUBLIC_URL>/mcp is the URL you give it.`,
          side: 'server',
        });
      } else if (!Array.isArray(prm.authorization_servers) || typeof prm.authorization_servers[0] !== 'string') {
        add({ id: 'resource', status: 'fail', summary: 'the metadata names no authorization server', fix: 'Set AUTH_ISSUER (or AUTH_SERVERS).', side: 'server' });
      } else {
        authorizationServer = prm.authorization_servers[0];
        add({ id: 'resource', status: 'pass', summary: `the metadata's resource is the URL exactly, and names ${authorizationServer}` });
      }
    } catch (err) {
      add({ id: 'resource', status: 'fail', summary: `GET ${challenge.resource_metadata} failed: ${reason(err)}`, fix: 'Check PUBLIC_URL and the proxy in front.', side: 'server' });
    }
  }

  // 3. The authorization server, as Claude will discover it.
  if (authorizationServer) await checkAuthorizationServer(authorizationServer, challenge.scope, get, add);

  // 4. With a token: the first authenticated initialize, then tools/list.
  if (token) {
    await checkToken(token, post, now, add);
    const claims = decodePayload(token);
    if (claims) {
      const held = [claims.scope, claims.scp].flatMap((v) => (typeof v === 'string' ? v.split(' ') : Array.isArray(v) ? v : [])).filter(Boolean);
      // For telling whether the authorization server quietly drops a scope the user may not hold.
      add({ id: 'token-scopes', status: 'pass', summary: `the token carries the scopes: ${held.join(' ') || 'none'}` });
    }
    if (claims && claims[tenantClaim] === undefined) {
      add({
        id: 'tenant-claim',
        status: 'warn',
        summary: `the token carries no "${tenantClaim}" claim: with several tenants (TENANTS, TENANTS_KV, TENANTS_REDIS_PREFIX) every call is refused`,
        fix: `Add the tenant claim to access tokens in the authorization server (a claim mapper or action), or set TENANT_CLAIM to the claim it does carry (--tenant-claim to check another name).`,
        side: 'authorization server',
      });
    } else if (claims) add({ id: 'tenant-claim', status: 'pass', summary: `the token names tenant ${JSON.stringify(claims[tenantClaim])} in "${tenantClaim}"` });
  }
  return checks;
}

async function checkAuthorizationServer(
  issuerText: string,
  connectScopes: string | undefined,
  get: (url: string) => Promise<Response>,
  add: (c: Check) => void,
): Promise<void> {
  const AS: Side = 'authorization server';
  let issuer: URL;
  try {
    issuer = new URL(issuerText);
  } catch {
    add({ id: 'as-metadata', status: 'fail', summary: `the authorization server ${JSON.stringify(issuerText)} is not a URL`, fix: 'Set AUTH_ISSUER or AUTH_SERVERS to its issuer URL.', side: 'server' });
    return;
  }
  let metadata: Record<string, unknown> | undefined;
  let from = '';
  for (const candidate of authorizationServerMetadataUrls(issuer)) {
    try {
      const res = await get(candidate);
      if (res.status === 200) {
        metadata = (await res.json()) as Record<string, unknown>;
        from = candidate;
        break;
      }
      await res.body?.cancel();
    } catch {
      /* the next form */
    }
  }
  if (!metadata) {
    add({
      id: 'as-metadata',
      status: 'fail',
      summary: `no authorization server metadata at ${authorizationServerMetadataUrls(issuer).join(' or ')}`,
      fix: 'Set AUTH_ISSUER (or AUTH_SERVERS) to the exact issuer URL your provider publishes metadata for (RFC 8414 or OpenID discovery).',
      side: 'server',
    });
    return;
  }
  add({ id: 'as-metadata', status: 'pass', summary: `metadata at ${from}` });

  const methods = (metadata.token_endpoint_auth_methods_supported as string[] | undefined) ?? ['client_secret_basic'];
  const cimd = metadata.client_id_metadata_document_supported === true && methods.includes('none');
  if (typeof metadata.registration_endpoint === 'string' || cimd) {
    add({ id: 'registration', status: 'pass', summary: cimd ? 'client ID metadata documents, with public clients (none) at the token endpoint' : `dynamic client registration at ${metadata.registration_endpoint}` });
  } else {
    add({
      id: 'registration',
      status: 'warn',
      summary: 'neither dynamic client registration nor client ID metadata documents: Claude can only connect with a client ID typed into the connector\'s advanced settings',
      fix: 'Enable dynamic client registration (or client ID metadata documents, with "none" allowed at the token endpoint), or register a client for Claude with the redirect URIs https://claude.ai/api/mcp/auth_callback and https://claude.com/api/mcp/auth_callback and give its ID in the connector\'s advanced settings.',
      side: AS,
    });
  }
  const pkce = metadata.code_challenge_methods_supported;
  if (Array.isArray(pkce) && pkce.includes('S256')) add({ id: 'pkce', status: 'pass', summary: 'PKCE with S256' });
  else add({ id: 'pkce', status: 'fail', summary: `PKCE S256 is not advertised (code_challenge_methods_supported: ${JSON.stringify(pkce ?? null)})`, fix: 'Enable PKCE with S256 for authorization code clients; MCP clients refuse a server that does not advertise it.', side: AS });

  const endpoints = ['authorization_endpoint', 'token_endpoint', 'registration_endpoint', 'jwks_uri'].filter((k) => typeof metadata[k] === 'string');
  const plain = endpoints.filter((k) => !String(metadata[k]).startsWith('https://'));
  if (plain.length) add({ id: 'as-https', status: 'fail', summary: `not https: ${plain.map((k) => `${k} ${metadata[k]}`).join(', ')}`, fix: 'Publish every endpoint over https (the issuer URL and any proxy in front of the authorization server).', side: AS });
  else add({ id: 'as-https', status: 'pass', summary: `${endpoints.length} endpoints, all https` });

  const supported = metadata.scopes_supported;
  const wanted = (connectScopes ?? '').split(' ').filter(Boolean);
  if (!Array.isArray(supported)) add({ id: 'scopes', status: 'pass', summary: 'the authorization server does not list its scopes (nothing to compare)' });
  else {
    const missing = wanted.filter((s) => !supported.includes(s));
    if (missing.length) add({ id: 'scopes', status: 'fail', summary: `the connect-time scope(s) ${missing.join(' ')} are not among its scopes_supported`, fix: `Define the scope(s) ${missing.join(' ')} on the API/resource for this server.`, side: AS });
    else add({ id: 'scopes', status: 'pass', summary: `lists the connect-time scopes (${wanted.join(' ') || 'none asked'})` });
  }
  if (metadata.authorization_response_iss_parameter_supported === true) add({ id: 'iss', status: 'pass', summary: 'returns iss in authorization responses (RFC 9207)' });
  else add({ id: 'iss', status: 'warn', summary: 'does not advertise the RFC 9207 iss parameter (advisory: it defends clients against mix-up attacks)', fix: 'Turn on "include issuer in authorization responses" if your provider offers it.', side: AS });
}

async function checkToken(token: string, post: (body: unknown, headers?: Record<string, string>) => Promise<Response>, now: () => number, add: (c: Check) => void): Promise<void> {
  const claims = decodePayload(token);
  const started = now();
  let res: Response;
  try {
    res = await post(INITIALIZE, { authorization: `Bearer ${token}` });
  } catch (err) {
    add({ id: 'initialize', status: 'fail', summary: `initialize with the token failed: ${reason(err)}`, side: 'network' });
    return;
  }
  const ms = Math.round(now() - started);
  if (res.status === 401 || res.status === 403) {
    const p = bearerParams(res.headers.get('www-authenticate'));
    await res.body?.cancel();
    add({ id: 'initialize', status: 'fail', ...explainRefusal(res.status, p.error_description ?? p.error ?? '', claims), side: 'authorization server' });
    return;
  }
  if (res.status !== 200) {
    add({ id: 'initialize', status: 'fail', summary: `initialize with the token got HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`, side: 'server' });
    return;
  }
  await res.body?.cancel();
  if (ms > INITIALIZE_DEADLINE_MS) add({ id: 'initialize', status: 'fail', summary: `initialize answered in ${ms} ms, past claude.ai's 10 s deadline`, fix: 'Warm the server (a JWKS fetch at start), or move it nearer.', side: 'server' });
  else add({ id: 'initialize', status: ms > INITIALIZE_DEADLINE_MS / 2 ? 'warn' : 'pass', summary: `initialize answered in ${ms} ms (claude.ai allows 10 s)` });
  const list = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list' }, { authorization: `Bearer ${token}` });
  const tools = ((await list.json().catch(() => ({}))) as { result?: { tools?: { name: string }[] } }).result?.tools?.map((t) => t.name) ?? [];
  if (tools.includes('invite_user')) add({ id: 'tools', status: 'pass', summary: `tools/list shows ${tools.join(', ')}` });
  else add({ id: 'tools', status: 'fail', summary: `tools/list shows ${tools.length ? tools.join(', ') : 'no tools'} (HTTP ${list.status})`, side: 'server' });
}

/** Our own 401/403 says which check failed; the fix is on the authorization server's side. */
function explainRefusal(status: number, said: string, claims: Record<string, unknown> | undefined): { summary: string; fix: string } {
  const seen = claims ? ` (the token says aud ${JSON.stringify(claims.aud)}, iss ${JSON.stringify(claims.iss)})` : '';
  const summary = `the server refused the token, HTTP ${status}: "${said}"${seen}`;
  if (/audience|aud\b/i.test(said)) {
    return { summary, fix: "Make the token's audience the metadata's resource: in the authorization server, the API/resource identifier must be the /mcp URL exactly (and accept the RFC 8707 resource parameter; Auth0: the Resource Parameter Compatibility Profile), or list the audience it issues in AUTH_AUDIENCE." };
  }
  if (/issuer|iss\b/i.test(said)) return { summary, fix: 'Set AUTH_ISSUER to the "iss" the authorization server puts in its tokens, exactly (a trailing slash counts).' };
  if (/expired/i.test(said)) return { summary, fix: 'Get a fresh token; if fresh ones fail too, check the clocks.' };
  if (/scope/i.test(said)) return { summary, fix: 'Grant the required scope(s) on the API/resource for this server, and let clients request them.' };
  if (/signature|key/i.test(said)) return { summary, fix: "Set AUTH_JWKS_URL to the authorization server's jwks_uri, and AUTH_ALGORITHMS to the algorithm it signs with." };
  return { summary, fix: "Compare the token's claims with AUTH_ISSUER, AUTH_AUDIENCE and AUTH_REQUIRED_SCOPES." };
}

function decodePayload(token: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${TIMEOUT_MS / 1000} s`;
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}
