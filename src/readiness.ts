import type { Config } from './server-config.js';

/**
 * Readiness (`/readyz`): can this instance do its job right now? Unlike liveness (`/healthz`,
 * "the process serves"), a load balancer or orchestrator takes an instance that is not ready out
 * of rotation without restarting it. Runtime-neutral: whether shutdown has begun is told to us by
 * the runtime entry (Node); Workers have no shutdown.
 */
export interface ReadinessReport {
  ready: boolean;
  /** What is missing, each naming the setting or condition and the fix; empty when ready. */
  missing: { check: 'shutdown' | 'token_keys' | 'portkey_key'; message: string }[];
}

export interface ReadinessInputs {
  config: Config;
  /** Undefined when tokens can be verified; otherwise why not (see TokenVerifier.keysReady). */
  keysReady: () => Promise<string | undefined>;
  isShuttingDown: () => boolean;
}

export function createReadinessCheck({ config, keysReady, isShuttingDown }: ReadinessInputs): () => Promise<ReadinessReport> {
  // The Portkey key or tenant source is fixed at start-up: judge it once.
  const tenants = config.tenants;
  const portkeyMissing =
    tenants.mode === 'single' && !tenants.tenant.apiKey
      ? 'No Portkey admin key is configured: set PORTKEY_API_KEY (one tenant) or TENANTS / TENANTS_FILE (several; also TENANTS_REDIS_PREFIX on Node, TENANTS_KV on Workers).'
      : undefined;
  return async () => {
    const missing: ReadinessReport['missing'] = [];
    // Shutdown first and without awaiting anything: the balancer must see 503 at once.
    if (isShuttingDown()) missing.push({ check: 'shutdown', message: 'The server is shutting down: send new requests to another instance.' });
    else {
      const keys = await keysReady();
      if (keys) missing.push({ check: 'token_keys', message: keys });
    }
    if (portkeyMissing) missing.push({ check: 'portkey_key', message: portkeyMissing });
    return { ready: missing.length === 0, missing };
  };
}
