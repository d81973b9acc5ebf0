// The extension's commands (palette, editor and side-panel context menus). Each one turns
// the user's choice into ONE argument object for a server command and renders the result.
import * as vscode from 'vscode';
import type { ChatView } from './chatView';
import type { ServerManager } from './client';
import { errorMessage, log, showError, showLogs } from './logger';
import { displayPath, plural, relativeTime, stopReasonLabel, truncate } from './model/format';
import { targetLabel } from './model/rewind';
import { reportMarkdown } from './model/readiness';
import { sortSessions, type TreeNode } from './model/sessions';
import { Commands } from './protocol';
import type {
  EditGroup,
  ExportFormat,
  ReadinessReport,
  RewindTarget,
  SessionSummary,
  TaskContext,
  TaskRunArgs,
} from './protocol';
import type { RewindPreviewer, RewindRequest } from './rewindPreview';
import type { SessionsView } from './sessionsView';
import type { ReadinessStatus } from './status';
import type { TranscriptView } from './transcript';
import { VirtualDocuments } from './virtualDocs';

export interface Parts {
  server: ServerManager;
  sessions: SessionsView;
  transcript: TranscriptView;
  rewind: RewindPreviewer;
  status: ReadinessStatus;
  infoDocs: VirtualDocuments;
  chat: ChatView;
}

/** Task context from the active editor: its file, the selection, its text and diagnostics. */
export function editorContext(server: ServerManager): TaskContext | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !['file', 'untitled'].includes(editor.document.uri.scheme)) return undefined;
  const sel = editor.selection;
  const ctx: TaskContext = {
    uri: editor.document.uri.toString(),
    range: {
      start: { line: sel.start.line, character: sel.start.character },
      end: { line: sel.end.line, character: sel.end.character },
    },
  };
  if (!sel.isEmpty) ctx.selectionText = editor.document.getText(sel);
  const line = editor.document.lineAt(sel.active.line).range;
  const scope = sel.isEmpty ? line : sel;
  const diags = vscode.languages.getDiagnostics(editor.document.uri).filter((d) => d.range.intersection(scope) !== undefined);
  if (diags.length) ctx.diagnostics = diags.map((d) => server.diagnosticToLsp(d));
  return ctx;
}

async function pickSession(server: ServerManager, placeHolder: string): Promise<SessionSummary | undefined> {
  const sessions = sortSessions((await server.execute(Commands.sessionList, { limit: 100 })).sessions);
  if (sessions.length === 0) {
    void vscode.window.showInformationMessage('MiniCode: no sessions yet.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    sessions.map((s) => ({
      label: truncate(s.title || s.id, 80),
      description: [relativeTime(s.updatedAt ?? s.createdAt), stopReasonLabel(s.lastStopReason)].filter(Boolean).join(' · '),
      detail: `${plural(s.turnCount, 'turn')} · ${s.id}`,
      session: s,
    })),
    { placeHolder, matchOnDetail: true },
  );
  return picked?.session;
}

/** The rewind target of a side-panel node (turn or group). */
function nodeTarget(node: TreeNode | undefined): RewindRequest | undefined {
  if (!node) return undefined;
  const label = `"${node.label}"`;
  if (node.kind === 'group' && node.groupId) return { sessionId: node.sessionId, target: { groupId: node.groupId }, label: `${label} and all after it` };
  if (node.kind === 'turn' && node.turnId) return { sessionId: node.sessionId, target: { turnId: node.turnId }, label: `turn ${label} and all after it` };
  if (node.kind === 'session') return { sessionId: node.sessionId, target: { session: true }, label: `session ${label}` };
  return undefined;
}

