/**
 * The fetch floor: the bare forwarder (forwarder.ts) with the upstream POST through Node's global
 * fetch (WHATWG fetch over undici's internals). Our ratio to it is what our layers cost over the
 * plainest way to write the same forwarder.
 *
 * Env: PORT, PORTKEY_BASE_URL, PORTKEY_API_KEY.
 */
import { serveForwarder } from './forwarder.js';

serveForwarder('floor-fetch', async (url, headers, body) => {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`upstream answered ${res.status}: ${text.slice(0, 200)}`);
  return text;
});
