// Entry point: wiring only.
import * as vscode from 'vscode';
import { AgentMarks } from './agentMarks';
import { AgentEditSaver } from './autosave';
import { ChatView } from './chatView';
import { ServerManager } from './client';
import { editorContext, registerCommands } from './commands';
import { logChannel } from './logger';
import { Commands } from './protocol';
import { RewindPreviewer, type RewindRequest } from './rewindPreview';
import { SessionsView } from './sessionsView';
import { ReadinessStatus } from './status';
import { TranscriptView } from './transcript';
import { VirtualDocuments } from './virtualDocs';

let server: ServerManager | undefined;

export async function activate(ctx: vscode.ExtensionContext): Promise<void> {
  ctx.subscriptions.push(logChannel());
  const settingKeys = Object.keys(ctx.extension.packageJSON?.contributes?.configuration?.properties ?? {});
  const srv = new ServerManager(settingKeys);
  server = srv;
  const status = new ReadinessStatus(server);
  const sessions = new SessionsView(server);
  const transcript = new TranscriptView(server);
  const rewind = new RewindPreviewer(server);
  const infoDocs = new VirtualDocuments('minicode-info');
  const marks = new AgentMarks();
  const chat = new ChatView(ctx.extensionUri, server, rewind, () => editorContext(srv), marks);
  // approvals (ask mode's edits, commands) are answered inline in the chat view
  server.approvals = {
    applyEdit: (params, next) => chat.handleApplyEdit(params, next),
    messageRequest: (params, token) => chat.handleMessageRequest(params, token),
  };
  ctx.subscriptions.push(server, status, sessions, transcript, rewind, infoDocs, chat, marks, new AgentEditSaver(server.onEvent));
  registerCommands(ctx, { server, sessions, transcript, rewind, status, infoDocs, chat });
  // the server's "preview rewind of agent edits in this file" code action asks it to open a
  // document; in VS Code the preview quick pick, diffs and Refactor Preview do better
  server.interceptors.set(Commands.rewindPreview, (args) => {
    if (args.showDocument !== true || !args.target || typeof args.target !== 'object') return undefined;
    const { showDocument: _shown, ...request } = args as unknown as RewindRequest & { showDocument: boolean };
    if (request.uris?.length === 1) request.label = `the agent's edits in ${request.uris[0].slice(request.uris[0].lastIndexOf('/') + 1)}`;
    return rewind.previewAndMaybeApply(request);
  });
  await server.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
