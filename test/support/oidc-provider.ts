/**
 * A real OAuth 2.1 / OpenID authorization server on loopback: panva's oidc-provider, configured
 * the way an MCP deployment needs it (and the way claude.ai drives one):
 *
 * - dynamic client registration (RFC 7591), open (no initial access token);
 * - authorization code + PKCE S256, required for every client;
 * - resource indicators (RFC 8707): our canonical resource `<PUBLIC_URL>/mcp` and one other
 *   resource server (`https://other.example/mcp`), both issuing RS256 JWT access tokens
 *   (RFC 9068) whose `aud` is the resource;
 * - a tenant claim (`org_id`) in every JWT access token;
 * - client_credentials for a statically registered confidential client (the machine path).
 *
 * Login and consent are not HTML pages: a tiny JSON interaction API stands in for them
 * (`GET /interaction/:uid`, `POST /interaction/:uid/login`, `POST /interaction/:uid/consent`),
 * and `completeAuthorization()` plays the user agent: it follows the redirects from an
 * authorization URL with a cookie jar, logs in, grants what is asked, and returns the code
 * delivered to the client's redirect URI.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
// oidc-provider ships no type declarations (and @types/oidc-provider is not a dependency): the
// few parts used here are typed by the interfaces below.
// @ts-ignore TS7016: untyped JavaScript module
import OidcProvider, { errors as oidcErrors, interactionPolicy } from 'oidc-provider';

export const OTHER_RESOURCE = 'https://other.example/mcp';
export const RESOURCE_SCOPES = 'portkey.invite portkey.invite.admin';

export interface OidcProviderOptions {
  /** The canonical resource URI of the MCP server under test (`<PUBLIC_URL>/mcp`). */
  resource: string;
  /** The `org_id` claim every access token carries. */
  tenant: string;
  /** A confidential client registered statically, allowed client_credentials only. */
  machineClient: { clientId: string; clientSecret: string; scope: string };
  /** The issuer it names itself by (default: its loopback URL), e.g. https://auth.example.com behind a test's mapping fetch. */
  issuer?: string;
  /** Dynamic client registration (default on). */
  registration?: boolean;
  /** The resource scopes it defines (default RESOURCE_SCOPES). */
  resourceScopes?: string;
  /**
   * Per-user grants, as a real deployment's authorization server gives them: the resource scopes
   * each account may hold. Consent is skipped and each account gets only what it asks for among
   * its own scopes (interactionPolicy.base() minus consent, loadExistingGrant). Unlisted accounts
   * get the first required scope only.
   */
  grantsPerUser?: Record<string, string[]>;
}

/** One interaction the user agent went through: which prompt, and what it asked for. */
export interface InteractionRecord {
  uid: string;
  prompt: string;
  reasons: string[];
  details: Record<string, unknown>;
  params: Record<string, unknown>;
}

