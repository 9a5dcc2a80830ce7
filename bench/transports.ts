/**
 * A quick comparison, not a benchmark: N sequential createInvite calls against the Portkey test
 * double (same process, loopback) through each transport, alternated, after a warm-up.
 *   npm run -s transports --prefix bench --  [N]
 */
import { createPortkeyClient } from '../src/portkey/client.js';
import { createFetchTransport } from '../src/portkey/fetch-transport.js';
import { createUndiciTransport } from '../src/node/undici-transport.js';
import { startPortkeyDouble } from '../test/support/portkey-double.js';

const n = Number(process.argv[2] ?? 2000);
const key = 'pk-measure';
const portkey = await startPortkeyDouble({ adminKeys: [key] });
const target = { baseUrl: portkey.url, apiKey: key, label: 'measure' };
const transports = { undici: createUndiciTransport({ connectTimeoutMs: 10_000 }), fetch: createFetchTransport() };
let seq = 0;

async function run(name: keyof typeof transports, calls: number): Promise<number> {
  const client = createPortkeyClient({ timeoutMs: 10_000, transport: transports[name] });
  const started = performance.now();
  for (let i = 0; i < calls; i++) {
    await client.createInvite(target, { email: `m${++seq}@example.com`, role: 'member', workspaces: [] });
  }
  portkey.reset();
  return performance.now() - started;
}

for (const name of ['undici', 'fetch'] as const) await run(name, 200); // warm-up
const results: Record<string, number[]> = { undici: [], fetch: [] };
for (let round = 0; round < 3; round++) {
  for (const name of ['undici', 'fetch'] as const) results[name]!.push(await run(name, n));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, times] of Object.entries(results)) {
  const ms = median(times);
  console.log(`${name.padEnd(6)} ${n} calls: median ${ms.toFixed(0)} ms (${((ms * 1000) / n).toFixed(0)} µs/call, ${((n * 1000) / ms).toFixed(0)} calls/s) over 3 rounds`);
}
console.log(`undici / fetch calls/s: ${(median(results.fetch!) / median(results.undici!)).toFixed(2)}×`);
await transports.undici.close();
await portkey.close();
