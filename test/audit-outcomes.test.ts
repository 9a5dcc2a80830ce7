/**
 * Issue 10 item 5: docs/audit.md lists exactly the audit outcomes the code can emit. One list in
 * code (src/tools/audit-outcomes.ts) is checked against docs/audit.md, and every ToolError the code
 * defines is checked to land in it. To add an outcome: the list, docs/audit.md, and (for a
 * ToolError) FACTORIES.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AUDIT_OUTCOMES, listedOutcome } from '../src/tools/audit-outcomes.js';
import * as errors from '../src/errors.js';
import { ToolError } from '../src/errors.js';

/** The outcomes docs/audit.md lists: the head of each bullet after "`outcome` is one of". */
function readmeOutcomes(): string[] {
  const section = readFileSync(new URL('../docs/audit.md', import.meta.url), 'utf8');
  const list = section.slice(section.indexOf('`outcome` is one of'));
  return list
    .split('\n')
    .filter((line) => line.startsWith('- `'))
    .flatMap((line) => {
      const head = line.slice(0, line.indexOf(': ')).replace(/\([^)]*\)/g, '');
      return [...head.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    });
}

const answer = (status: number) => ({ status, latencyMs: 1 });

/** One way to build each ToolError the code defines; a class missing here fails the test. */
const FACTORIES: Record<string, () => ToolError[]> = {
  InvalidInputError: () => [new errors.InvalidInputError('x')],
  TenantError: () => [new errors.TenantError('x')],
  PolicyError: () => [new errors.PolicyError(['x'])],
  ScopeError: () => [new errors.ScopeError('x')],
  ServerConfigurationError: () => [new errors.ServerConfigurationError('x')],
  PortkeyRefusedError: () => [new errors.PortkeyRefusedError(answer(409), 'AB07', 'x'), new errors.PortkeyRefusedError(answer(502), undefined, 'x')],
  PortkeyBadResponseError: () => [new errors.PortkeyBadResponseError(answer(200), 'x', 'y')],
  PortkeyUnreachableError: () => [new errors.PortkeyUnreachableError('x')],
  AmbiguousOutcomeError: () => [new errors.AmbiguousOutcomeError('timeout', 'x', 'y'), new errors.AmbiguousOutcomeError('connection_lost', 'x', 'y')],
  InviteNotFoundError: () => [
    new errors.InviteNotFoundError('not_found_after_timeout', 'x'),
    new errors.InviteNotFoundError('not_found_after_connection_lost', 'x'),
    new errors.InviteNotFoundError('not_found_after_bad_response', 'x'),
  ],
  AlreadyInvitedError: () => [new errors.AlreadyInvitedError(answer(409), 'x')],
  RateLimitedError: () => [new errors.RateLimitedError('x')],
  RateLimiterUnavailableError: () => [new errors.RateLimiterUnavailableError('x')],
  ShuttingDownError: () => [new errors.ShuttingDownError('x')],
  TenantLookupError: () => [new errors.TenantLookupError('x')],
  UnknownInviteError: () => [new errors.UnknownInviteError('x')],
  InviteStatusError: () => [new errors.InviteStatusError('x')],
};
/** Bases that are never thrown themselves. */
const ABSTRACT = new Set(['PortkeyAnsweredError']);
/** Outcomes that are not a ToolError's code: success (also when confirmed by lookup), and anything unexpected. */
const NOT_TOOL_ERRORS = ['invited', 'invited_confirmed', 'listed', 'cancelled', 'cancelled_confirmed', 'already_cancelled', 'resent', 'internal_error'];

const toolErrorClasses = Object.entries(errors).filter(
  ([name, value]) => typeof value === 'function' && value.prototype instanceof ToolError && !ABSTRACT.has(name),
);

describe('audit outcomes', () => {
  it("docs/audit.md's list is exactly the list in src/tools/audit-outcomes.ts", () => {
    const readme = readmeOutcomes();
    expect(readme).toEqual([...new Set(readme)]);
    expect([...readme].sort()).toEqual([...AUDIT_OUTCOMES].sort());
  });

  it('every ToolError class has a factory here (so a new one cannot slip past this test)', () => {
    expect(toolErrorClasses.map(([name]) => name).sort()).toEqual(Object.keys(FACTORIES).sort());
  });

  it('every ToolError code is a listed outcome, and every listed outcome is produced by something', () => {
    const produced = new Set<string>(NOT_TOOL_ERRORS);
    for (const [name, make] of Object.entries(FACTORIES)) {
      for (const err of make()) {
        expect(err, name).toBeInstanceOf(ToolError);
        const listed = listedOutcome(err.code);
        expect(listed, `${name} emits ${err.code}, which docs/audit.md and AUDIT_OUTCOMES do not list`).toBeDefined();
        produced.add(listed!);
      }
    }
    expect([...produced].sort()).toEqual([...AUDIT_OUTCOMES].sort());
  });

  it('every ToolError names its own class (stack traces and log lines show "PolicyError", not "Error")', () => {
    for (const [name, make] of Object.entries(FACTORIES)) for (const err of make()) expect(err.name).toBe(name);
  });

  it('concrete Portkey codes map to their placeholders, and nothing else does', () => {
    expect(listedOutcome('portkey_AB07')).toBe('portkey_<errorCode>');
    expect(listedOutcome('portkey_http_503')).toBe('portkey_http_<status>');
    expect(listedOutcome('portkey_bad_response')).toBe('portkey_bad_response');
    expect(listedOutcome('made_up')).toBeUndefined();
  });
});
