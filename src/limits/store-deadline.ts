/**
 * A call's tenant and limit steps may need a shared store (Redis on Node, KV on Workers). They get
 * one deadline between them, not one each: a stalled store costs a call this long at most, then it
 * is refused as retryable, and nothing is sent upstream.
 */
export const STORE_STEP_MS = 1_000;

/** The deadline (ms since the epoch) for a call's store steps, taken when the call starts them. */
export const storeStepDeadline = (): number => Date.now() + STORE_STEP_MS;
