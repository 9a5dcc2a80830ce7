/**
 * The claude.ai path, end to end and offline: a real authorization server (panva's oidc-provider
 * on loopback), the real Node server as the resource server (AUTH_JWKS_URL + AUTH_ISSUER), and
 * the official MCP SDK client as the OAuth client, starting from nothing but the /mcp URL.
 *
 * 401 challenge → resource_metadata → protected resource metadata → authorization server
 * metadata → dynamic client registration → authorization code + PKCE with the `resource`
 * indicator (login and consent driven by a simulated user agent) → token → MCP calls with the
 * tenant claim choosing the Portkey key. Then: a token issued for another resource is refused, the
 * 403 step-up to the admin scope, and the machine path (client_credentials with a resource
 * indicator).
 */
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  SECRETS,
  connectClient,
  freePort,
  inviteCall,
  postMcp,
  recordingFetch,
  rememberSecret,
  startTestServer,
  type TestServer,
} from './support/harness.js';
import { OTHER_RESOURCE, completeAuthorization, startOidcProvider, type TestOidcProvider } from './support/oidc-provider.js';
import { startPortkeyDouble, type PortkeyDouble } from './support/portkey-double.js';

const ACME_KEY = SECRETS.portkeyKey;
const GLOBEX_KEY = SECRETS.otherTenantKey;
const MACHINE = { clientId: 'invite-machine', clientSecret: `machine-SECRET-${randomBytes(12).toString('hex')}`, scope: 'portkey.invite' };
rememberSecret(MACHINE.clientSecret);
/** The client's redirect URI: nothing listens there, the user agent only reads the Location. */
const REDIRECT_URI = 'http://127.0.0.1:53682/callback';
const AUDIENCE_REFUSED = 'The token audience does not include this resource';

let portkey: PortkeyDouble;
let as: TestOidcProvider;
let server: TestServer;
let publicUrl: string;
let resource: string;
const clients: Client[] = [];

beforeAll(async () => {
  portkey = await startPortkeyDouble({ adminKeys: [ACME_KEY, GLOBEX_KEY] });
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  resource = `${publicUrl}/mcp`;
  as = await startOidcProvider({ resource, tenant: 'acme', machineClient: MACHINE });
  server = await startTestServer({
    PORT: String(port),
    PUBLIC_URL: publicUrl,
    AUTH_JWT_SECRET: undefined,
    AUTH_JWKS_URL: as.metadata.jwks_uri,
    AUTH_ISSUER: as.issuer,
    TENANTS: JSON.stringify({ acme: { apiKey: ACME_KEY, baseUrl: portkey.url }, globex: { apiKey: GLOBEX_KEY, baseUrl: portkey.url } }),
  });
});
afterEach(() => portkey.reset());
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await server?.close(100);
  await as?.close();
  await portkey?.close();
});

// ---------------------------------------------------------------------------------------------
// The OAuth client: the SDK's OAuthClientProvider, with a user agent that logs in and consents
// ---------------------------------------------------------------------------------------------

/** In-memory provider, as a desktop or web MCP client would keep it; the "browser" is simulated. */
class TestOAuthProvider implements OAuthClientProvider {
  client?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier?: string;
  /** Every authorization URL the SDK sent the user to, and the code each one produced. */
  readonly authorizations: { url: URL; code: string }[] = [];
  private expectedState?: string;
  validateResourceURL?: (serverUrl: string | URL, resource?: string) => Promise<URL | undefined>;

  constructor(o: { resourceOverride?: string } = {}) {
    const override = o.resourceOverride;
    // A client that asks for another resource than the one the server's metadata names.
    if (override) this.validateResourceURL = async () => new URL(override);
  }

  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'e2e MCP client',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.expectedState = randomBytes(16).toString('base64url');
    return this.expectedState;
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    rememberSecret(tokens.access_token);
    if (tokens.refresh_token) rememberSecret(tokens.refresh_token);
    this.saved = tokens;
  }
  async redirectToAuthorization(url: URL) {
    const result = await completeAuthorization(url, { redirectUri: REDIRECT_URI, accountId: 'alice' });
    expect(result.state).toBe(this.expectedState);
    // RFC 9207: the authorization server identifies itself in the response.
    expect(result.callback.searchParams.get('iss')).toBe(as.issuer);
    this.authorizations.push({ url, code: result.code });
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    if (!this.verifier) throw new Error('no code verifier saved');
    return this.verifier;
  }
  get lastCode(): string {
    const last = this.authorizations.at(-1);
    if (!last) throw new Error('the SDK never redirected to the authorization server');
    return last.code;
  }
}

