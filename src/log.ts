/**
 * One JSON object per line. Callers pass only fields they chose; nothing here serialises a
 * config, a request or an error object wholesale, so a key or token has no path into a line.
 */
export type LogSink = (line: string) => void;
export type LogFields = Record<string, string | number | boolean | string[] | undefined | null | object>;

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

export function createLogger(sink: LogSink = (line) => console.log(line)): Logger {
  const write = (level: string, event: string, fields?: LogFields) => {
    sink(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }));
  };
  return {
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields) => write('warn', event, fields),
    error: (event, fields) => write('error', event, fields),
  };
}
