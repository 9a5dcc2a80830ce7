import { afterAll, expect } from 'vitest';
import { observed } from './harness.js';

// Runs after every test file: no key, signing secret or token the tests used may appear in any
// response body, response header or log line the file produced.
afterAll(() => {
  const haystacks = [...observed.logLines, ...observed.responses];
  for (const secret of observed.secrets) {
    const leaks = haystacks.filter((h) => h.includes(secret));
    expect(leaks, `secret ${secret.slice(0, 12)}… leaked`).toEqual([]);
  }
});
