/**
 * Runs in workerd around every file of the workerd suite: captures the Worker's log lines (it logs
 * through console.* in the same isolate) and, after the file, asserts that no key, signing secret
 * or minted token appears in any response or log line the file produced.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { observed } from './observed.js';

const LEVELS = ['log', 'info', 'warn', 'error'] as const;
const originals = new Map<(typeof LEVELS)[number], (...args: unknown[]) => void>();

beforeAll(() => {
  for (const level of LEVELS) {
    const original = console[level];
    originals.set(level, original);
    // Not a vi.spyOn: restoreMocks in the config would undo it after the first test.
    console[level] = (...args: unknown[]) => {
      observed.logLines.push(args.map(String).join(' '));
      original.apply(console, args);
    };
  }
});

afterAll(() => {
  for (const [level, original] of originals) console[level] = original;
  const haystacks = [...observed.logLines, ...observed.responses];
  for (const secret of observed.secrets) {
    const leaks = haystacks.filter((h) => h.includes(secret));
    expect(leaks, `secret ${secret.slice(0, 12)}… leaked`).toEqual([]);
  }
});