export interface TestOidcProvider {
  issuer: string;
  /** Where it listens (its loopback origin), whatever issuer it names itself by. */
  local: string;
  /** The OpenID discovery document, as served. */
  metadata: {
    issuer: string;
    jwks_uri: string;
    token_endpoint: string;
    authorization_endpoint: string;
    registration_endpoint: string;
    [k: string]: unknown;
  };
  /** Every interaction shown to the (simulated) user, in order. */
  interactions: InteractionRecord[];
  /** Every request the provider received: `METHOD /path` (query dropped). */
  requests: string[];
  /** Errors oidc-provider emitted (server_error, grant.error, ...), to surface in failures. */
  errors: string[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Minimal typings of the oidc-provider API used here
// ---------------------------------------------------------------------------------------------

interface Interaction {
  uid: string;
  prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
  params: Record<string, unknown> & { client_id: string };
  session?: { accountId?: string };
  grantId?: string;
}
interface Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  save(): Promise<string>;
}
interface ProviderInstance {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(req: IncomingMessage, res: ServerResponse, result: unknown, o?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: { new (o: { accountId: string; clientId: string }): Grant; find(id: string): Promise<Grant | undefined> };
  on(event: string, listener: (...args: unknown[]) => void): void;
}
type ProviderConstructor = new (issuer: string, configuration: Record<string, unknown>) => ProviderInstance;

interface OidcCtx {
  oidc: { client?: { clientId: string } };
}
interface AccessTokenLike {
  kind: string;
  clientId?: string;
  accountId?: string;
}

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------

export async function startOidcProvider(o: OidcProviderOptions): Promise<TestOidcProvider> {
  // Listen first, so the issuer (which must be known to build the provider) has a real port.
  const sockets = new Set<Socket>();
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer((req, res) => handler(req, res));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = o.issuer ?? local;
  const resourceScopes = o.resourceScopes ?? RESOURCE_SCOPES;

  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `test-${randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };

  const resourceServer = (audience: string) => ({
    scope: resourceScopes,
    audience,
    accessTokenTTL: 600,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  });
  const interactions: InteractionRecord[] = [];
  const requests: string[] = [];
  const errors: string[] = [];

  const Provider = OidcProvider as ProviderConstructor;
  const provider = new Provider(issuer, {
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    // `scope` client metadata (which the MCP SDK sends at registration) may only name scopes
    // listed here; the resource servers below decide what access tokens actually carry.
    scopes: ['openid', 'offline_access', ...resourceScopes.split(' ')],
    clients: [
      {
        client_id: o.machineClient.clientId,
        client_secret: o.machineClient.clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: o.machineClient.scope,
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    // OAuth 2.1 / MCP authorization: PKCE (S256, the only method oidc-provider supports) for all.
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: o.registration ?? true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: OidcCtx, _client: unknown, oneOf?: string[]) => oneOf ?? o.resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: OidcCtx, indicator: string) => {
          if (indicator === o.resource) return resourceServer(o.resource);
          if (indicator === OTHER_RESOURCE) return resourceServer(OTHER_RESOURCE);
          // Anything else is not a resource server this AS knows: invalid_target.
          throw new (oidcErrors as { InvalidTarget: new () => Error }).InvalidTarget();
        },
      },
    },
    // The tenant claim, as an Auth0 Action / Okta claim / Keycloak mapper would add it.
    extraTokenClaims: async (_ctx: OidcCtx, token: AccessTokenLike) =>
      token.kind === 'AccessToken' || token.kind === 'ClientCredentials' ? { org_id: o.tenant } : undefined,
    findAccount: async (_ctx: OidcCtx, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    interactions: { url: (_ctx: OidcCtx, interaction: { uid: string }) => `/interaction/${interaction.uid}`, ...(o.grantsPerUser ? { policy: policyWithoutConsent() } : {}) },
    ...(o.grantsPerUser ? { loadExistingGrant: perUserGrant(o.resource, o.grantsPerUser, resourceScopes.split(' ')[0]!) } : {}),
    // Node's fetch sends no Origin; browsers (claude.ai's web client) would, for registration/token.
    clientBasedCORS: () => true,
    ttl: { Session: 600, Interaction: 600, Grant: 600, AuthorizationCode: 60, AccessToken: 600, ClientCredentials: 600 },
  });
  // Behind a test's mapping fetch, the provider answers for its public issuer as if a TLS proxy
  // stood in front (X-Forwarded-Proto/-Host), so its endpoints are named under that issuer.
  if (o.issuer) (provider as unknown as { proxy: boolean }).proxy = true;
  for (const event of ['server_error', 'grant.error', 'registration_create.error', 'authorization.error', 'backchannel.error']) {
    provider.on(event, (...args: unknown[]) => {
      const err = args.find((a) => a instanceof Error) as (Error & { error_description?: string }) | undefined;
      errors.push(`${event}: ${err ? `${err.message}${err.error_description ? ` (${err.error_description})` : ''}` : 'unknown'}`);
    });
  }

  const koa = provider.callback();
  handler = (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    requests.push(`${req.method} ${path}`);
    if (req.method === 'POST' && path === '/reg') {
      registrationWithoutScope(req)
        .then(() => koa(req, res))
        .catch(() => sendJson(res, 400, { error: 'invalid_client_metadata', error_description: 'the body is not JSON' }));
      return;
    }
    const m = /^\/interaction\/([^/]+)(?:\/(login|consent|abort))?$/.exec(path);
    if (!m) return koa(req, res);
    interact(provider, req, res, m[2] as 'login' | 'consent' | 'abort' | undefined, interactions).catch((err: unknown) => {
      errors.push(`interaction: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendJson(res, 400, { error: 'interaction_failed', error_description: String(err) });
      else res.destroy();
    });
  };

  const metadataRes = await fetch(`${local}/.well-known/openid-configuration`);
  if (!metadataRes.ok) throw new Error(`oidc-provider discovery failed: HTTP ${metadataRes.status}`);
  const metadata = (await metadataRes.json()) as TestOidcProvider['metadata'];

  return {
    issuer,
    local,
    metadata,
    interactions,
    requests,
    errors,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** Login only: no consent prompt, since each account's grant comes from perUserGrant. */
function policyWithoutConsent(): unknown {
  const policy = (interactionPolicy as { base(): { remove(name: string): void } }).base();
  policy.remove('consent');
  return policy;
}

interface GrantCtx {
  oidc: {
    session?: { accountId?: string };
    client?: { clientId: string };
    params?: { scope?: string };
    provider: { Grant: new (o: { accountId: string; clientId: string }) => Grant };
  };
}

/**
 * As an authorization server that grants per user (Auth0 with RBAC "add permissions in the access
 * token", Okta/Keycloak scope policies): each account gets what it asked for among the scopes it
 * may hold, and anything else it asked for is quietly left out of its token.
 */
function perUserGrant(resource: string, grants: Record<string, string[]>, fallback: string) {
  return async (ctx: GrantCtx) => {
    const accountId = ctx.oidc.session?.accountId;
    const clientId = ctx.oidc.client?.clientId;
    if (!accountId || !clientId) return undefined;
    const grant = new ctx.oidc.provider.Grant({ accountId, clientId });
    const requested = (ctx.oidc.params?.scope ?? '').split(' ').filter(Boolean);
    const allowed = grants[accountId] ?? [fallback];
    grant.addOIDCScope(requested.filter((s) => s === 'openid' || s === 'offline_access').join(' '));
    grant.addResourceScope(resource, requested.filter((s) => allowed.includes(s)).join(' '));
    await grant.save();
    return grant;
  };
}

/**
 * Registration policy: like Auth0 and most hosted authorization servers, a dynamically registered
 * client is not limited to the `scope` it names at registration (the MCP SDK sends the scope of the
 * first challenge, `portkey.invite`), so it can later step up to `portkey.invite.admin`. oidc-provider
 * would otherwise enforce the registered `scope` as an allow-list; the parsed body, minus `scope`,
 * is handed to it as `req.body` (which it reads when the stream was already consumed).
 */
async function registrationWithoutScope(req: IncomingMessage): Promise<void> {
  const body = await readJson(req);
  delete body.scope;
  (req as IncomingMessage & { body?: unknown }).body = body;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/**
 * The login and consent "pages", as JSON. GET shows the pending prompt; POST login signs in the
 * account named in the body; POST consent grants exactly what the prompt reports missing (OIDC
 * scopes and claims, and each resource server's scopes); POST abort denies.
 */
async function interact(
  provider: ProviderInstance,
  req: IncomingMessage,
  res: ServerResponse,
  action: 'login' | 'consent' | 'abort' | undefined,
  interactions: InteractionRecord[],
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (req.method === 'GET' && action === undefined) {
    interactions.push({ uid, prompt: prompt.name, reasons: prompt.reasons, details: prompt.details, params });
    return sendJson(res, 200, { uid, prompt, params });
  }
  if (req.method !== 'POST' || action === undefined) return sendJson(res, 405, { error: 'method_not_allowed' });
  const body = await readJson(req);

  if (action === 'abort') {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'The user denied the request' }, { mergeWithLastSubmission: false });
  }
  if (action === 'login') {
    if (prompt.name !== 'login') return sendJson(res, 409, { error: 'not_a_login_prompt', prompt: prompt.name });
    const accountId = typeof body.accountId === 'string' && body.accountId ? body.accountId : undefined;
    if (!accountId) return sendJson(res, 400, { error: 'accountId is required' });
    return provider.interactionFinished(req, res, { login: { accountId } }, { mergeWithLastSubmission: false });
  }
  if (prompt.name !== 'consent') return sendJson(res, 409, { error: 'not_a_consent_prompt', prompt: prompt.name });
  const accountId = details.session?.accountId;
  if (!accountId) return sendJson(res, 409, { error: 'no session' });
  const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: params.client_id });
  if (!grant) return sendJson(res, 409, { error: 'grant not found' });
  const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

