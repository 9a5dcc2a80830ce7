import { defineConfig } from 'vitest/config';

/** `npm run test:clients`: the client examples (examples/clients/) against a real server. */
export default defineConfig({
  test: {
    include: ['test/clients/**/*.test.ts'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});
