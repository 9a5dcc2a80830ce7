/**
 * The undici floor: the bare forwarder (forwarder.ts) with the upstream POST through undici's
 * `Pool.request`, the Node project's own HTTP client without the WHATWG fetch layer: one
 * keep-alive pool to the upstream origin with more connections than the benchmark's highest
 * concurrency, so no call waits for a socket. The fastest way to do the same work on Node; our
 * ratio to it is what is left to take.
 *
 * Env: PORT, PORTKEY_BASE_URL, PORTKEY_API_KEY.
 */
import { Pool } from 'undici';
import { requireEnv } from './common.js';
import { serveForwarder } from './forwarder.js';

const pool = new Pool(new URL(requireEnv('PORTKEY_BASE_URL')).origin, {
  connections: 128, // ≥ the highest concurrency measured (64): a call never queues for a socket
  pipelining: 1,
  keepAliveTimeout: 60_000,
});

serveForwarder('floor-undici', async (url, headers, body) => {
  const res = await pool.request({ path: url.pathname, method: 'POST', headers, body });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`upstream answered ${res.statusCode}: ${text.slice(0, 200)}`);
  return text;
});
