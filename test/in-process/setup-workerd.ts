/**
 * Around every in-process case file in workerd (vitest.workers.config.ts, project "in-process"):
 * no key, signing secret or token may appear in any response or log line the file produced. On
 * Node the same check runs from test/support/setup.ts, over the same record (test/support/common.ts).
 */
import { afterAll, expect } from 'vitest';
import { observed } from '../support/common.js';

afterAll(() => {
  const haystacks = [...observed.logLines, ...observed.responses];
  for (const secret of observed.secrets) {
    const leaks = haystacks.filter((h) => h.includes(secret)).length;
    expect(leaks, `a secret starting ${secret.slice(0, 6)}… leaked`).toBe(0);
  }
});
