/**
 * Invitee email domains (a tenant's `allow.emailDomains`), compared on the normalised domain:
 * lowercase, without a trailing dot, internationalised names as punycode (the WHATWG URL parser's
 * domain-to-ASCII, UTS #46), so `Exämple.COM` and `xn--exmple-cua.com` are one domain. Runtime-neutral.
 */

/** The ASCII form of a domain name, or undefined when it is not one. */
function normaliseDomain(domain: string): string | undefined {
  const trimmed = domain.trim().replace(/\.$/, '');
  if (!trimmed || /[\s/\\?#@:[\]]/.test(trimmed)) return undefined;
  let host: string;
  try {
    host = new URL(`http://${trimmed}`).hostname;
  } catch {
    return undefined;
  }
  // An IPv4 literal is not a mail domain a policy should name; a name has a dot-separated label.
  if (/^\d+(\.\d+){3}$/.test(host) || !host.includes('.')) return undefined;
  return host;
}

/** `example.com` or `*.example.com`, normalised; undefined when the rule is not one of those forms. */
export function normaliseDomainRule(rule: string): string | undefined {
  const sub = rule.trim().startsWith('*.');
  const domain = normaliseDomain(sub ? rule.trim().slice(2) : rule);
  return domain === undefined ? undefined : sub ? `*.${domain}` : domain;
}

/** The normalised domain of an email address (after its last @), or undefined. */
export function emailDomain(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  return at < 1 ? undefined : normaliseDomain(email.slice(at + 1));
}

/** Whether an email's domain is allowed by normalised rules: exactly, or as a subdomain of a `*.` rule. */
export function emailDomainAllowed(email: string, rules: readonly string[]): boolean {
  const domain = emailDomain(email);
  if (!domain) return false;
  return rules.some((rule) => (rule.startsWith('*.') ? domain.endsWith(rule.slice(1)) : domain === rule));
}
