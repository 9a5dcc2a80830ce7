import { emailDomain, emailDomainAllowed } from '../tenants/email-domains.js';
import type { TenantPolicy } from '../tenants/tenant-table.js';

/** The parts of an invite a policy looks at. */
export interface Grant {
  /** The invitee: checked against allow.emailDomains. */
  email?: string;
  role: string;
  workspaces: { id: string; role: string }[];
  workspace_api_key_details?: { scopes: string[] };
}

/** `ws-eng-*` matches any id starting with `ws-eng-`; anything else matches exactly. */
export function matchesPattern(value: string, pattern: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

const list = (values: string[]) => values.map((v) => JSON.stringify(v)).join(', ');

/**
 * Every rule of the tenant's policy that this grant breaks, in words an agent can act on.
 * Pure: no I/O, so it runs before anything is sent upstream. An absent rule is unrestricted.
 */
export function policyViolations(allow: TenantPolicy, grant: Grant): string[] {
  const broken: string[] = [];
  if (allow.emailDomains && grant.email !== undefined && !emailDomainAllowed(grant.email, allow.emailDomains)) {
    const domain = emailDomain(grant.email);
    broken.push(
      `the invitee's email domain ${domain ? JSON.stringify(domain) : '(none)'} is not allowed; allowed email domains: ${list(allow.emailDomains)}` +
        (allow.emailDomains.some((d) => d.startsWith('*.')) ? ' ("*.example.com" means its subdomains)' : ''),
    );
  }
  if (allow.orgRoles && !allow.orgRoles.includes(grant.role)) {
    broken.push(`role ${JSON.stringify(grant.role)} is not allowed; allowed org roles: ${list(allow.orgRoles)}`);
  }
  if (allow.workspaces) {
    const patterns = allow.workspaces;
    if (grant.workspaces.length === 0) {
      // An empty list lets Portkey pick the org's shared workspace, which this policy does not name.
      broken.push(`workspaces must name at least one workspace; allowed workspaces: ${list(patterns)}`);
    }
    const outside = grant.workspaces.filter((w) => !patterns.some((p) => matchesPattern(w.id, p))).map((w) => w.id);
    if (outside.length) broken.push(`workspace(s) ${list(outside)} not allowed; allowed workspaces: ${list(patterns)}`);
  }
  if (allow.workspaceRoles) {
    const roles = allow.workspaceRoles;
    const bad = grant.workspaces.filter((w) => !roles.includes(w.role)).map((w) => `${w.id}: ${w.role}`);
    if (bad.length) broken.push(`workspace role(s) ${list(bad)} not allowed; allowed workspace roles: ${list(roles)}`);
  }
  if (allow.apiKeyScopes && grant.workspace_api_key_details) {
    const scopes = allow.apiKeyScopes;
    const bad = grant.workspace_api_key_details.scopes.filter((s) => !scopes.some((p) => matchesPattern(s, p)));
    if (bad.length) broken.push(`API key scope(s) ${list(bad)} not allowed; allowed API key scopes: ${list(scopes)}`);
  }
  return broken;
}
