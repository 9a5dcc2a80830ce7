/**
 * One JSON object per line. Callers pass only fields they chose; nothing here serialises a
 * config, a request or an error object wholesale, so a key or token has no path into a line.
 */
export type LogSink = (line: string) => void;
export type LogFields = Record<string, string | number | boolean | string[] | undefined | null | object>;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  /** An audit record: written at every LOG_LEVEL (a record of what was done, not chatter), as level "info". */
  audit(event: string, fields?: LogFields): void;
}

export function createLogger(sink: LogSink = (line) => console.log(line), level: LogLevel = 'info'): Logger {
  const least = LOG_LEVELS.indexOf(level);
  const write = (lineLevel: string, event: string, fields?: LogFields) => {
    sink(JSON.stringify({ time: new Date().toISOString(), level: lineLevel, event, ...fields }));
  };
  const at = (lineLevel: LogLevel) =>
    LOG_LEVELS.indexOf(lineLevel) >= least ? (event: string, fields?: LogFields) => write(lineLevel, event, fields) : () => {};
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    audit: (event, fields) => write('info', event, fields),
  };
}