/** The WWW-Authenticate header of every 401/403 the MCP server gave the SDK client in this test. */
const challenges: string[] = [];
afterEach(() => {
  challenges.length = 0;
});

/** Every request the SDK client made (`METHOD url -> status`); the MCP server's answers are also recorded for the secret check. */
function tracingFetch(trace: string[]): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const isMcpServer = url.origin === publicUrl;
    const res = await (isMcpServer ? recordingFetch : fetch)(input, init);
    trace.push(`${init?.method ?? (input instanceof Request ? input.method : 'GET')} ${url.origin}${url.pathname} -> ${res.status}`);
    if (isMcpServer && (res.status === 401 || res.status === 403)) challenges.push(res.headers.get('www-authenticate') ?? '');
    return res;
  };
}
function transportFor(provider: TestOAuthProvider, trace: string[]) {
  return new StreamableHTTPClientTransport(new URL(`${publicUrl}/mcp`), { authProvider: provider, fetch: tracingFetch(trace) });
}

/**
 * What an MCP client does on first contact: connect, get 401, run the OAuth flow (the SDK calls
 * redirectToAuthorization, whose user agent returns a code), finish it, then connect again.
 */
async function connectWithOAuth(provider: TestOAuthProvider, trace: string[]) {
  const first = new Client({ name: 'e2e-client', version: '1.0.0' });
  const firstTransport = transportFor(provider, trace);
  await expect(first.connect(firstTransport)).rejects.toBeInstanceOf(UnauthorizedError);
  await first.close();
  await firstTransport.finishAuth(provider.lastCode);
  const client = new Client({ name: 'e2e-client', version: '1.0.0' });
  const transport = transportFor(provider, trace);
  clients.push(client);
  return { client, transport, connected: client.connect(transport) };
}

const invitePosts = () => portkey.requests.filter((r) => r.method === 'POST');

// ---------------------------------------------------------------------------------------------

