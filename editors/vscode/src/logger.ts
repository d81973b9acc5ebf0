// One LogOutputChannel for the extension and the server's window/logMessage.
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function logChannel(): vscode.LogOutputChannel {
  if (!channel) channel = vscode.window.createOutputChannel('MiniCode', { log: true });
  return channel;
}

export const log = {
  info: (msg: string, ...args: unknown[]) => logChannel().info(msg, ...args),
  warn: (msg: string, ...args: unknown[]) => logChannel().warn(msg, ...args),
  error: (msg: string | Error, ...args: unknown[]) => logChannel().error(msg, ...args),
  debug: (msg: string, ...args: unknown[]) => logChannel().debug(msg, ...args),
};

export function showLogs(): void {
  logChannel().show(true);
}

/** Show an error with a "Show Logs" action (the user can always reach the logs). */
export async function showError(message: string, ...extra: string[]): Promise<string | undefined> {
  log.error(message);
  const choice = await vscode.window.showErrorMessage(message, ...extra, 'Show Logs');
  if (choice === 'Show Logs') showLogs();
  return choice;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err) return String((err as { message: unknown }).message);
  return String(err);
}