/** Ask what to rewind: the latest group, a recent edit group, the last turn, or a whole session. */
async function pickTarget(server: ServerManager, verb: string): Promise<RewindRequest | undefined> {
  const { groups } = await server.execute(Commands.checkpointList, { limit: 30 });
  type Item = vscode.QuickPickItem & { req?: RewindRequest };
  const latest = groups[0];
  const items: Item[] = [
    { label: '$(history) Latest edit group', description: latest ? truncate(latest.label || latest.id, 60) : '', req: { target: { latest: true }, label: 'the latest edit group' } },
  ];
  if (latest?.turnId) {
    items.push({ label: '$(debug-step-back) Latest turn', description: 'every edit of the last turn', req: { sessionId: latest.sessionId ?? undefined, target: { turnId: latest.turnId }, label: 'the latest turn' } });
  }
  const sessionIds = [...new Set(groups.map((g: EditGroup) => g.sessionId).filter((s): s is string => !!s))];
  if (sessionIds[0]) items.push({ label: '$(discard) Whole session', description: 'every edit of the latest session', req: { sessionId: sessionIds[0], target: { session: true }, label: 'the latest session' } });
  if (groups.length) items.push({ label: 'Edit groups (this one and all after it)', kind: vscode.QuickPickItemKind.Separator });
  for (const g of groups) {
    const target: RewindTarget = { groupId: g.id };
    items.push({
      label: `$(git-commit) ${truncate(g.label || g.id, 70)}`,
      description: [g.kind, plural(g.files?.length ?? 0, 'file'), relativeTime(g.createdAt)].filter(Boolean).join(' · '),
      req: { sessionId: g.sessionId ?? undefined, target, label: `"${truncate(g.label || g.id, 50)}" and all after it` },
    });
  }
  const picked = await vscode.window.showQuickPick(items, { placeHolder: `${verb}: what to rewind` });
  return picked?.req;
}