describe('authorization code + PKCE through the MCP SDK, from nothing but the /mcp URL', () => {
  it('discovers, registers, authorizes for our resource, and invites with the tenant from org_id', async () => {
    const trace: string[] = [];
    const provider = new TestOAuthProvider();
    const seen = as.interactions.length;
    const { client, connected } = await connectWithOAuth(provider, trace);
    await connected;
    const interactions = as.interactions.slice(seen);

    // 1. The first request is refused with a challenge pointing at our metadata.
    expect(trace[0]).toBe(`POST ${publicUrl}/mcp -> 401`);
    expect(challenges[0]).toBe(`Bearer resource_metadata="${publicUrl}/.well-known/oauth-protected-resource/mcp", scope="portkey.invite"`);
    // 2. The SDK reads our protected resource metadata, then the AS metadata, then registers.
    expect(trace[1]).toBe(`GET ${publicUrl}/.well-known/oauth-protected-resource/mcp -> 200`);
    // RFC 8414 first (oidc-provider serves it too), OpenID discovery as the SDK's fallback.
    const asMetadata = trace.findIndex(
      (t) => t === `GET ${as.issuer}/.well-known/oauth-authorization-server -> 200` || t === `GET ${as.issuer}/.well-known/openid-configuration -> 200`,
    );
    const registration = trace.indexOf(`POST ${as.metadata.registration_endpoint} -> 201`);
    const token = trace.indexOf(`POST ${as.metadata.token_endpoint} -> 200`);
    expect(asMetadata).toBeGreaterThan(1);
    expect(registration).toBeGreaterThan(asMetadata);
    expect(token).toBeGreaterThan(registration);
    expect(trace.slice(token + 1)).toContain(`POST ${publicUrl}/mcp -> 200`);
    expect(as.errors).toEqual([]);

    // 3. The authorization request: PKCE S256, our scope, our canonical resource.
    expect(provider.authorizations).toHaveLength(1);
    const authz = provider.authorizations[0]!.url;
    expect(authz.origin + authz.pathname).toBe(as.metadata.authorization_endpoint);
    expect(authz.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authz.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(authz.searchParams.get('scope')).toBe('portkey.invite');
    expect(authz.searchParams.get('resource')).toBe(resource);
    expect(authz.searchParams.get('client_id')).toBe(provider.client?.client_id);

    // 4. The user signed in, then consented to exactly our resource's scope.
    expect(interactions.map((i) => i.prompt)).toEqual(['login', 'consent']);
    const consent = interactions[1]!;
    expect(consent.params.resource).toBe(resource);
    expect(consent.details.missingResourceScopes).toEqual({ [resource]: ['portkey.invite'] });

    // 5. The token: an RS256 JWT access token for our resource, with the scope and the tenant.
    const tokens = provider.saved!;
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    expect(tokens.scope?.split(' ')).toContain('portkey.invite');
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const claims = decodeJwt(tokens.access_token);
    expect(claims.aud).toBe(resource);
    expect(claims.iss).toBe(as.issuer);
    expect(claims.sub).toBe('alice');
    expect(claims.org_id).toBe('acme');
    expect(claims.client_id).toBe(provider.client?.client_id);
    expect(String(claims.scope).split(' ')).toContain('portkey.invite');

    // 6. MCP: tools/list, then an invite that reaches Portkey with the acme key.
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('invite_user');
    const result = await client.callTool({ name: 'invite_user', arguments: { email: 'oauth.e2e@example.com', role: 'member', workspaces: [] } });
    expect(result.isError, JSON.stringify(result)).toBeFalsy();
    expect(invitePosts()).toHaveLength(1);
    expect(invitePosts()[0]!.headers['x-portkey-api-key']).toBe(ACME_KEY);
    expect(invitePosts()[0]!.headers.authorization).toBeUndefined(); // the OAuth token is never passed through
    expect(portkey.invites.map((i) => i.email)).toEqual(['oauth.e2e@example.com']);
    const requestLog = server.events('http.request').filter((e) => e.path === '/mcp' && e.status === 200);
    expect(requestLog.at(-1)?.tenant).toBe('acme');
  });

  it('steps up to portkey.invite.admin when inviting an admin (403 insufficient_scope → re-authorization)', async () => {
    const trace: string[] = [];
    const provider = new TestOAuthProvider();
    const { client, transport, connected } = await connectWithOAuth(provider, trace);
    await connected;
    const seen = as.interactions.length;
    const args = { email: 'new.admin@example.com', role: 'admin', workspaces: [] };

    // The member token is not enough: the server answers 403 with the scopes needed; the SDK
    // re-authorizes with them and hands the user to the authorization server again.
    await expect(client.callTool({ name: 'invite_user', arguments: args })).rejects.toBeInstanceOf(UnauthorizedError);
    expect(challenges.at(-1)).toMatch(/^Bearer resource_metadata="[^"]+", scope="portkey\.invite portkey\.invite\.admin", error="insufficient_scope", error_description="/);
    expect(invitePosts()).toEqual([]);
    expect(provider.authorizations).toHaveLength(2);
    expect(provider.authorizations[1]!.url.searchParams.get('scope')).toBe('portkey.invite portkey.invite.admin');
    expect(provider.authorizations[1]!.url.searchParams.get('resource')).toBe(resource);
    expect(as.interactions.slice(seen).find((i) => i.prompt === 'consent')?.details.missingResourceScopes).toEqual({
      [resource]: ['portkey.invite', 'portkey.invite.admin'],
    });

    await transport.finishAuth(provider.lastCode);
    expect(String(decodeJwt(provider.saved!.access_token).scope).split(' ').sort()).toEqual(['portkey.invite', 'portkey.invite.admin']);
    const result = await client.callTool({ name: 'invite_user', arguments: args });
    expect(result.isError, JSON.stringify(result)).toBeFalsy();
    expect(invitePosts().map((r) => [r.headers['x-portkey-api-key'], (r.body as { role: string }).role])).toEqual([[ACME_KEY, 'admin']]);
  });

  it('refuses a token the same authorization server issued for another resource (audience check)', async () => {
    const trace: string[] = [];
    const provider = new TestOAuthProvider({ resourceOverride: OTHER_RESOURCE });
    const first = new Client({ name: 'e2e-client', version: '1.0.0' });
    const firstTransport = transportFor(provider, trace);
    await expect(first.connect(firstTransport)).rejects.toBeInstanceOf(UnauthorizedError);
    await first.close();
    expect(provider.authorizations[0]!.url.searchParams.get('resource')).toBe(OTHER_RESOURCE);
    await firstTransport.finishAuth(provider.lastCode);

    // A genuine token from the trusted issuer, signed with its key, but for someone else.
    const wrong = provider.saved!.access_token;
    const claims = decodeJwt(wrong);
    expect(claims.aud).toBe(OTHER_RESOURCE);
    expect(claims.iss).toBe(as.issuer);
    expect(claims.org_id).toBe('acme');
    expect(String(claims.scope).split(' ')).toContain('portkey.invite');

    // The SDK presents it, is refused, and goes back to the authorization server (same override).
    const second = new Client({ name: 'e2e-client', version: '1.0.0' });
    clients.push(second);
    await expect(second.connect(transportFor(provider, trace))).rejects.toBeInstanceOf(UnauthorizedError);
    expect(challenges).toContain(
      `Bearer resource_metadata="${publicUrl}/.well-known/oauth-protected-resource/mcp", scope="portkey.invite", error="invalid_token", error_description="${AUDIENCE_REFUSED}"`,
    );

    // And on the wire, exactly.
    const res = await postMcp(`${publicUrl}/mcp`, inviteCall({ email: 'nope@example.com', role: 'member', workspaces: [] }), {
      authorization: `Bearer ${wrong}`,
    });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: 'invalid_token', error_description: `${AUDIENCE_REFUSED}.` });
    expect(invitePosts()).toEqual([]);
    expect(server.events('auth.rejected').at(-1)?.reason).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });
});

