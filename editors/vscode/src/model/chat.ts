// The chat view's model (pure: no vscode import): `minicode/event` notifications (or a session
// replayed from the store) reduced to turns of items the webview renders: streamed text, one
// compact card per tool call (with its approval while one is pending), checkpoints, errors, and
// the turn's end (stop reason, tokens, time). Every item carries `rev`, bumped on each change,
// so the webview re-renders only what changed.
import { EventTypes } from '../protocol';
import type { MinicodeEvent, ReplayEvent } from '../protocol';
import { diffStats, statsText, type DiffStats } from './diff';
import { stopReasonLabel, truncate } from './format';

export type ToolKind = 'read' | 'search' | 'edit' | 'command' | 'other';
export type ApprovalState = 'waiting' | 'pending' | 'approved' | 'session' | 'rejected' | 'cancelled';

export interface ApprovalFile {
  uri: string;
  path: string;
  action: string;
  added: number;
  removed: number;
  diff: string;
}

export interface Approval {
  /** Set once the server's request (applyEdit / showMessageRequest) arrived: the buttons work. */
  id?: string;
  request: 'edit' | 'command';
  state: ApprovalState;
  command?: string;
  path?: string;
  files?: ApprovalFile[];
}

export interface TextItem {
  kind: 'text';
  id: string;
  rev: number;
  text: string;
}
/** The model's reasoning (`thought.delta`): shown folded; `done` once something came after it. */
export interface ThoughtItem {
  kind: 'thought';
  id: string;
  rev: number;
  text: string;
  done: boolean;
}
export interface ToolItem {
  kind: 'tool';
  id: string;
  rev: number;
  callId?: string;
  name: string;
  tool: ToolKind;
  /** What it acted on: a path, a pattern, a command line. */
  target: string;
  /** `declined`: the user rejected it (not a failure of the tool). */
  status: 'running' | 'ok' | 'failed' | 'declined';
  exitCode?: number;
  output?: string;
  summary?: string;
  stats?: DiffStats;
  files?: { uri: string; action: string }[];
  groupId?: string;
  approval?: Approval;
}
export interface CheckpointItem {
  kind: 'checkpoint';
  id: string;
  rev: number;
  groupId: string;
  files: { uri: string; action: string }[];
}
export interface NoteItem {
  kind: 'note' | 'error';
  id: string;
  rev: number;
  text: string;
  hint?: string;
}
export type ChatItem = TextItem | ThoughtItem | ToolItem | CheckpointItem | NoteItem;

export interface ChatTurn {
  turnId: string;
  prompt?: string;
  mode?: string;
  items: ChatItem[];
  finished: boolean;
  stopReason?: string;
  usage?: Record<string, number>;
  provider?: string;
  error?: string;
  startedAt?: number;
  finishedAt?: number;
  /** `model.waiting`: the model has not answered for `seconds` (cleared by what comes next). */
  waiting?: { seconds: number; provider?: string };
  lastSeq: number;
  rev: number;
}

/** A turn as posted to the webview after a change: its fields and only its changed items. */
export type TurnPatch = Omit<ChatTurn, 'items'> & { count: number; changed: [number, ChatItem][] };

/** An item as the page gets it: without what the page never shows (a tool call's id, its summary): a long session posts half the bytes. */
export function pageItem(item: ChatItem): ChatItem {
  if (item.kind !== 'tool') return item;
  const { callId: _id, summary: _summary, ...shown } = item;
  return shown as ToolItem;
}

/** A session as the page gets it (see pageItem). */
export function pageSession(s: ChatSession): ChatSession {
  return { ...s, turns: s.turns.map((t) => ({ ...t, items: t.items.map(pageItem) })) };
}

/** The turns changed since revision `since`, each with only its changed items. */
export function patchesSince(s: ChatSession, since: number): TurnPatch[] {
  return s.turns
    .filter((t) => t.rev > since)
    .map(({ items, ...rest }) => ({ ...rest, count: items.length, changed: items.flatMap((it, i) => (it.rev > since ? [[i, pageItem(it)] as [number, ChatItem]] : [])) }));
}