export function registerCommands(ctx: vscode.ExtensionContext, p: Parts): void {
  const { server, sessions, transcript, rewind, status, infoDocs, chat } = p;

  const guarded =
    <A extends unknown[]>(name: string, fn: (...args: A) => Promise<unknown>) =>
    async (...args: A) => {
      try {
        await fn(...args);
      } catch (err) {
        void showError(`MiniCode: ${name} failed: ${errorMessage(err)}`);
      }
    };

  /** A prompt goes in through the chat view; a prompt given as an argument is sent from there. */
  const runTask = async (args?: Partial<TaskRunArgs>) => {
    if (args?.sessionId) await chat.openSession(args.sessionId);
    if (!args?.prompt?.trim()) {
      await chat.reveal(false);
      return;
    }
    if (!args.sessionId && !args.context) {
      // a new task: not a follow-up of the session on show
      await chat.newChat();
    }
    await chat.send(args.prompt, args.permissionMode);
    sessions.refresh();
  };

  const sessionOf = async (node: TreeNode | undefined, placeHolder: string): Promise<string | undefined> =>
    node?.sessionId || (await pickSession(server, placeHolder))?.id;

  const reg = (id: string, fn: (...args: never[]) => Promise<unknown>) =>
    ctx.subscriptions.push(vscode.commands.registerCommand(id, guarded(id.replace('minicode.', ''), fn as (...a: unknown[]) => Promise<unknown>)));

  // from menus VS Code passes a Uri or a tree node: only a plain argument object is taken as args
  reg('minicode.runTask', (args?: Partial<TaskRunArgs>) =>
    runTask(args && typeof args === 'object' && !(args instanceof vscode.Uri) && !('kind' in args) ? args : undefined),
  );

  // ■ stops the RUNNING turn (the shown one when several run), never merely the selected session
  reg('minicode.cancelTask', async (node?: TreeNode) => {
    const picked = node && typeof node === 'object' && 'sessionId' in node ? node.sessionId : undefined;
    const cancelled = await chat.stop(picked);
    if (cancelled === undefined) void vscode.window.showInformationMessage('MiniCode: no task is running.');
    else void vscode.window.showInformationMessage(cancelled ? 'MiniCode: task cancelled.' : 'MiniCode: the task had already finished.');
  });

  reg('minicode.openChat', async () => chat.reveal(false));
  reg('minicode.openInChat', async (node?: TreeNode) => {
    const sessionId = await sessionOf(node, 'Open which session?');
    if (sessionId) await chat.openSession(sessionId, node?.kind === 'session' ? node.label : undefined);
  });

  reg('minicode.showSessions', async () => sessions.focus());
  reg('minicode.refreshSessions', async () => sessions.refresh());

  reg('minicode.resumeSession', async (node?: TreeNode) => {
    const sessionId = await sessionOf(node, 'Resume which session?');
    if (sessionId) await runTask({ sessionId });
  });

  reg('minicode.previewRewind', async (node?: TreeNode | vscode.Uri) => {
    // from the editor's context menu: the rewind limited to that file
    const fileUri = node instanceof vscode.Uri ? node.toString() : undefined;
    const req = (node instanceof vscode.Uri ? undefined : nodeTarget(node)) ?? (await pickTarget(server, 'Preview Rewind'));
    if (req && fileUri) {
      req.uris = [fileUri];
      req.label = `${req.label ?? targetLabel(req.target)}, in ${displayPath(fileUri, (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString()))} only`;
    }
    if (req) await rewind.previewAndMaybeApply(req);
  });
  reg('minicode.previewRewindTo', async (node?: TreeNode) => {
    const req = nodeTarget(node);
    if (req) await rewind.previewAndMaybeApply(req);
  });

  // the title bar of a rewind preview's diff (the list is hidden while the diff is on show)
  reg('minicode.rewindPreviewApply', async () => rewind.settle('apply'));
  reg('minicode.rewindPreviewForce', async () => rewind.settle('force'));
  reg('minicode.rewindPreviewFiles', async () => rewind.settle('files'));
  reg('minicode.rewindPreviewCancel', async () => rewind.settle('cancel'));

  const rewindNow = async (req: RewindRequest | undefined) => {
    if (req) await rewind.apply(req);
  };
  reg('minicode.rewind', async (node?: TreeNode) => rewindNow(nodeTarget(node) ?? (await pickTarget(server, 'Rewind'))));
  reg('minicode.rewindTo', async (node?: TreeNode) => rewindNow(nodeTarget(node)));

  reg('minicode.undoRewind', async () => {
    const r = await server.execute(Commands.rewindUndo, {});
    void vscode.window.showInformationMessage(r?.applied === false ? 'MiniCode: undo rewind was not applied (declined).' : 'MiniCode: rewind undone.');
  });

  reg('minicode.showReadiness', async () => {
    let report: ReadinessReport | undefined = status.latest;
    if (server.running) {
      try {
        report = await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Window, title: 'MiniCode: checking readiness' },
          () => server.execute(Commands.readiness, { probe: true }),
        );
        status.setReport(report);
      } catch (err) {
        log.warn(`readiness: ${errorMessage(err)}`);
      }
    } else {
      const choice = await vscode.window.showWarningMessage(`MiniCode: the server is ${server.state}.`, 'Restart Server', 'Show Logs');
      if (choice === 'Restart Server') await server.restart();
      if (choice === 'Show Logs') showLogs();
      return;
    }
    const uri = infoDocs.set(infoDocs.uri('/MiniCode Readiness.md'), reportMarkdown(report));
    await infoDocs.show(uri);
  });

  reg('minicode.exportSession', async (node?: TreeNode) => {
    const sessionId = await sessionOf(node, 'Export which session?');
    if (!sessionId) return;
    const fmt = await vscode.window.showQuickPick(
      [
        { label: 'Markdown', format: 'markdown' as ExportFormat },
        { label: 'JSON Lines', format: 'jsonl' as ExportFormat },
      ],
      { placeHolder: 'Export format' },
    );
    if (!fmt) return;
    const r = await server.execute(Commands.sessionExport, { sessionId, format: fmt.format });
    const doc = await vscode.workspace.openTextDocument({ content: r.content ?? '', language: fmt.format === 'markdown' ? 'markdown' : 'jsonl' });
    await vscode.window.showTextDocument(doc, { preview: false });
  });

  reg('minicode.replaySession', async (node?: TreeNode) => {
    const sessionId = await sessionOf(node, 'Replay which session?');
    if (!sessionId) return;
    const [replay, detail] = await Promise.all([
      server.execute(Commands.sessionReplay, { sessionId }),
      server.execute(Commands.sessionShow, { sessionId }).catch(() => undefined),
    ]);
    await transcript.showReplay(sessionId, replay?.events ?? [], detail?.title);
  });

  reg('minicode.deleteSession', async (node?: TreeNode) => {
    const sessionId = await sessionOf(node, 'Delete which session?');
    if (!sessionId) return;
    const ok = await vscode.window.showWarningMessage(
      `Delete session "${node?.label ?? sessionId}"? Its checkpoints go too; files are not changed.`,
      { modal: true },
      'Delete',
    );
    if (ok !== 'Delete') return;
    await server.execute(Commands.sessionDelete, { sessionId });
    sessions.refresh();
  });

  reg('minicode.openAgentDiff', async (node?: TreeNode) => {
    if (node?.kind === 'file' && node.groupId && node.uri) await rewind.openAgentDiff(node.sessionId, node.groupId, node.uri);
  });

  reg('minicode.showTranscript', async () => transcript.show(false));
  reg('minicode.restartServer', async () => server.restart());
  reg('minicode.showLogs', async () => showLogs());
}
