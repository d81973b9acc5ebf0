// Where a line of the server's stderr goes in the MiniCode log (pure).
// The server logs `<asctime> <LEVEL> <logger>: <message>` to stderr AND sends the same records
// (WARNING and up; INFO with -v; never pygls's own) as window/logMessage, which the client
// logs at their level. Logged twice — once as [error] from stderr — each warning looked like
// two problems. A stderr record that also came as logMessage is kept at debug level only;
// pygls's records keep their level; anything else on stderr (a traceback, a crash before the
// server could talk) stays an error.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RECORD = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ([\w.]+): /;

export function stderrLevel(line: string): LogLevel {
  const m = RECORD.exec(line);
  if (!m) return 'error';
  const [, level, logger] = m;
  if (logger === 'pygls' || logger.startsWith('pygls.')) {
    return level === 'DEBUG' ? 'debug' : level === 'INFO' ? 'info' : level === 'WARNING' ? 'warn' : 'error';
  }
  return 'debug'; // the same record arrives as window/logMessage
}