/** Apply a patch to the webview's copy of a session; returns the patched turn. */
export function applyPatch(s: ChatSession, patch: TurnPatch): ChatTurn {
  const { count, changed, ...fields } = patch;
  let turn = s.turns.find((t) => t.turnId === patch.turnId);
  if (!turn) {
    turn = { ...fields, items: [] };
    s.turns.push(turn);
  } else Object.assign(turn, fields);
  for (const [i, item] of changed) turn.items[i] = item;
  turn.items.length = Math.min(turn.items.length, count);
  return turn;
}

export interface ChatSession {
  sessionId: string;
  title?: string;
  turns: ChatTurn[];
  /** Only its newest events are here (a long session opened a page first): older ones are on their way, or (`failed`) could not be fetched. */
  partial?: boolean | 'failed';
  /** Bumped on every change (item revs come from it). */
  rev: number;
}

export function newChat(sessionId: string, title?: string): ChatSession {
  return { sessionId, title, turns: [], rev: 0 };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function toolKind(name: string): ToolKind {
  if (['edit_file', 'write_file', 'delete_file', 'apply_patch'].includes(name)) return 'edit';
  if (['run_command', 'shell', 'bash'].includes(name)) return 'command';
  if (['search', 'grep', 'find_files'].includes(name)) return 'search';
  if (['read_file', 'list_files'].includes(name)) return 'read';
  return 'other';
}

function targetOf(args: unknown): string {
  if (!args || typeof args !== 'object') return typeof args === 'string' ? truncate(args, 200) : '';
  const a = args as Record<string, unknown>;
  if (typeof a.command === 'string') return a.command;
  if (typeof a.pattern === 'string') return a.path ? `${a.pattern} in ${String(a.path)}` : a.pattern;
  if (typeof a.path === 'string') return a.path;
  return truncate(JSON.stringify(a), 200);
}

/** Lines added and removed by an edit tool's arguments (when they say it). */
function statsOfArgs(name: string, args: unknown): DiffStats | undefined {
  if (!args || typeof args !== 'object') return undefined;
  const a = args as Record<string, unknown>;
  if (name === 'edit_file' && typeof a.old_text === 'string' && typeof a.new_text === 'string') return diffStats(a.old_text, a.new_text);
  if (name === 'write_file' && typeof a.content === 'string') return diffStats('', a.content);
  return undefined;
}

/** `[exit code 1]` at the end of a command's output. */
export function exitCodeOf(output: string | undefined): number | undefined {
  const m = /\[exit code (-?\d+)\]\s*$/.exec(output ?? '');
  return m ? Number(m[1]) : undefined;
}

function turnFor(s: ChatSession, turnId: string): ChatTurn {
  let turn = s.turns.find((x) => x.turnId === turnId);
  if (!turn) {
    turn = { turnId, items: [], finished: false, lastSeq: -1, rev: ++s.rev };
    s.turns.push(turn);
  }
  return turn;
}

function touch(s: ChatSession, turn: ChatTurn, item?: ChatItem): void {
  s.rev++;
  turn.rev = s.rev;
  if (item) item.rev = s.rev;
}

type NewItem = Omit<TextItem, 'id' | 'rev'> | Omit<ThoughtItem, 'id' | 'rev'> | Omit<ToolItem, 'id' | 'rev'> | Omit<CheckpointItem, 'id' | 'rev'> | Omit<NoteItem, 'id' | 'rev'>;

/** A thought still streaming at the end of the turn is finished by whatever comes next. */
function endThought(s: ChatSession, turn: ChatTurn): void {
  const last = turn.items[turn.items.length - 1];
  if (last?.kind === 'thought' && !last.done) {
    last.done = true;
    touch(s, turn, last);
  }
}

function push(s: ChatSession, turn: ChatTurn, item: NewItem): ChatItem {
  endThought(s, turn);
  const full = { ...item, id: `${turn.turnId}:${turn.items.length}`, rev: 0 } as ChatItem;
  turn.items.push(full);
  touch(s, turn, full);
  return full;
}

/** Turns whose last text came from an earlier model request (a `context.usage` since): their next text starts a new block. */
const newRequest = new WeakSet<ChatTurn>();

/** Tool cards by call id, per turn (a long turn's tool.finished finds its card at once). */
const byCallId = new WeakMap<ChatTurn, Map<string, ToolItem>>();

function cardOf(turn: ChatTurn, callId: string | undefined): ToolItem | undefined {
  return callId ? byCallId.get(turn)?.get(callId) : undefined;
}

function tools(turn: ChatTurn): ToolItem[] {
  return turn.items.filter((i): i is ToolItem => i.kind === 'tool');
}

/** Record a turn this client started, before its first event arrives. */
export function startChatTurn(s: ChatSession, turnId: string, prompt: string, mode?: string): ChatTurn {
  const turn = turnFor(s, turnId);
  turn.prompt ??= prompt;
  turn.mode ??= mode;
  s.title ??= prompt;
  touch(s, turn);
  return turn;
}

/** Fold one event in. Events of a turn at or below its last seen `seq` are ignored. */
export function reduceEvent(s: ChatSession, ev: MinicodeEvent | ReplayEvent): ChatTurn {
  const turn = turnFor(s, ev.turnId ?? ''); // mode.changed: no turn
  if (typeof ev.seq === 'number') {
    if (ev.seq <= turn.lastSeq) return turn;
    turn.lastSeq = ev.seq;
  }
  const data = (ev.data ?? {}) as Record<string, unknown>;
  const at = typeof ev.at === 'number' ? ev.at : undefined;
  if (turn.waiting && ev.type !== EventTypes.modelWaiting && ev.type !== EventTypes.contextUsage) {
    turn.waiting = undefined; // the model answered
    touch(s, turn);
  }
  switch (ev.type) {
    case EventTypes.turnStarted: {
      turn.prompt = str(data.prompt) ?? turn.prompt;
      turn.mode = str(data.permissionMode) ?? turn.mode;
      turn.startedAt = at ?? turn.startedAt;
      s.title ??= turn.prompt;
      touch(s, turn);
      break;
    }
    case EventTypes.textDelta: {
      const text = str(data.text) ?? '';
      if (!text) break;
      const last = turn.items[turn.items.length - 1];
      const sameRequest = !newRequest.has(turn);
      newRequest.delete(turn);
      if (last?.kind === 'text' && sameRequest) {
        last.text += text;
        touch(s, turn, last);
      } else push(s, turn, { kind: 'text', text });
      break;
    }
    case EventTypes.thoughtDelta: {
      const text = str(data.text) ?? '';
      if (!text) break;
      const last = turn.items[turn.items.length - 1];
      if (last?.kind === 'thought' && !last.done) {
        last.text += text;
        touch(s, turn, last);
      } else push(s, turn, { kind: 'thought', text, done: false });
      break;
    }
    case EventTypes.modelWaiting: {
      const seconds = typeof data.seconds === 'number' && Number.isFinite(data.seconds) ? Math.max(0, Math.round(data.seconds)) : 0;
      turn.waiting = { seconds, provider: str(data.provider) };
      touch(s, turn);
      break;
    }
    case EventTypes.toolStarted: {
      const name = str(data.name) ?? 'tool';
      const callId = str(data.toolCallId);
      const card = push(s, turn, {
        kind: 'tool',
        callId,
        name,
        tool: toolKind(name),
        target: targetOf(data.arguments),
        status: 'running',
        stats: statsOfArgs(name, data.arguments),
      } as ToolItem) as ToolItem;
      if (callId) {
        if (!byCallId.has(turn)) byCallId.set(turn, new Map());
        byCallId.get(turn)!.set(callId, card);
      }
      break;
    }
    case EventTypes.approvalRequested: {
      const callId = str(data.toolCallId);
      const card = cardOf(turn, callId) ?? [...tools(turn)].reverse().find((t) => t.status === 'running');
      const request = data.kind === 'command' ? 'command' : 'edit';
      const approval: Approval = { request, state: 'waiting', command: str(data.command), path: str(data.path) };
      if (card) {
        card.approval = { ...approval, ...(card.approval?.id ? { id: card.approval.id, state: card.approval.state, files: card.approval.files } : {}) };
        touch(s, turn, card);
      }
      break;
    }
    case EventTypes.toolFinished: {
      const callId = str(data.toolCallId);
      const name = str(data.name) ?? 'tool';
      let card = cardOf(turn, callId) || [...tools(turn)].reverse().find((t) => t.status === 'running' && t.name === name);
      if (!card) card = push(s, turn, { kind: 'tool', callId, name, tool: toolKind(name), target: '', status: 'running' } as ToolItem) as ToolItem;
      const output = str(data.output);
      const exitCode = card.tool === 'command' ? exitCodeOf(output) : undefined;
      const failed = data.isError === true || (exitCode !== undefined && exitCode !== 0);
      const said = `${str(data.summary) ?? ''}\n${output ?? ''}`;
      // `declined` says it; a session recorded before that field was sent says it in the summary only
      const rejected = card.approval?.state === 'rejected' || data.declined === true || (!!card.approval && data.isError === true && /the user (declined|refused|rejected)/i.test(said));
      card.status = rejected ? 'declined' : failed ? 'failed' : 'ok';
      card.exitCode = exitCode;
      // kept only where the card shows it (a command's output, a failure's message): a file a
      // tool read is not carried to the page (a long session would post megabytes)
      card.output = card.tool === 'command' || card.status === 'failed' ? output : undefined;
      card.summary = str(data.summary);
      if (card.approval?.state === 'waiting') {
        // the tool ended before asking (refused, failed): there was nothing to approve
        if (rejected) card.approval.state = 'rejected';
        else card.approval = undefined;
      } else if (card.approval?.state === 'pending') {
        card.approval.state = rejected ? 'rejected' : 'cancelled';
      }
      touch(s, turn, card);
      break;
    }
    case EventTypes.filesChanged: {
      const files = Array.isArray(data.files)
        ? (data.files as Record<string, unknown>[]).filter((f) => typeof f?.uri === 'string').map((f) => ({ uri: f.uri as string, action: str(f.action) ?? 'modify' }))
        : Array.isArray(data.uris)
          ? data.uris.filter((u): u is string => typeof u === 'string').map((uri) => ({ uri, action: 'modify' }))
          : [];
      const groupId = str(data.groupId);
      const card = [...tools(turn)].reverse().find((t) => t.tool === 'edit' || t.tool === 'command');
      if (card && !card.groupId) {
        card.files = files;
        card.groupId = groupId;
        touch(s, turn, card);
      }
      if (groupId) push(s, turn, { kind: 'checkpoint', groupId, files } as CheckpointItem);
      break;
    }
    case EventTypes.providerFallback: {
      const why = str(data.reason);
      push(s, turn, { kind: 'note', text: `provider fallback: ${str(data.fromProvider) ?? '?'} → ${str(data.toProvider) ?? '?'}${why ? ` (${truncate(why, 160)})` : ''}` } as NoteItem);
      break;
    }
    case EventTypes.contextCompacted: {
      push(s, turn, { kind: 'note', text: 'context compacted' } as NoteItem);
      break;
    }
    case EventTypes.error: {
      const message = str(data.message) ?? 'error';
      const hint = str(data.hint);
      // the hint once: some messages already carry it
      push(s, turn, { kind: 'error', text: message, hint: hint && !message.includes(hint) ? hint : undefined } as NoteItem);
      break;
    }
    case EventTypes.turnFinished: {
      endThought(s, turn);
      turn.finished = true;
      turn.stopReason = str(data.stopReason) ?? turn.stopReason;
      if (data.usage && typeof data.usage === 'object') turn.usage = data.usage as Record<string, number>;
      turn.provider = str(data.provider) ?? turn.provider;
      turn.error = str(data.error) ?? undefined;
      turn.finishedAt = at ?? turn.finishedAt;
      for (const card of tools(turn)) {
        let changed = false;
        if (card.status === 'running') {
          card.status = 'failed';
          changed = true;
        }
        if (card.approval && (card.approval.state === 'waiting' || card.approval.state === 'pending')) {
          card.approval.state = 'cancelled';
          changed = true;
        }
        if (changed) touch(s, turn, card);
      }
      touch(s, turn);
      break;
    }
    case EventTypes.contextUsage: {
      // sent before each model request: text after it is a new message, not more of the last one
      if (turn.items[turn.items.length - 1]?.kind === 'text') newRequest.add(turn);
      break;
    }
    default:
      break; // memory.injected and future types: not shown
  }
  return turn;
}

/** A session rebuilt from `minicode.session.replay`. */
export function chatFromReplay(sessionId: string, events: readonly ReplayEvent[], title?: string): ChatSession {
  const s = newChat(sessionId, title);
  for (const ev of [...events].sort((a, b) => a.seq - b.seq)) reduceEvent(s, ev);
  return s;
}

/** How many events a long session opens with (its newest): they paint at once, the older ones follow. */
export const OPEN_PAGE_EVENTS = 200;

/** Events that only complete a card or checkpoint an earlier event started (a page cut before that event has nothing to attach them to). */
const FOLLOW_UPS: ReadonlySet<string> = new Set([EventTypes.toolFinished, EventTypes.approvalRequested, EventTypes.filesChanged]);

/**
 * A session from a page of its newest events (`minicode.session.replay` with `limit`): the
 * prompt of the turn the page begins in (`turnStarted`), then the page, without the events at its
 * start that only finish a card the page does not hold. `partial` while older events are left.
 */
export function chatFromPage(
  sessionId: string,
  page: { events: readonly ReplayEvent[]; older?: boolean | null; turnStarted?: ReplayEvent | null },
  title?: string,
): ChatSession {
  const events = [...page.events].sort((a, b) => a.seq - b.seq);
  let start = 0;
  if (page.older) while (start < events.length && FOLLOW_UPS.has(events[start].type)) start++;
  const s = chatFromReplay(sessionId, [...(page.turnStarted ? [page.turnStarted] : []), ...events.slice(start)], title);
  if (page.older) s.partial = true;
  return s;
}

/**
 * The whole session once its older events came: rebuilt from every event this window has (the
 * older ones, the page, what arrived live since), in seq order and each once; turns this window
 * started whose first event has not come yet are kept.
 */
export function chatCompleted(current: ChatSession, events: readonly ReplayEvent[], title?: string): ChatSession {
  // the title: the one given (the Sessions tree's), else the first prompt (a page's may be a later one)
  const s = chatFromReplay(current.sessionId, events, title);
  for (const turn of current.turns) if (!s.turns.some((t) => t.turnId === turn.turnId)) s.turns.push(turn);
  s.rev = Math.max(s.rev, current.rev) + 1;
  return s;
}

/** Which of a session's events this window has: `next` is the seq it expects; `complete` while none is missing. */
export interface Coverage {
  next: number;
  complete: boolean;
}

/** Note an event's seq (a session's events are numbered 1, 2, 3…): a gap means some were not seen here. */
export function cover(c: Coverage | undefined, seq: number | undefined): Coverage | undefined {
  if (typeof seq !== 'number') return c;
  if (!c) return { next: seq + 1, complete: seq === 1 };
  if (seq < c.next) return c;
  return { next: seq + 1, complete: c.complete && seq === c.next };
}

/** The coverage after a replay of the whole session (from seq 1). */
export function coverReplay(events: readonly { seq: number }[]): Coverage {
  return { next: events.reduce((m, e) => Math.max(m, e.seq), 0) + 1, complete: true };
}

/** The tool card an approval request belongs to: the newest one waiting for it in a running turn. */
export function cardAwaiting(s: ChatSession, request: 'edit' | 'command', match?: string): ToolItem | undefined {
  for (const turn of [...s.turns].reverse()) {
    if (turn.finished) continue;
    const waiting = tools(turn).filter((t) => t.approval?.request === request && t.approval.state === 'waiting' && !t.approval.id);
    const exact = match ? waiting.reverse().find((t) => t.approval?.command === match || (t.approval?.path && match.endsWith(t.approval.path))) : undefined;
    if (exact) return exact;
    if (waiting.length) return waiting[waiting.length - 1];
  }
  return undefined;
}

/** Attach the server's request to a card: its buttons now answer it. */
export function attachApproval(s: ChatSession, card: ToolItem, id: string, files?: ApprovalFile[]): void {
  card.approval = { ...(card.approval ?? { request: files ? 'edit' : 'command' }), id, state: 'pending', files };
  if (files?.length && card.tool === 'edit') {
    card.stats = files.reduce((acc, f) => ({ added: acc.added + f.added, removed: acc.removed + f.removed }), { added: 0, removed: 0 });
  }
  const turn = s.turns.find((t) => t.items.includes(card));
  if (turn) touch(s, turn, card);
}

/** Record the user's answer on the card carrying approval `id`. */
export function settleApproval(s: ChatSession, id: string, state: ApprovalState): ToolItem | undefined {
  for (const turn of s.turns) {
    for (const card of tools(turn)) {
      if (card.approval?.id === id) {
        card.approval.state = state;
        touch(s, turn, card);
        return card;
      }
    }
  }
  return undefined;
}

/** The line at the end of a turn: stop reason, tokens, time. */
export function turnFooter(turn: ChatTurn): string {
  if (!turn.finished) return '';
  const parts = [stopReasonLabel(turn.stopReason) || 'finished'];
  const u = turn.usage ?? {};
  const tokIn = typeof u.inputTokens === 'number' ? u.inputTokens : undefined;
  const tokOut = typeof u.outputTokens === 'number' ? u.outputTokens : undefined;
  if (tokIn !== undefined || tokOut !== undefined) parts.push(`${(tokIn ?? 0) + (tokOut ?? 0)} tokens (${tokIn ?? 0} in, ${tokOut ?? 0} out)`);
  if (turn.startedAt !== undefined && turn.finishedAt !== undefined && turn.finishedAt >= turn.startedAt) {
    const s = turn.finishedAt - turn.startedAt;
    parts.push(s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`);
  }
  if (turn.provider) parts.push(turn.provider);
  return parts.join(' · ');
}

/** Why a turn that did not end "done" ended (the server's turn.finished ``error``: what was
 *  declined and how to go on, why it was blocked, the provider's failure), unless an error card
 *  of the turn already says it. */
export function turnWhy(turn: ChatTurn): string {
  const why = turn.finished ? turn.error?.trim() : undefined;
  if (!why) return '';
  const shown = turn.items.some((i) => i.kind === 'error' && (i.text.includes(why) || why.includes(i.text)));
  return shown ? '' : truncate(why, 300);
}

/** The line under a running turn: working, or how long the model has not answered. */
export function turnStatus(turn: ChatTurn): string {
  if (turn.finished) return '';
  const w = turn.waiting;
  if (!w) return 'Working…';
  return `Waiting for the model${w.provider ? ` (${w.provider})` : ''}… ${w.seconds} s`;
}

/** What a thought's fold says: still thinking, or how long the thought is. */
export function thoughtLabel(item: ThoughtItem): string {
  if (!item.done) return 'Thinking…';
  const words = item.text.trim().split(/\s+/).filter(Boolean).length;
  return `Thought (${words} ${words === 1 ? 'word' : 'words'})`;
}

/** What a tool card says in one line (the webview adds the buttons). */
export function toolHeadline(card: ToolItem): string {
  // an edit or command the user has not answered yet, or rejected: titled for that (it did not run)
  const a = card.approval?.state;
  const rejected = card.status === 'declined' || a === 'rejected';
  if ((rejected || ((a === 'waiting' || a === 'pending') && card.status === 'running')) && (card.tool === 'edit' || card.tool === 'command')) {
    const what = card.tool === 'command' ? `command: ${card.target || card.name}` : `${card.name === 'delete_file' ? 'deletion' : 'edit'} of ${card.target || card.name}`;
    const head = `${rejected ? 'Rejected' : 'Proposed'} ${what}`;
    return card.tool === 'edit' && card.stats && !rejected ? `${head} ${statsText(card.stats)}` : head;
  }
  // an edit that failed changed nothing (old text not found, refused): not "Edited"
  if (card.status === 'failed' && card.tool === 'edit') return `Failed ${card.name === 'delete_file' ? 'deletion' : 'edit'} of ${card.target || card.name}`;
  const done = card.status !== 'running';
  const verb: Record<ToolKind, string> = done
    ? { read: 'Read', search: 'Searched', edit: 'Edited', command: 'Ran', other: card.name }
    : { read: 'Reading', search: 'Searching', edit: 'Editing', command: 'Running', other: card.name };
  let head = card.tool === 'other' ? `${card.name}${card.target ? ` ${card.target}` : ''}` : `${verb[card.tool]} ${card.target || card.name}`;
  if (card.tool === 'read' && card.name === 'list_files') head = `${done ? 'Listed' : 'Listing'} ${card.target || '.'}`;
  if (card.tool === 'edit' && card.name === 'delete_file') head = `${done ? 'Deleted' : 'Deleting'} ${card.target}`;
  if (card.tool === 'edit' && card.stats) head += ` ${statsText(card.stats)}`;
  if (card.tool === 'command' && card.exitCode !== undefined) head += ` — exit code ${card.exitCode}`;
  return head;
}

export interface Announcement {
  /** Said once: the page remembers the keys it has announced. */
  key: string;
  text: string;
  /** An approval waits for the user: said at once (role=alert), not after what is being read. */
  urgent?: boolean;
}

/**
 * What a screen reader is told about a turn (the conversation itself is not a live region:
 * each streamed word would be read): it started, it waits for the model, an approval waits
 * for the user, a tool failed, and at its end the answer's last words and how it ended.
 */
export function announcements(turn: ChatTurn): Announcement[] {
  const out: Announcement[] = [{ key: `${turn.turnId}:start`, text: 'MiniCode is working.' }];
  for (const item of turn.items) {
    if (item.kind !== 'tool') continue;
    const a = item.approval;
    if (a?.state === 'pending') {
      const what = a.request === 'edit' ? `Apply this edit? ${(a.files ?? []).map((f) => `${f.path} +${f.added} -${f.removed}`).join(', ') || a.path || ''}` : `Run this command? ${a.command ?? item.target}`;
      out.push({ key: `${item.id}:approval:${a.id}`, text: `Approval needed. ${what.trim()}`, urgent: true });
    }
    if (item.status === 'failed') out.push({ key: `${item.id}:failed`, text: `Failed: ${toolHeadline(item)}` });
  }
  if (turn.waiting) out.push({ key: `${turn.turnId}:waiting:${turn.items.length}`, text: `Waiting for the model${turn.waiting.provider ? ` (${turn.waiting.provider})` : ''}.` });
  if (turn.finished) {
    const last = [...turn.items].reverse().find((i): i is TextItem => i.kind === 'text');
    const answer = last ? truncate(last.text.trim(), 400) : '';
    const why = turnWhy(turn);
    out.push({ key: `${turn.turnId}:end`, text: `${answer ? `${answer} ` : ''}Turn ended: ${turnFooter(turn)}.${why ? ` ${why}` : ''}` });
  }
  return out;
}

/** Outputs longer than this many lines are folded in the card. */
export const FOLD_LINES = 12;

export function isLong(output: string | undefined): boolean {
  return !!output && output.split('\n').length > FOLD_LINES;
}

/** Which session ■ should cancel: the running one (the one shown when several run). */
export function cancelTarget(running: readonly string[], shown?: string, picked?: string): string | undefined {
  if (picked && running.includes(picked)) return picked;
  if (shown && running.includes(shown)) return shown;
  return running.length === 1 ? running[0] : undefined;
}
