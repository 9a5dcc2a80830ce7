/**
 * Log lines gathered per event-loop turn and written with one syscall: stdout to a pipe or file
 * is synchronous on Linux, and two lines per request cost a write each otherwise.
 */
export interface BatchedStdout {
  write: (line: string) => void;
  /** Writes what is gathered now (before process.exit, so the last lines, audit lines included, are not lost). */
  flush: () => void;
}

export function batchedStdout(): BatchedStdout {
  let lines: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (lines.length === 0) return;
    const text = `${lines.join('\n')}\n`;
    lines = [];
    process.stdout.write(text);
  };
  return {
    write: (line) => {
      lines.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
