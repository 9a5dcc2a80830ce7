/** What a test file saw (responses, log lines) and which values must never appear in it. */
import { SECRETS } from './bindings.js';

export const observed = {
  responses: [] as string[],
  logLines: [] as string[],
  secrets: new Set<string>(Object.values(SECRETS)),
};

export const rememberSecret = (value: string): void => void observed.secrets.add(value);
export const rememberResponse = (value: string): void => void observed.responses.push(value);
