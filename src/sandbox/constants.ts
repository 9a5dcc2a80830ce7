/**
 * Where the single tenant points when the embedded Portkey sandbox answers (./sandbox.ts). Kept
 * apart from the sandbox itself so that configuration, which every runtime loads, does not pull
 * the sandbox into the Workers bundle (Workers never run local mode).
 */

/** RFC 2606 §2: `.invalid` never resolves, so even a transport that escaped the sandbox could reach nothing. */
export const SANDBOX_BASE_URL = 'https://portkey-sandbox.invalid/v1';
/** Not a secret: the sandbox's one admin key, known to the sandbox only. */
export const SANDBOX_API_KEY = 'sandbox-admin-key';