describe('client_credentials with a resource indicator (the machine path)', () => {
  async function clientCredentials(resourceIndicator: string, scope = MACHINE.scope) {
    const res = await fetch(as.metadata.token_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${MACHINE.clientId}:${MACHINE.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: resourceIndicator }),
    });
    const body = (await res.json()) as { access_token?: string; scope?: string; error?: string; error_description?: string };
    if (body.access_token) rememberSecret(body.access_token);
    return { status: res.status, body };
  }

  it('a token for our resource invites through the SDK client, with the tenant from org_id', async () => {
    const { status, body } = await clientCredentials(resource);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.scope).toBe('portkey.invite');
    const claims = decodeJwt(body.access_token!);
    expect(claims).toMatchObject({ aud: resource, iss: as.issuer, client_id: MACHINE.clientId, scope: 'portkey.invite', org_id: 'acme' });

    const client = await connectClient(`${publicUrl}/mcp`, body.access_token!);
    clients.push(client);
    const result = await client.callTool({ name: 'invite_user', arguments: { email: 'robot.invite@example.com', role: 'member', workspaces: [] } });
    expect(result.isError, JSON.stringify(result)).toBeFalsy();
    expect(invitePosts().map((r) => r.headers['x-portkey-api-key'])).toEqual([ACME_KEY]);
  });

  it('a token for another resource is refused with 401 invalid_token', async () => {
    const { status, body } = await clientCredentials(OTHER_RESOURCE);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(decodeJwt(body.access_token!).aud).toBe(OTHER_RESOURCE);

    const res = await postMcp(`${publicUrl}/mcp`, inviteCall({ email: 'robot.other@example.com', role: 'member', workspaces: [] }), {
      authorization: `Bearer ${body.access_token!}`,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${publicUrl}/.well-known/oauth-protected-resource/mcp", scope="portkey.invite", error="invalid_token", error_description="${AUDIENCE_REFUSED}"`,
    );
    expect(invitePosts()).toEqual([]);
  });

  it('the machine client cannot get the admin scope, nor a token for an unknown resource', async () => {
    const admin = await clientCredentials(resource, 'portkey.invite portkey.invite.admin');
    expect(admin.status).toBe(400);
    expect(admin.body.error).toBe('invalid_scope');
    const unknown = await clientCredentials('https://unknown.example/mcp');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe('invalid_target');
  });
});
