// The MiniCode chat view: a webview view in the MiniCode container. The prompt goes in here,
// the turn streams here (rendered by out/webview.js), tool calls are cards, and the approvals
// the server asks for (an agent edit in ask mode, a command) are answered inline.
import * as vscode from 'vscode';
import type { AgentMarks } from './agentMarks';
import type { ServerManager } from './client';
import { errorMessage, log, showError } from './logger';
import {
  commandOfRequest,
  commandReply,
  editReply,
  fileChanges,
  isAgentConfirmation,
  withoutConfirmation,
  type Decision,
  type LspWorkspaceEdit,
} from './model/approvals';
import {
  attachApproval,
  cancelTarget,
  cardAwaiting,
  chatCompleted,
  chatFromPage,
  cover,
  coverReplay,
  OPEN_PAGE_EVENTS,
  newChat,
  pageSession,
  patchesSince,
  reduceEvent,
  settleApproval,
  startChatTurn,
  type ApprovalFile,
  type ChatSession,
  type Coverage,
} from './model/chat';
import { MentionSource } from './mentionSource';
import { basename } from './model/format';
import type { MentionItem } from './model/mentions';
import { problems, providerLabel } from './model/readiness';
import { Commands, EventTypes } from './protocol';
import type {
  MinicodeEvent,
  PermissionMode,
  ReplayEvent,
  ReadinessReport,
  SessionReplayResult,
  TaskContext,
  TaskRunArgs,
} from './protocol';
import type { RewindPreviewer } from './rewindPreview';
import { VirtualDocuments } from './virtualDocs';

export const CHAT_VIEW_ID = 'minicode.chat';

interface PendingEdit {
  kind: 'edit';
  sessionId: string;
  resolve: (d: Decision) => void;
  files: (ApprovalFile & { before: string; after: string })[];
}
interface PendingCommand {
  kind: 'command';
  sessionId: string;
  resolve: (d: Decision) => void;
}
type Pending = PendingEdit | PendingCommand;

type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string; mode?: PermissionMode }
  | { type: 'stop' }
  | { type: 'newChat' }
  | { type: 'mode'; mode: PermissionMode }
  | { type: 'decide'; id: string; decision: Decision }
  | { type: 'openApprovalDiff'; id: string; uri: string }
  | { type: 'openDiff'; groupId: string; uri: string }
  | { type: 'previewRewind'; groupId: string }
  | { type: 'openFile'; uri: string }
  | { type: 'command'; command: string }
  | { type: 'painted'; samples: number[] }
  | { type: 'mentions'; id: number; query: string };

function roots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
}

function nonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let out = '';
  for (let i = 0; i < 32; i++) out += chars.charAt(Math.floor(Math.random() * chars.length));
  return out;
}