// ---------------------------------------------------------------------------------------------
// The user agent
// ---------------------------------------------------------------------------------------------

export interface AuthorizationResult {
  /** The URL the authorization server redirected to (the client's redirect URI, with the answer). */
  callback: URL;
  code: string;
  state: string | null;
  /** Every URL visited, in order (`METHOD url -> status`). */
  steps: string[];
}

/**
 * Plays the browser: follows an authorization URL through the authorization server with a cookie
 * jar and manual redirects, signs in as `accountId` when the login prompt shows, grants consent
 * when the consent prompt shows, and stops at the first redirect to `redirectUri` (which need not
 * be served). Throws when the authorization server answers with an error instead of a code.
 */
export async function completeAuthorization(
  authorizationUrl: URL | string,
  o: { redirectUri: string; accountId: string; maxSteps?: number },
): Promise<AuthorizationResult> {
  const jar = new Map<string, string>();
  const steps: string[] = [];
  const request = async (url: URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    steps.push(`${init.method ?? 'GET'} ${url.origin}${url.pathname} -> ${res.status}`);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expires = attrs.map((a) => a.trim()).find((a) => /^expires=/i.test(a));
      const gone = value === '' || (expires !== undefined && Date.parse(expires.slice(8)) <= Date.now());
      if (gone) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  };

  let url = new URL(authorizationUrl);
  let init: RequestInit = {};
  for (let i = 0; i < (o.maxSteps ?? 20); i++) {
    if (url.href.startsWith(o.redirectUri)) {
      const error = url.searchParams.get('error');
      if (error) throw new Error(`authorization failed: ${error}: ${url.searchParams.get('error_description') ?? ''}`);
      const code = url.searchParams.get('code');
      if (!code) throw new Error(`no code in the redirect to ${url.origin}${url.pathname}`);
      return { callback: url, code, state: url.searchParams.get('state'), steps };
    }
    const res = await request(url, init);
    init = {};
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      url = new URL(location, url);
      continue;
    }
    const body = (await res.json().catch(() => undefined)) as { prompt?: { name?: string }; error?: string; error_description?: string } | undefined;
    if (res.status === 200 && /^\/interaction\/[^/]+$/.test(url.pathname) && body?.prompt?.name) {
      const action = body.prompt.name === 'login' ? 'login' : body.prompt.name === 'consent' ? 'consent' : undefined;
      if (!action) throw new Error(`unexpected prompt ${body.prompt.name}`);
      url = new URL(`${url.pathname}/${action}`, url);
      init = {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(action === 'login' ? { accountId: o.accountId } : {}),
      };
      continue;
    }
    throw new Error(`authorization stopped at ${url.origin}${url.pathname} with HTTP ${res.status}: ${JSON.stringify(body)}`);
  }
  throw new Error(`authorization did not finish in ${o.maxSteps ?? 20} steps: ${steps.join(', ')}`);
}
