// Entry point: wiring only.
import * as vscode from 'vscode';
import { ServerManager } from './client';
import { registerCommands } from './commands';
import { logChannel } from './logger';
import { RewindPreviewer } from './rewindPreview';
import { SessionsView } from './sessionsView';
import { ReadinessStatus } from './status';
import { TranscriptView } from './transcript';
import { VirtualDocuments } from './virtualDocs';

let server: ServerManager | undefined;

export async function activate(ctx: vscode.ExtensionContext): Promise<void> {
  ctx.subscriptions.push(logChannel());
  const settingKeys = Object.keys(ctx.extension.packageJSON?.contributes?.configuration?.properties ?? {});
  server = new ServerManager(settingKeys);
  const status = new ReadinessStatus(server);
  const sessions = new SessionsView(server);
  const transcript = new TranscriptView(server);
  const rewind = new RewindPreviewer(server);
  const infoDocs = new VirtualDocuments('minicode-info');
  ctx.subscriptions.push(server, status, sessions, transcript, rewind, infoDocs);
  registerCommands(ctx, { server, sessions, transcript, rewind, status, infoDocs });
  await server.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