async function currentText(uri: string): Promise<string | undefined> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === vscode.Uri.parse(uri).toString());
  if (open) return open.getText();
  try {
    return new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.parse(uri)));
  } catch {
    return undefined;
  }
}

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private viewListeners: vscode.Disposable[] = [];
  /** A prompt is on its way to the server: another Send waits for it. */
  private sending = false;
  /** How long the last session opening took (sent with the reset: the bench reads it). */
  private timing: { fetchMs: number; reduceMs: number; events: number; page?: 'newest' | 'older'; startedAt?: number; postedAt?: number } | undefined;
  /** Sessions opened with a page of their newest events, their older ones on the way: what arrived live since. */
  private readonly paging = new Map<string, ReplayEvent[]>();
  private ready = false;
  private readonly sessions = new Map<string, ChatSession>();
  /** Which events of each session this window has (a session it has whole opens without a fetch). */
  private readonly coverage = new Map<string, Coverage>();
  /** Turns running now, by session. */
  private readonly running = new Map<string, string>();
  private shown: string | undefined;
  private postedRev = -1;
  private mode: PermissionMode;
  private provider = '';
  /** The readiness report's fixes (an error card shows them). */
  private fixes: { name: string; fix: string }[] = [];
  private readonly pending = new Map<string, Pending>();
  /** Sessions whose edits the user allowed for the rest of the session. */
  private readonly editsAllowed = new Set<string>();
  private nextId = 1;
  private flushTimer: NodeJS.Timeout | undefined;
  /** Server time of the newest text.delta not yet posted (the webview measures paint latency from it). */
  private lastTextAt: number | undefined;
  /** When this extension host received that event (ms): splits the latency into before/after it. */
  private lastTextRecv: number | undefined;
  private readonly docs = new VirtualDocuments('minicode-approval');
  private readonly mentions: MentionSource;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly runningEmitter = new vscode.EventEmitter<void>();
  readonly onDidChangeRunning = this.runningEmitter.event;
  /** Paint latencies (ms) the webview measured, for the bench. */
  readonly paintSamples: number[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly server: ServerManager,
    private readonly rewind: RewindPreviewer,
    editorContext: () => TaskContext | undefined,
    private readonly marks?: AgentMarks,
  ) {
    this.mentions = new MentionSource(editorContext, (d) => server.diagnosticToLsp(d));
    this.mode = (vscode.workspace.getConfiguration('minicode').get<PermissionMode>('agent.permissionMode') ?? 'ask') as PermissionMode;
    this.disposables.push(
      vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, this, { webviewOptions: { retainContextWhenHidden: true } }),
      server.onEvent((ev) => this.onEvent(ev)),
      server.onReadiness((r) => this.setReadiness(r)),
      server.onState(() => this.post({ type: 'server', state: server.state })),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.post({ type: 'trusted' })),
      this.docs,
    );
  }

  // ------------------------------------------------------------------ webview
  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    const media = vscode.Uri.joinPath(this.extensionUri, 'out');
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    const n = nonce();
    const script = view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'webview.js'));
    const css = view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'webview.css'));
    const codicons = view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'codicon.css'));
    const csp = [
      "default-src 'none'",
      `style-src ${view.webview.cspSource}`,
      `font-src ${view.webview.cspSource}`,
      `img-src ${view.webview.cspSource} data:`,
      `script-src 'nonce-${n}'`,
    ].join('; ');
    view.webview.html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link href="${codicons}" rel="stylesheet"><link href="${css}" rel="stylesheet">
