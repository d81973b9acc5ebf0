// The transcript: a read-only markdown document that streams `minicode/event` for the
// running turn (text, tool calls with their status, files changed, stop reason).
import * as vscode from 'vscode';
import type { ServerManager } from './client';
import { applyEvent, newTranscript, startTurn as startTurnModel, renderTranscript, transcriptFromReplay, type SessionTranscript } from './model/transcript';
import { EventTypes } from './protocol';
import type { MinicodeEvent, ReplayEvent } from './protocol';
import { VirtualDocuments } from './virtualDocs';

function workspaceRoots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
}

export class TranscriptView implements vscode.Disposable {
  readonly docs = new VirtualDocuments('minicode-transcript');
  readonly liveUri = this.docs.uri('/MiniCode Transcript.md');
  private readonly sessions = new Map<string, SessionTranscript>();
  /** Turns running now, by session. */
  private readonly running = new Map<string, string>();
  private current: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly runningEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeRunning = this.runningEmitter.event;

  constructor(server: ServerManager) {
    this.docs.set(this.liveUri, renderTranscript(undefined));
    this.disposables.push(this.docs, server.onEvent((ev) => this.onEvent(ev)));
  }

  /** Sessions with a turn running now. */
  runningSessions(): string[] {
    return [...this.running.keys()];
  }

  /** Remember a turn this window started (before its first event arrives). */
  startTurn(sessionId: string, turnId: string, prompt: string, title?: string): void {
    const t = this.sessions.get(sessionId) ?? newTranscript(sessionId, title ?? prompt);
    this.sessions.set(sessionId, t);
    const turn = startTurnModel(t, turnId, prompt);
    this.current = sessionId;
    if (!turn.finished) this.setRunning(sessionId, turnId);
    this.scheduleRender(true);
  }

  private setRunning(sessionId: string, turnId: string | undefined): void {
    if (turnId) this.running.set(sessionId, turnId);
    else this.running.delete(sessionId);
    void vscode.commands.executeCommand('setContext', 'minicode.taskRunning', this.running.size > 0);
    this.runningEmitter.fire();
  }

  private onEvent(ev: MinicodeEvent): void {
    if (!ev || !ev.sessionId) return;
    let t = this.sessions.get(ev.sessionId);
    if (!t) {
      t = newTranscript(ev.sessionId);
      this.sessions.set(ev.sessionId, t);
    }
    applyEvent(t, ev);
    if (ev.type === EventTypes.turnStarted) {
      this.setRunning(ev.sessionId, ev.turnId ?? undefined);
      this.current = ev.sessionId; // followed when open; the chat view is where a turn shows
    } else if (ev.type === EventTypes.turnFinished) {
      this.setRunning(ev.sessionId, undefined);
    }
    if (ev.sessionId === this.current || this.current === undefined) {
      this.current = ev.sessionId;
      this.scheduleRender(ev.type === EventTypes.turnFinished);
    }
  }

  private scheduleRender(now = false): void {
    if (now) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.render();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.render();
    }, 100);
  }

  private render(): void {
    const t = this.current ? this.sessions.get(this.current) : undefined;
    this.docs.set(this.liveUri, renderTranscript(t, workspaceRoots()));
    // follow the stream: keep the end in view in editors showing the transcript
    for (const editor of vscode.window.visibleTextEditors) {
      if (editor.document.uri.toString() === this.liveUri.toString()) {
        setTimeout(() => {
          const last = Math.max(editor.document.lineCount - 1, 0);
          editor.revealRange(new vscode.Range(last, 0, last, 0), vscode.TextEditorRevealType.Default);
        }, 50);
      }
    }
  }

  visible(): boolean {
    return vscode.window.visibleTextEditors.some((e) => e.document.uri.toString() === this.liveUri.toString());
  }

  /** Open the live transcript beside the active editor (or reveal it where it is). */
  async show(preserveFocus = true): Promise<void> {
    const open = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === this.liveUri.toString());
    await this.docs.show(this.liveUri, { viewColumn: open?.viewColumn ?? vscode.ViewColumn.Beside, preserveFocus });
  }

  /** Open a transcript rebuilt from a session's recorded events. */
  async showReplay(sessionId: string, events: ReplayEvent[], title?: string): Promise<void> {
    const uri = this.docs.uri(`/Replay ${sessionId.slice(0, 8)}.md`);
    this.docs.set(uri, renderTranscript(transcriptFromReplay(sessionId, events, title), workspaceRoots()));
    await this.docs.show(uri);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.disposables.forEach((d) => d.dispose());
    this.runningEmitter.dispose();
  }
}
