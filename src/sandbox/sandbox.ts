import { createFetchTransport } from '../portkey/fetch-transport.js';
import type { HttpTransport } from '../portkey/transport.js';
import { SANDBOX_API_KEY, SANDBOX_BASE_URL } from './constants.js';
import { createPortkeySandbox } from './portkey-admin-api.js';

/**
 * The embedded Portkey sandbox (PORTKEY_SANDBOX): in local mode without a Portkey key, tool calls
 * are answered by an in-memory Portkey (./portkey-admin-api.ts) so that the first command shows a
 * real invite, a 409 and the lookup. Nothing leaves the process. Configuration refuses it outside
 * local mode (src/config/settings.ts), and every answer it gives says so (SANDBOX_NOTICE).
 */


const SANDBOX_NOTICE =
  'SANDBOX: this answer came from the embedded Portkey sandbox (local mode, PORTKEY_SANDBOX); nothing was sent to Portkey and no email went out. ' +
  'Set PORTKEY_API_KEY (or PORTKEY_SANDBOX=off) to reach the real Portkey.';

export interface Sandbox {
  transport: HttpTransport;
  /** Added to every tool answer. */
  notice: string;
}

export function createSandbox(): Sandbox {
  const portkey = createPortkeySandbox({
    adminKeys: [SANDBOX_API_KEY],
    inviteLink: (id) => `https://portkey-sandbox.invalid/invite/${id}`,
  });
  const basePath = new URL(SANDBOX_BASE_URL).pathname;
  return { notice: SANDBOX_NOTICE, transport: createFetchTransport((input, init) => portkey.fetch(new Request(input, init), basePath)) };
}
