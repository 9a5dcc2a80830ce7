import type { Settings as Config } from '../config/settings.js';

/** PUBLIC_URL's path ('' at the root, else e.g. '/invite'): where this deployment lives on its host. */
export function publicPath(config: Config): string {
  return new URL(config.publicUrl).pathname.replace(/\/+$/, '');
}

/**
 * RFC 9728 §3.1: the well-known string is inserted between the host and the resource's path, so
 * for the resource https://ex.com/invite/mcp the metadata is at
 * https://ex.com/.well-known/oauth-protected-resource/invite/mcp.
 */
function resourceMetadataUrl(config: Config): string {
  return `${new URL(config.publicUrl).origin}/.well-known/oauth-protected-resource${publicPath(config)}/mcp`;
}

/** Protected resource metadata is only useful when a client can find an authorization server. */
export function hasAuthorizationServer(config: Config): boolean {
  return config.auth.authorizationServers.length > 0;
}

export interface ChallengeOptions {
  error?: 'invalid_token' | 'insufficient_scope' | 'invalid_request';
  description?: string;
  scopes: string[];
}

/**
 * A `WWW-Authenticate: Bearer` challenge. RFC 6750 §3 defines `error`, `error_description` and
 * `scope`; RFC 9728 §5.1 adds `resource_metadata`, which the MCP authorization spec requires
 * clients to follow to find the authorization server.
 */
export function bearerChallenge(config: Config, o: ChallengeOptions): string {
  const params: string[] = [];
  if (hasAuthorizationServer(config)) params.push(`resource_metadata="${resourceMetadataUrl(config)}"`);
  if (o.scopes.length > 0) params.push(`scope="${quoteSafe(o.scopes.join(' '))}"`);
  if (o.error) params.push(`error="${o.error}"`);
  // RFC 6750 §3: error_description is limited to printable ASCII without `"` and `\`.
  if (o.description) params.push(`error_description="${quoteSafe(o.description)}"`);
  return params.length ? `Bearer ${params.join(', ')}` : 'Bearer';
}

function quoteSafe(s: string): string {
  return s.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '');
}

/** RFC 9728 §2 metadata for this resource. */
export function protectedResourceMetadata(config: Config, scopesSupported: string[]) {
  return {
    resource: config.resource,
    authorization_servers: config.auth.authorizationServers,
    scopes_supported: scopesSupported,
    bearer_methods_supported: ['header'],
    resource_name: 'Portkey invite MCP server',
  };
}
