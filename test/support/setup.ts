import { afterAll, expect } from 'vitest';
import { observed } from './harness.js';
import { removeScratchDirs } from './scratch.js';

// Runs after every test file: no key, signing secret or token the tests used may appear in any
// response body, response header or log line the file produced.
afterAll(() => {
  const haystacks = [...observed.logLines, ...observed.responses];
  for (const secret of observed.secrets) {
    // Report where, never what: the failure message itself must not print the secret.
    const where = haystacks.flatMap((h, i) => (h.includes(secret) ? [i < observed.logLines.length ? `log line ${i}` : `response ${i - observed.logLines.length}`] : []));
    expect(where, `a secret starting ${secret.slice(0, 6)}… leaked`).toEqual([]);
  }
});

// Scratch folders (test/support/scratch.ts) go with the file that made them: a run leaves nothing in the temp folder.
afterAll(() => removeScratchDirs());
