import { describe, expect, it } from 'vitest';
import { buildWorkerBundle } from '../scripts/worker-bundle.js';

describe('the Workers bundle', () => {
  it('builds with `wrangler deploy --dry-run`, without nodejs_compat and with no node: module in it', () => {
    const bundle = buildWorkerBundle();
    expect(bundle.rawBytes).toBeGreaterThan(0);
    expect(bundle.nodeImports).toEqual([]);
  }, 120_000);
});
