import type { Caller } from '../auth/caller.js';
import type { RequestIdVariables } from './request-id.js';

/**
 * What a request carries between middleware (Hono's context variables). Its own module, so
 * middleware (http/authenticate.ts) need not import the composition root (app.ts).
 */
export type AppEnv = { Variables: RequestIdVariables & { caller?: Caller; tenant?: string } };
