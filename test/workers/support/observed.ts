/** What a test file saw and which values must never appear in it: the one record every harness shares (test/support/common.ts), plus the Worker's own secrets. */
import { observed } from '../../support/common.js';
import { SECRETS } from './bindings.js';

for (const secret of Object.values(SECRETS)) observed.secrets.add(secret);

export { observed };
export const rememberSecret = (value: string): void => void observed.secrets.add(value);