<title>MiniCode</title></head>
<body><div id="app" role="main"></div><script nonce="${n}" src="${script}"></script></body></html>`;
    // one listener per view (a view resolved again must not handle each message twice)
    this.viewListeners.forEach((d) => d.dispose());
    this.viewListeners = [
      view.webview.onDidReceiveMessage((m: FromWebview) => void this.onMessage(m)),
      view.onDidDispose(() => {
        if (this.view === view) {
          this.view = undefined;
          this.ready = false;
        }
      }),
    ];
  }

  private post(message: unknown): void {
    if (this.view && this.ready) void this.view.webview.postMessage(message);
  }

  /** Send the shown session whole (on open, on switching sessions; `keepScroll`: older turns came above what the user sees). */
  private postReset(keepScroll = false): void {
    const shown = this.shown ? this.sessions.get(this.shown) : undefined;
    this.postedRev = shown?.rev ?? -1;
    this.post({
      type: 'reset',
      session: shown ? pageSession(shown) : null,
      running: !!(this.shown && this.running.has(this.shown)),
      mode: this.mode,
      provider: this.provider,
      fixes: this.fixes,
      server: this.server.state,
      roots: roots(),
      timing: this.timing && { ...this.timing, postedAt: Date.now() },
      trusted: vscode.workspace.isTrusted,
      keepScroll,
    });
  }

  /** Send the turns of the shown session that changed since the last post. */
  private flush(): void {
    this.flushTimer = undefined;
    const s = this.shown ? this.sessions.get(this.shown) : undefined;
    if (!s) return;
    // only what changed: the turn's fields and its items newer than the last post
    const turns = patchesSince(s, this.postedRev);
    this.postedRev = s.rev;
    const at = this.lastTextAt;
    const recv = this.lastTextRecv;
    this.lastTextAt = this.lastTextRecv = undefined;
    if (turns.length) this.post({ type: 'turns', sessionId: s.sessionId, title: s.title, turns, running: this.running.has(s.sessionId), at, recv });
  }

  private scheduleFlush(): void {
    this.flushTimer ??= setTimeout(() => this.flush(), 0);
  }

  private setReadiness(r: ReadinessReport): void {
    this.provider = providerLabel(r.providers?.[0]);
    this.fixes = problems(r).filter((c) => c.fix).map((c) => ({ name: c.name, fix: c.fix as string }));
    this.post({ type: 'provider', provider: this.provider, fixes: this.fixes });
  }

  // ------------------------------------------------------------------ state
  private chat(sessionId: string): ChatSession {
    let s = this.sessions.get(sessionId);
    if (!s) {
      s = newChat(sessionId);
      this.sessions.set(sessionId, s);
    }
    return s;
  }

  runningSessions(): string[] {
    return [...this.running.keys()];
  }

  get shownSession(): string | undefined {
    return this.shown;
  }

  private setRunning(sessionId: string, turnId: string | undefined): void {
    if (turnId) this.running.set(sessionId, turnId);
    else this.running.delete(sessionId);
    void vscode.commands.executeCommand('setContext', 'minicode.taskRunning', this.running.size > 0);
    this.runningEmitter.fire();
    if (sessionId === this.shown) this.post({ type: 'running', running: !!turnId });
  }

  private onEvent(ev: MinicodeEvent): void {
    if (!ev?.sessionId) return;
    this.paging.get(ev.sessionId)?.push(ev);
    const s = this.chat(ev.sessionId);
    reduceEvent(s, ev);
    const c = cover(this.coverage.get(ev.sessionId), ev.seq);
    if (c) this.coverage.set(ev.sessionId, c);
    if (ev.type === EventTypes.turnStarted) {
      this.setRunning(ev.sessionId, ev.turnId ?? undefined);
      if (!this.shown || !this.running.has(this.shown) || this.shown === ev.sessionId) this.show(ev.sessionId, false);
    } else if (ev.type === EventTypes.turnFinished) {
      this.setRunning(ev.sessionId, undefined);
      // an approval the turn no longer waits for (cancelled, failed) is withdrawn
      for (const [id, p] of this.pending) if (p.sessionId === ev.sessionId) this.answer(id, 'reject', 'cancelled');
    }
    if (ev.sessionId === this.shown) {
      if (ev.type === EventTypes.textDelta && typeof ev.at === 'number') {
        this.lastTextAt = ev.at;
        this.lastTextRecv = Date.now();
      }
      this.scheduleFlush();
    }
  }

  /** Show a session in the view (without fetching it). */
  private show(sessionId: string | undefined, reveal = true): void {
    const changed = this.shown !== sessionId;
    this.shown = sessionId;
    if (changed) this.postReset();
    if (reveal) void this.reveal();
  }

  async reveal(preserveFocus = true): Promise<void> {
    if (this.view) this.view.show(preserveFocus);
    else await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`).then(undefined, () => undefined);
    if (preserveFocus) return;
    this.post({ type: 'focus' });
  }

  /** An empty chat: the next prompt starts a new session. */
  async newChat(): Promise<void> {
    this.show(undefined);
  }

  /** Open a stored session in the view, replayed from the store. */
  async openSession(sessionId: string, title?: string): Promise<void> {
    const t0 = Date.now();
    const have = this.coverage.get(sessionId);
    const kept = this.sessions.get(sessionId);
    if (have?.complete && kept) {
      // every event of it came here (it ran or was opened in this window): shown at once; only
      // what may have come from elsewhere since (another client on the same store) is fetched
      if (title) kept.title = title;
      this.shown = undefined;
      this.timing = { fetchMs: 0, reduceMs: 0, events: have.next - 1, startedAt: t0 };
      this.show(sessionId);
      this.timing = undefined;
      log.info(`session ${sessionId} opened from this window's copy in ${Date.now() - t0} ms`);
      const more = (await this.server.execute(Commands.sessionReplay, { sessionId, fromSeq: have.next }))?.events ?? [];
      for (const ev of more) {
        reduceEvent(kept, ev);
        const c = cover(this.coverage.get(sessionId), ev.seq);
        if (c) this.coverage.set(sessionId, c);
      }
      if (more.length && this.shown === sessionId) this.scheduleFlush();
      return;
    }
    if (kept && this.paging.has(sessionId)) {
      // opened a moment ago, its older events still coming: shown as it is
      if (title) kept.title = title;
      this.show(sessionId);
      return;
    }
    // a page of its newest events first (what the view shows at the bottom), the older ones after
    // it (the session's title comes from the tree, else its first prompt)
    // what arrives live from now on is kept for the whole session built once the older events came
    this.paging.set(sessionId, []);
    let page: SessionReplayResult | undefined;
    try {
      page = await this.server.execute(Commands.sessionReplay, { sessionId, limit: OPEN_PAGE_EVENTS });
    } finally {
      if (!page?.older) this.paging.delete(sessionId);
    }
    const fetched = Date.now();
    const events = page?.events ?? [];
    const s = chatFromPage(sessionId, { events, older: page?.older, turnStarted: page?.turnStarted }, title);
    const live = this.sessions.get(sessionId);
    // a turn running now keeps what the live stream already brought
    if (live && this.running.has(sessionId)) {
      for (const turn of live.turns) if (!s.turns.some((t) => t.turnId === turn.turnId)) s.turns.push(turn);
      s.rev = Math.max(s.rev, live.rev) + 1;
    }
    this.sessions.set(sessionId, s);
    const c = coverReplay(events);
    const before = this.coverage.get(sessionId);
    this.coverage.set(sessionId, page?.older || (before && before.next > c.next) ? { next: Math.max(c.next, before?.next ?? 0), complete: false } : c);
    this.shown = undefined;
    this.timing = { fetchMs: fetched - t0, reduceMs: Date.now() - fetched, events: events.length, page: 'newest', startedAt: t0 };
    log.info(`session ${sessionId} opened: ${events.length} events fetched in ${this.timing.fetchMs} ms, reduced in ${this.timing.reduceMs} ms${page?.older ? ' (the newest; older ones follow)' : ''}`);
    this.show(sessionId);
    this.timing = undefined;
    if (page?.older && events.length) await this.openOlder(sessionId, events, title);
    else this.paging.delete(sessionId);
  }

  /** The older events of a session opened with its newest page: fetched, then the session shown whole (the view keeps its place). */
  private async openOlder(sessionId: string, page: ReplayEvent[], title?: string): Promise<void> {
    const t0 = Date.now();
    let older: ReplayEvent[];
    try {
      older = (await this.server.execute(Commands.sessionReplay, { sessionId, beforeSeq: page[0].seq }))?.events ?? [];
    } catch (e) {
      this.paging.delete(sessionId);
      log.warn(`session ${sessionId}: its older events could not be fetched: ${errorMessage(e)}`);
      // the page stays, saying so (opening the session again tries again: it is not whole here)
      const current = this.sessions.get(sessionId);
      if (current?.partial) {
        current.partial = 'failed';
        current.rev++;
        if (this.shown === sessionId) this.postReset(true);
      }
      return;
    }
    const fetched = Date.now();
    const live = this.paging.get(sessionId) ?? [];
    this.paging.delete(sessionId);
    const current = this.sessions.get(sessionId);
    if (!current) return;
    const all = [...older, ...page, ...live];
    const s = chatCompleted(current, all, title ?? (current.title !== undefined && !current.partial ? current.title : undefined));
    this.sessions.set(sessionId, s);
    const c = coverReplay(all);
    const before = this.coverage.get(sessionId);
    this.coverage.set(sessionId, before && before.next > c.next ? { next: before.next, complete: false } : c);
    this.timing = { fetchMs: fetched - t0, reduceMs: Date.now() - fetched, events: all.length, page: 'older', startedAt: t0 };
    log.info(`session ${sessionId}: ${older.length} older events fetched in ${this.timing.fetchMs} ms, the session reduced in ${this.timing.reduceMs} ms`);
    if (this.shown === sessionId) this.postReset(true);
    this.timing = undefined;
  }

  // ------------------------------------------------------------------ prompts
  async send(text: string, mode?: PermissionMode): Promise<void> {
    const prompt = text.trim();
    if (!prompt) return;
    // Restricted Mode: plan only (the server is asked for nothing else; see model/trust.ts)
    const request: TaskRunArgs = { prompt, permissionMode: vscode.workspace.isTrusted ? mode ?? this.mode : 'plan' };
    if (this.shown && !this.running.has(this.shown)) request.sessionId = this.shown;
    // the editor's file and selection, and what the prompt mentions (`@path`, `@selection`, `@problems`)
    const context = await this.mentions.contextFor(prompt);
    if (context) request.context = context;
    const result = await this.server.execute(Commands.taskRun, request);
    log.info(`task started: session ${result.sessionId} turn ${result.turnId}`);
    const s = this.chat(result.sessionId);
    startChatTurn(s, result.turnId, prompt, request.permissionMode);
    if (!this.running.has(result.sessionId)) this.setRunning(result.sessionId, result.turnId);
    this.show(result.sessionId);
    this.scheduleFlush();
  }

  /** Cancel the running turn: the one shown, else the only one running. */
  async stop(picked?: string): Promise<boolean | undefined> {
    const sessionId = cancelTarget(this.runningSessions(), this.shown, picked);
    if (!sessionId) return undefined;
    const r = await this.server.execute(Commands.taskCancel, { sessionId });
    return !!r?.cancelled;
  }

  // ------------------------------------------------------------------ approvals
  /** workspace/applyEdit: the agent's edit in ask mode is approved here, not in the Refactor Preview. */
  async handleApplyEdit(
    params: { edit: LspWorkspaceEdit; label?: string },
    next: (p: { edit: LspWorkspaceEdit; label?: string }) => Promise<{ applied: boolean; failureReason?: string }>,
  ): Promise<{ applied: boolean; failureReason?: string }> {
    if (!isAgentConfirmation(params.edit)) {
      // auto mode: the agent's edit is applied as sent, and its lines are marked in the editor
      return this.marks && this.agentEditRunning() ? this.marks.apply(params.edit, () => next(params)) : next(params);
    }
    // the agent's edit follows its approval.requested event; a rewind (same annotation) does not
    const sessionId = this.sessionAwaiting('edit', undefined, true);
    const agentDescribed = Object.values(params.edit.changeAnnotations ?? {}).some((a) => a.description?.startsWith('MiniCode agent'));
    if (!sessionId && !agentDescribed) return next(params);
    if (sessionId && this.editsAllowed.has(sessionId)) {
      const allowed = { ...params, edit: withoutConfirmation(params.edit) };
      return this.marks ? this.marks.apply(allowed.edit, () => next(allowed)) : next(allowed);
    }
    if (vscode.workspace.getConfiguration('minicode').get<boolean>('approvals.refactorPreview')) {
      const viaPreview = await next(params);
      if (viaPreview.applied) return viaPreview;
      // Apply pressed with nothing ticked, or the preview closed: not a decline — ask here
      log.info('the Refactor Preview applied nothing: the approval stays in the chat view');
    }
    const texts = new Map<string, string | undefined>();
    const uris = new Set<string>([
      ...Object.keys(params.edit.changes ?? {}),
      ...(params.edit.documentChanges ?? []).map((c) => c.textDocument?.uri ?? c.uri).filter((u): u is string => !!u),
    ]);
    for (const uri of uris) texts.set(uri, await currentText(uri));
    let files: PendingEdit['files'];
    try {
      files = fileChanges(params.edit, (u) => texts.get(u), roots()).map((f) => ({
        uri: f.uri,
        path: f.path,
        action: f.action,
        added: f.stats.added,
        removed: f.stats.removed,
        diff: f.diff,
        before: f.before,
        after: f.after,
      }));
    } catch (err) {
      log.warn(`cannot show the agent's edit: ${errorMessage(err)}`);
      return next(params);
    }
    const decision = await this.ask('edit', files[0]?.uri ?? '', files);
    if (decision === 'session' && sessionId) this.editsAllowed.add(sessionId);
    const rejected = editReply(decision);
    if (rejected) return rejected;
    const approved = { ...params, edit: withoutConfirmation(params.edit) };
    return this.marks ? this.marks.apply(approved.edit, () => next(approved)) : next(approved);
  }

  /** window/showMessageRequest: a command approval is answered here; anything else as VS Code does. */
  async handleMessageRequest(
    params: { type: number; message: string; actions?: { title: string }[] | null },
    token?: vscode.CancellationToken,
  ): Promise<{ title: string } | null> {
    const command = commandOfRequest(params);
    if (command === undefined) {
      const titles = (params.actions ?? []).map((a) => a.title);
      const fn = params.type === 1 ? vscode.window.showErrorMessage : params.type === 2 ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
      const picked = await fn(params.message, ...titles);
      return picked ? (params.actions ?? []).find((a) => a.title === picked) ?? null : null;
    }
    const decision = await this.ask('command', command, undefined, token);
    return commandReply(decision, params.actions);
  }

  /** Whether an edit tool of a running turn is at work now (its applyEdit is the agent's). */
  private agentEditRunning(): boolean {
    for (const sid of this.running.keys()) {
      const turn = this.chat(sid).turns.find((t) => t.turnId === this.running.get(sid));
      if (turn?.items.some((i) => i.kind === 'tool' && i.tool === 'edit' && i.status === 'running')) return true;
    }
    return false;
  }

  /** The running session with a card waiting for this approval (else the first running one, unless `strict`). */
  private sessionAwaiting(request: 'edit' | 'command', match?: string, strict = false): string | undefined {
    const candidates = [this.shown, ...this.running.keys()].filter((s): s is string => !!s && this.running.has(s));
    for (const sid of candidates) if (cardAwaiting(this.chat(sid), request, match)) return sid;
    return strict ? undefined : candidates[0];
  }

  /** Put an approval on its card (or on a card of its own) and wait for the user's answer. */
  private ask(request: 'edit' | 'command', match: string, files?: PendingEdit['files'], token?: vscode.CancellationToken): Promise<Decision> {
    const id = `a${this.nextId++}`;
    const sessionId = this.sessionAwaiting(request, match) ?? this.shown ?? '';
    const s = this.chat(sessionId);
    let card = cardAwaiting(s, request, match);
    if (!card) {
      // no card to attach to (the event has not arrived): a card of its own in the last turn
      const turnId = this.running.get(sessionId) ?? s.turns[s.turns.length - 1]?.turnId ?? 'approval';
      reduceEvent(s, { sessionId, turnId, seq: undefined as unknown as number, type: EventTypes.toolStarted, data: { name: request === 'edit' ? 'edit_file' : 'run_command', arguments: request === 'edit' ? { path: files?.[0]?.path ?? '' } : { command: match } } });
      reduceEvent(s, { sessionId, turnId, seq: undefined as unknown as number, type: EventTypes.approvalRequested, data: { kind: request, command: request === 'command' ? match : undefined, path: files?.[0]?.path } });
      card = cardAwaiting(s, request, match);
    }
    const shownFiles = files?.map(({ before: _b, after: _a, ...f }) => f);
    if (card) attachApproval(s, card, id, shownFiles);
    if (this.shown !== sessionId) this.show(sessionId);
    else void this.reveal();
    this.scheduleFlush();
    return new Promise<Decision>((resolve) => {
      this.pending.set(id, request === 'edit' ? { kind: 'edit', sessionId, resolve, files: files ?? [] } : { kind: 'command', sessionId, resolve });
      token?.onCancellationRequested(() => this.answer(id, 'reject', 'cancelled'));
    });
  }

  /** The user's answer (or a withdrawal) for approval `id`. */
  answer(id: string, decision: Decision, state?: 'cancelled'): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    const s = this.sessions.get(p.sessionId);
    if (s) settleApproval(s, id, state ?? (decision === 'approve' ? 'approved' : decision === 'session' ? 'session' : 'rejected'));
    p.resolve(decision);
    if (p.sessionId === this.shown) this.scheduleFlush();
  }

  /** The suggestions for what follows an `@` in the prompt. */
  mentionSuggestions(query: string): Promise<MentionItem[]> {
    return this.mentions.suggestions(query.slice(0, 200));
  }

  /** Approvals waiting now (for tests and the bench). */
  pendingApprovals(): string[] {
    return [...this.pending.keys()];
  }

  private async openApprovalDiff(id: string, uri: string): Promise<void> {
    const p = this.pending.get(id);
    if (!p || p.kind !== 'edit') return;
    const f = p.files.find((x) => x.uri === uri) ?? p.files[0];
    if (!f) return;
    const left = this.docs.set(this.docs.uri(`/${id}/${f.path}`, 'before'), f.before);
    const right = this.docs.set(this.docs.uri(`/${id}/${f.path}`, 'proposed'), f.after);
    await vscode.commands.executeCommand('vscode.diff', left, right, `${basename(f.path)}: current ↔ proposed by MiniCode`, { preview: true, preserveFocus: true });
  }

  // ------------------------------------------------------------------ messages
  private async onMessage(m: FromWebview): Promise<void> {
    try {
      switch (m.type) {
        case 'ready':
          this.ready = true;
          this.postReset();
          break;
        case 'send':
          if (m.mode) this.mode = m.mode;
          if (this.sending) break;
          this.sending = true;
          try {
            await this.send(m.text, m.mode);
          } finally {
            this.sending = false;
            this.post({ type: 'sent' });
          }
          break;
        case 'stop': {
          const r = await this.stop();
          if (r === undefined) void vscode.window.showInformationMessage('MiniCode: no task is running.');
          break;
        }
        case 'newChat':
          this.show(undefined, false);
          break;
        case 'mode':
          this.mode = m.mode;
          break;
        case 'decide':
          this.answer(m.id, m.decision);
          break;
        case 'openApprovalDiff':
          await this.openApprovalDiff(m.id, m.uri);
          break;
        case 'openDiff':
          if (this.shown) await this.rewind.openAgentDiff(this.shown, m.groupId, m.uri);
          break;
        case 'previewRewind':
          if (this.shown) await this.rewind.previewAndMaybeApply({ sessionId: this.shown, target: { groupId: m.groupId }, label: 'this checkpoint and all after it' });
          break;
        case 'openFile':
          await vscode.window.showTextDocument(vscode.Uri.parse(m.uri), { preview: true });
          break;
        case 'command':
          if (m.command.startsWith('minicode.') || m.command.startsWith('workbench.action.openSettings') || m.command === 'workbench.trust.manage') await vscode.commands.executeCommand(m.command);
          break;
        case 'mentions':
          this.post({ type: 'mentionItems', id: m.id, items: await this.mentionSuggestions(String(m.query ?? '')) });
          break;
        case 'painted':
          this.paintSamples.push(...m.samples);
          break;
      }
    } catch (err) {
      void showError(`MiniCode: ${errorMessage(err)}`);
    }
  }

  dispose(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const id of [...this.pending.keys()]) this.answer(id, 'reject', 'cancelled');
    this.disposables.forEach((d) => d.dispose());
    this.viewListeners.forEach((d) => d.dispose());
    this.runningEmitter.dispose();
  }
}
