// The chat view's page (runs in the webview; bundled by esbuild into out/webview.js).
// Renders what the extension posts (model/chat.ts shapes) and posts the user's actions back.
// Markdown goes through markdown-it with raw HTML disabled; everything else is built with
// textContent, never innerHTML from data. The CSP allows only this script (by nonce).
import { createMarkdown, settledLength } from '../model/markdown';
import type { ChatItem, ChatSession, ChatTurn, ThoughtItem, ToolItem, TurnPatch } from '../model/chat';
import { announcements, applyPatch, isLong, thoughtLabel, toolHeadline, turnFooter, turnStatus, turnWhy } from '../model/chat';
import { displayPath } from '../model/format';
import { insertMention, mentionAt, type MentionItem } from '../model/mentions';
import { RESTRICTED_NOTE } from '../model/trust';

declare function acquireVsCodeApi(): { postMessage(m: unknown): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();
const md = createMarkdown();

type Mode = 'plan' | 'ask' | 'auto';
interface State {
  session: ChatSession | null;
  running: boolean;
  mode: Mode;
  provider: string;
  server: string;
  roots: string[];
  fixes: { name: string; fix: string }[];
  /** VS Code's Workspace Trust: false in Restricted Mode (plan only). */
  trusted: boolean;
}
const state: State = { session: null, running: false, mode: 'ask', provider: '', server: 'starting', roots: [], fixes: [], trusted: true };

// paint latency samples (ms from the server's event time to the frame that shows it): the bench reads them
const paint: number[] = [];
/** The part of it after the extension host received the event. */
const paintFromHost: number[] = [];
(window as unknown as { __minicodePaint: number[]; __minicodePaintFromHost: number[] }).__minicodePaint = paint;
(window as unknown as { __minicodePaintFromHost: number[] }).__minicodePaintFromHost = paintFromHost;
/** Sessions opened (each page of one): the extension host's timing and the render's, for the bench. */
const resets: Record<string, unknown>[] = [];
(window as unknown as { __minicodeResets: Record<string, unknown>[] }).__minicodeResets = resets;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function icon(name: string): HTMLElement {
  const i = el('span', `codicon codicon-${name}`);
  i.setAttribute('aria-hidden', 'true');
  return i;
}

function button(label: string, onClick: () => void, opts: { icon?: string; cls?: string; title?: string; aria?: string } = {}): HTMLButtonElement {
  const b = el('button', opts.cls ?? 'secondary');
  b.type = 'button';
  if (opts.icon) b.append(icon(opts.icon));
  b.append(document.createTextNode(label));
  if (opts.title) b.title = opts.title;
  // several "Open diff" buttons on one page: each says which file
  if (opts.aria) b.setAttribute('aria-label', opts.aria);
  b.addEventListener('click', (e) => {
    e.preventDefault();
    onClick();
  });
  return b;
}

// ------------------------------------------------------------------ layout
const app = document.getElementById('app')!;
const header = el('div', 'header');
const titleEl = el('div', 'title');
const providerEl = el('div', 'provider');
const newChat = button('', () => vscode.postMessage({ type: 'newChat' }), { icon: 'add', cls: 'icon', title: 'New chat' });
newChat.setAttribute('aria-label', 'New chat');
header.append(titleEl, providerEl, newChat);
const log = el('div', 'log');
log.setAttribute('role', 'log');
log.setAttribute('aria-live', 'off');
log.setAttribute('aria-label', 'Conversation');
log.tabIndex = 0; // scrollable with the keyboard
const empty = el('div', 'empty', 'Ask MiniCode to do something in this workspace. The current file and selection go along as context.');
// a long session opens with its newest events; this stands above them until the older ones come
const olderNote = el('div', 'older-loading');
olderNote.setAttribute('role', 'status');
const olderFailed = el('div', 'older-failed', 'Earlier messages could not be loaded (see MiniCode: Show Logs); open the session again to retry.');
const composer = el('form', 'composer');
const input = el('textarea', 'prompt');
input.placeholder = 'Ask MiniCode… (Enter sends, Shift+Enter for a new line)';
input.rows = 3;
input.setAttribute('aria-label', 'Prompt');
const controls = el('div', 'controls');
const modeSel = el('select', 'mode');
modeSel.setAttribute('aria-label', 'Permission mode');
for (const [value, label] of [['plan', 'Plan (read-only)'], ['ask', 'Ask before changes'], ['auto', 'Auto (checkpointed)']] as const) {
  const o = el('option', undefined, label);
  o.value = value;
  modeSel.append(o);
}
const send = button('Send', () => submit(), { icon: 'send', cls: 'primary send' });
const stop = button('Stop', () => vscode.postMessage({ type: 'stop' }), { icon: 'debug-stop', cls: 'secondary stop' });
const mentionButton = button('', () => startMention(), { icon: 'mention', cls: 'icon mention', title: 'Mention a file, the selection or the Problems (@)' });
mentionButton.setAttribute('aria-label', 'Mention a file, the selection or the Problems');
controls.append(modeSel, mentionButton, el('span', 'spacer'), stop, send);
// the suggestions for the `@` being typed (a listbox the prompt controls: arrows move, Enter/Tab pick, Escape closes)
const mentionList = el('div', 'mentions');
mentionList.id = 'mention-list';
mentionList.setAttribute('role', 'listbox');
mentionList.setAttribute('aria-label', 'Files and context to mention');
mentionList.hidden = true;
input.setAttribute('aria-autocomplete', 'list');
input.setAttribute('aria-controls', mentionList.id);
input.setAttribute('aria-expanded', 'false');
// Restricted Mode: what is off, and the way to turn it on
const restricted = el('div', 'restricted');
restricted.setAttribute('role', 'note');
restricted.append(icon('shield'), el('span', 'text', RESTRICTED_NOTE), button('Manage Workspace Trust', () => vscode.postMessage({ type: 'command', command: 'workbench.trust.manage' }), { cls: 'link' }));
restricted.hidden = true;
composer.append(restricted, mentionList, input, controls);
// what a screen reader hears of the turn (the log itself is not live: each streamed word would be read)
const announcer = el('div', 'sr-only');
announcer.setAttribute('role', 'status');
announcer.setAttribute('aria-live', 'polite');
announcer.setAttribute('aria-atomic', 'true');
const alertEl = el('div', 'sr-only');
alertEl.setAttribute('role', 'alert');
app.append(header, log, composer, announcer, alertEl);

/** A prompt was sent and the extension has not answered yet: Enter and Send do nothing. */
let sending = false;

function submit(): void {
  const text = input.value.trim();
  if (!text || state.running || sending) return;
  sending = true;
  send.disabled = true;
  vscode.postMessage({ type: 'send', text, mode: modeSel.value });
  input.value = '';
  closeMentions();
}
composer.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
input.addEventListener('keydown', (e) => {
  if (!mentionList.hidden && !e.isComposing) {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const n = mentionItems.length;
      setActive((activeMention + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
      return;
    }
    if ((e.key === 'Enter' || e.key === 'Tab') && !e.shiftKey) {
      e.preventDefault();
      pickMention(activeMention);
      return;
    }
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      closeMentions();
      return;
    }
  }
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
modeSel.addEventListener('change', () => vscode.postMessage({ type: 'mode', mode: modeSel.value }));

// ------------------------------------------------------------------ @ mentions
let mentionItems: MentionItem[] = [];
let activeMention = 0;
let mentionQuery: { start: number; query: string } | undefined;
let mentionRequest = 0;

function updateMention(): void {
  const at = mentionAt(input.value, input.selectionStart ?? input.value.length);
  if (!at) return closeMentions();
  mentionQuery = at;
  vscode.postMessage({ type: 'mentions', id: ++mentionRequest, query: at.query });
}

/** The @ button: an `@` at the caret (after a space) and its suggestions. */
function startMention(): void {
  const caret = input.selectionStart ?? input.value.length;
  const before = input.value.slice(0, caret);
  const insert = before && !/\s$/.test(before) ? ' @' : '@';
  input.value = before + insert + input.value.slice(caret);
  input.focus();
  input.setSelectionRange(caret + insert.length, caret + insert.length);
  updateMention();
}

function setActive(i: number): void {
  activeMention = i;
  mentionList.querySelectorAll('[role="option"]').forEach((o, k) => {
    o.setAttribute('aria-selected', String(k === i));
    o.classList.toggle('active', k === i);
    if (k === i) (o as HTMLElement).scrollIntoView?.({ block: 'nearest' });
  });
  input.setAttribute('aria-activedescendant', `mention-${i}`);
}

const MENTION_ICON: Record<string, string> = { file: 'file', selection: 'selection', problems: 'warning' };

function showMentions(items: MentionItem[]): void {
  mentionItems = items;
  if (!items.length) return closeMentions();
  mentionList.replaceChildren(
    ...items.map((item, i) => {
      const o = el('div', 'option');
      o.id = `mention-${i}`;
      o.setAttribute('role', 'option');
      o.append(icon(MENTION_ICON[item.kind] ?? 'file'), el('span', 'insert', item.kind === 'file' ? item.insert.slice(item.insert.lastIndexOf('/') + 1) : `@${item.insert}`));
      if (item.detail) o.append(el('span', 'detail', item.detail));
      // a click picks without taking the focus from the prompt
      o.addEventListener('mousedown', (e) => {
        e.preventDefault();
        pickMention(i);
      });
      return o;
    }),
  );
  mentionList.hidden = false;
  input.setAttribute('aria-expanded', 'true');
  setActive(0);
}

function closeMentions(): void {
  mentionQuery = undefined;
  mentionItems = [];
  mentionList.hidden = true;
  mentionList.replaceChildren();
  input.setAttribute('aria-expanded', 'false');
  input.removeAttribute('aria-activedescendant');
}

function pickMention(i: number): void {
  const item = mentionItems[i];
  const at = mentionQuery;
  if (!item || !at) return closeMentions();
  const r = insertMention(input.value, at.start, input.selectionStart ?? input.value.length, item.insert);
  input.value = r.text;
  input.setSelectionRange(r.caret, r.caret);
  closeMentions();
  input.focus();
}

input.addEventListener('input', updateMention);
input.addEventListener('blur', () => setTimeout(() => document.activeElement !== input && closeMentions(), 0));

// ------------------------------------------------------------------ rendering
/** Rendered item elements by id, with the rev they show. */
const rendered = new Map<string, { rev: number; node: HTMLElement }>();
const turnEls = new Map<string, { node: HTMLElement; items: HTMLElement; footer: HTMLElement }>();

function path(uri: string): string {
  return displayPath(uri, state.roots);
}

/**
 * Markdown as two parts: the settled blocks (rendered once, appended to as the text grows) and
 * the tail still being written (re-rendered on each frame): a frame's work stays the size of
 * the tail, not of the whole answer. markdown-it output, html disabled: no raw HTML from the model.
 */
function renderMarkdown(text: string): HTMLElement {
  const div = el('div', 'markdown');
  div.append(el('div', 'md-settled'), el('div', 'md-tail'));
  updateMarkdown(div, text);
  return div;
}

/** How much of each text element's Markdown is in its settled part. */
const settledOf = new WeakMap<HTMLElement, number>();

function updateMarkdown(div: HTMLElement, text: string): void {
  const settled = div.firstElementChild as HTMLElement;
  const tail = div.lastElementChild as HTMLElement;
  let done = settledOf.get(div) ?? 0;
  if (done > text.length) {
    settled.replaceChildren();
    done = 0;
  }
  const n = Math.max(done, settledLength(text));
  if (n > done) settled.insertAdjacentHTML('beforeend', md.render(text.slice(done, n)));
  settledOf.set(div, n);
  tail.innerHTML = md.render(text.slice(n));
}

// Escape anywhere in the conversation: back to the prompt
log.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') {
    e.preventDefault();
    input.focus();
  }
});

// links in the rendered Markdown: file links open through the extension, others not at all
log.addEventListener('click', (e) => {
  const a = (e.target as HTMLElement | null)?.closest?.('.markdown a');
  if (!a) return;
  e.preventDefault();
  const href = a.getAttribute('href') ?? '';
  if (href.startsWith('file:')) vscode.postMessage({ type: 'openFile', uri: href });
});

function diffBlock(diff: string): HTMLElement {
  const pre = el('pre', 'diff');
  for (const line of diff.split('\n')) {
    const cls = line.startsWith('+++') || line.startsWith('---') ? 'meta' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : 'ctx';
    pre.append(el('span', `line ${cls}`, line + '\n'));
  }
  return pre;
}

const TOOL_ICON: Record<string, string> = { read: 'file', search: 'search', edit: 'edit', command: 'terminal', other: 'tools' };

/** Approvals already brought into view (each once: the user may scroll away from it). */
const revealed = new Set<string>();
/** Cards of approvals rendered since the last reveal, not brought into view yet (no query of the whole log per frame). */
const toReveal = new Map<string, HTMLElement>();

function renderApproval(card: ToolItem, box: HTMLElement): void {
  const a = card.approval!;
  const wrap = el('div', `approval ${a.state}`);
  const open = a.state === 'pending' || a.state === 'waiting';
  if (a.request === 'command' && a.command && open) wrap.append(el('pre', 'command-line', `$ ${a.command}`));
  for (const f of a.files ?? []) {
    const row = el('div', 'file-row');
    row.append(el('span', 'path', f.path), el('span', 'stats', `+${f.added} -${f.removed}`));
    if (a.state === 'pending' && a.id) row.append(button('Open diff', () => vscode.postMessage({ type: 'openApprovalDiff', id: a.id, uri: f.uri }), { icon: 'diff', cls: 'link', aria: `Open diff of ${f.path}` }));
    wrap.append(row);
    if (a.state === 'pending') wrap.append(diffBlock(f.diff));
  }
  if (a.state === 'pending' && a.id) {
    const id = a.id;
    box.dataset.approval = id;
    if (!revealed.has(id)) toReveal.set(id, box); // the newest rendering of its card
    const q = el('div', 'question', a.request === 'edit' ? 'Apply this edit?' : 'Run this command?');
    const buttons = el('div', 'buttons');
    buttons.setAttribute('role', 'group');
    buttons.setAttribute('aria-label', q.textContent ?? '');
    const approve = button('Approve', () => vscode.postMessage({ type: 'decide', id, decision: 'approve' }), { icon: 'check', cls: 'primary approve' });
    buttons.append(
      approve,
      button('Reject', () => vscode.postMessage({ type: 'decide', id, decision: 'reject' }), { icon: 'close', cls: 'secondary reject' }),
      button('Allow for this session', () => vscode.postMessage({ type: 'decide', id, decision: 'session' }), { cls: 'secondary session' }),
    );
    wrap.append(q, buttons);
  } else if (a.state === 'waiting') {
    wrap.append(el('div', 'question', 'Waiting for the approval request…'));
  } else {
    const said: Record<string, string> = { approved: 'Approved', session: 'Allowed for this session', rejected: 'Rejected', cancelled: 'Withdrawn (the turn ended)' };
    wrap.append(el('div', `verdict ${a.state}`, said[a.state] ?? a.state));
  }
  box.append(wrap);
}

function renderTool(card: ToolItem): HTMLElement {
  const box = el('div', `card tool ${card.tool} ${card.status}${card.approval?.state === 'pending' ? ' needs-you' : ''}`);
  box.dataset.tool = card.name;
  const head = el('div', 'card-head');
  head.append(icon(card.status === 'running' ? 'loading codicon-modifier-spin' : TOOL_ICON[card.tool] ?? 'tools'));
  head.append(el('span', 'headline', toolHeadline(card)));
  if (card.status === 'failed') head.append(el('span', 'badge failed', 'failed'));
  else if (card.status === 'declined') head.append(el('span', 'badge declined', 'rejected'));
  else if (card.status === 'ok' && card.tool === 'command') head.append(el('span', 'badge ok', 'ok'));
  box.append(head);
  if (card.approval) renderApproval(card, box);
  if (card.groupId && card.files?.length && card.tool === 'edit') {
    for (const f of card.files) {
      const row = el('div', 'file-row');
      row.append(el('span', 'path', `${f.action} ${path(f.uri)}`));
      const groupId = card.groupId;
      row.append(button('Open diff', () => vscode.postMessage({ type: 'openDiff', groupId, uri: f.uri }), { icon: 'diff', cls: 'link', aria: `Open diff of ${path(f.uri)}` }));
      box.append(row);
    }
  }
  if (card.output && (card.tool === 'command' || card.status === 'failed') && card.status !== 'declined') {
    const pre = el('pre', 'output', card.output);
    if (isLong(card.output)) {
      const det = el('details', 'fold');
      det.append(el('summary', undefined, `Output (${card.output.split('\n').length} lines)`), pre);
      box.append(det);
    } else box.append(pre);
  }
  return box;
}

/** The model's reasoning: folded (a <details> the keyboard opens with Enter/Space). */
function renderThought(item: ThoughtItem): HTMLElement {
  const det = el('details', 'thought');
  const summary = el('summary');
  summary.append(icon(item.done ? 'lightbulb' : 'loading codicon-modifier-spin'), el('span', 'label', thoughtLabel(item)));
  det.append(summary, el('div', 'thought-text', item.text));
  return det;
}

function updateThought(node: HTMLElement, item: ThoughtItem): void {
  const label = node.querySelector('summary .label');
  if (label) label.textContent = thoughtLabel(item);
  const text = node.querySelector('.thought-text');
  if (text) text.textContent = item.text;
  if (item.done) node.querySelector('summary .codicon')?.setAttribute('class', 'codicon codicon-lightbulb');
}

function renderItem(item: ChatItem): HTMLElement {
  switch (item.kind) {
    case 'text':
      return renderMarkdown(item.text);
    case 'thought':
      return renderThought(item);
    case 'tool':
      return renderTool(item);
    case 'checkpoint': {
      const box = el('div', 'checkpoint');
      box.append(icon('git-commit'), el('span', 'label', `Checkpoint: ${item.files.map((f) => path(f.uri)).join(', ') || 'no files'}`));
      const label = item.files.map((f) => path(f.uri)).join(', ') || 'no files';
      box.append(button('Preview rewind to here', () => vscode.postMessage({ type: 'previewRewind', groupId: item.groupId }), { icon: 'discard', cls: 'link', aria: `Preview rewind to here (${label})` }));
      return box;
    }
    case 'error': {
      const box = el('div', 'card error');
      box.append(icon('error'), el('span', 'headline', item.text));
      if (item.hint) box.append(el('div', 'hint', item.hint));
      // what readiness says to fix, when it has something
      for (const f of state.fixes.slice(0, 3)) box.append(el('div', 'hint fix', `Fix (${f.name}): ${f.fix}`));
      const b = el('div', 'buttons');
      b.append(button('Show Readiness', () => vscode.postMessage({ type: 'command', command: 'minicode.showReadiness' }), { cls: 'secondary' }));
      b.append(button('Show Logs', () => vscode.postMessage({ type: 'command', command: 'minicode.showLogs' }), { cls: 'secondary' }));
      box.append(b);
      return box;
    }
    default:
      return el('div', 'note', item.text);
  }
}

/** Where new turns go: the log, or a fragment while a whole session is rendered at once. */
let mount: ParentNode = log;

function turnEl(turn: ChatTurn): { node: HTMLElement; items: HTMLElement; footer: HTMLElement } {
  let t = turnEls.get(turn.turnId);
  if (!t) {
    const node = el('section', 'turn');
    node.dataset.turn = turn.turnId;
    const prompt = el('div', 'user');
    prompt.append(el('div', 'who', 'You'), el('div', 'prompt-text', turn.prompt ?? ''));
    const items = el('div', 'items');
    const footer = el('div', 'footer');
    node.append(prompt, items, footer);
    mount.append(node);
    t = { node, items, footer };
    turnEls.set(turn.turnId, t);
  }
  return t;
}

function keepFocus(was: HTMLElement, node: HTMLElement): void {
  const same = Array.from(node.querySelectorAll('button, summary')).find((b) => b.className === was.className && b.textContent === was.textContent) as HTMLElement | undefined;
  (same ?? (document.querySelector('.needs-you button.approve') as HTMLElement | null) ?? input).focus();
}

function renderTurn(turn: ChatTurn): void {
  const t = turnEl(turn);
  const promptText = t.node.querySelector('.prompt-text');
  if (promptText && turn.prompt && promptText.textContent !== turn.prompt) promptText.textContent = turn.prompt;
  turn.items.forEach((item, index) => {
    const have = rendered.get(item.id);
    if (have && have.rev === item.rev) return;
    if (have && item.kind === 'text') {
      // streaming text: the same element, new content (no node swap, no layout reset)
      updateMarkdown(have.node, item.text);
      have.rev = item.rev;
      return;
    }
    if (have && item.kind === 'thought') {
      updateThought(have.node, item); // folded or open as the user left it
      have.rev = item.rev;
      return;
    }
    const node = renderItem(item);
    node.dataset.item = item.id;
    node.classList.add('item');
    // keep a folded output open if the user opened it
    const wasOpen = have?.node.querySelector('details')?.open;
    if (wasOpen) node.querySelector('details')?.setAttribute('open', '');
    const focused = have?.node.contains(document.activeElement) ? (document.activeElement as HTMLElement) : undefined;
    if (have) have.node.replaceWith(node);
    // the focus stays on the same button of the card re-rendered; an approval answered with
    // the keyboard (its buttons gone) passes it to the next approval waiting, else the prompt
    if (focused) keepFocus(focused, node);
    else {
      const after = t.items.children[index];
      if (after) t.items.insertBefore(node, after);
      else t.items.append(node);
    }
    rendered.set(item.id, { rev: item.rev, node });
  });
  const footer = turnFooter(turn) || turnStatus(turn);
  t.footer.textContent = footer;
  t.footer.className = `footer ${turn.finished ? `stop-${turn.stopReason ?? 'unknown'}` : turn.waiting ? 'running waiting' : 'running'}`;
  if (turn.waiting) t.footer.prepend(icon('watch'));
  const why = turnWhy(turn);
  if (why) t.footer.append(el('div', 'why', why));
  t.node.setAttribute('aria-busy', String(!turn.finished));
}

function stickToBottom(): () => void {
  const following = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  return () => {
    if (following) log.scrollTop = log.scrollHeight;
    revealApproval();
  };
}


/**
 * A pending approval that just arrived: scrolled so its card (or, for a card taller than the
 * view, its question and buttons) is in view, once: a diff pushes the buttons below the visible
 * part, and the agent waits on the answer. Also when the view was not following the bottom (a
 * user who scrolled up, or an earlier approval's reveal that left the bottom): the workbench
 * e2e found the second approval of a turn out of view when this was only done while following.
 */
function revealApproval(): void {
  const fresh = [...toReveal].filter(([, c]) => c.isConnected);
  toReveal.clear();
  for (const [id] of fresh) revealed.add(id);
  const card = fresh[0]?.[1];
  if (!card) return;
  card.scrollIntoView({ block: 'nearest' });
  card.querySelector('.approval .buttons')?.scrollIntoView({ block: 'nearest' });
}

function renderChrome(): void {
  const s = state.session;
  titleEl.textContent = s?.title ?? 'New chat';
  titleEl.title = s ? `session ${s.sessionId}` : '';
  providerEl.textContent = state.server === 'running' ? state.provider || 'provider: checking…' : `server ${state.server}`;
  send.disabled = state.running || sending;
  stop.hidden = !state.running;
  send.hidden = state.running;
  modeSel.value = state.trusted ? state.mode : 'plan';
  modeSel.disabled = !state.trusted;
  modeSel.title = state.trusted ? '' : RESTRICTED_NOTE;
  restricted.hidden = state.trusted;
  empty.hidden = !!s?.turns.length;
  document.body.dataset.running = String(state.running);
}

function resetLog(keepScroll = false): void {
  rendered.clear();
  turnEls.clear();
  // built off-document, attached once: one layout for the whole session
  const fragment = document.createDocumentFragment();
  mount = fragment;
  try {
    for (const turn of state.session?.turns ?? []) renderTurn(turn);
  } finally {
    mount = log;
  }
  // the view at the bottom (the newest), or, when older turns came above, where the user was
  const fromBottom = keepScroll ? log.scrollHeight - log.scrollTop : 0;
  const partial = state.session?.partial;
  if (partial === true) olderNote.replaceChildren(icon('loading codicon-modifier-spin'), el('span', undefined, 'Loading earlier messages…'));
  log.replaceChildren(empty, ...(partial === 'failed' ? [olderFailed] : partial ? [olderNote] : []), fragment);
  log.scrollTop = keepScroll ? log.scrollHeight - fromBottom : log.scrollHeight;
  revealApproval();
}

/** Turns changed since the last frame, and the server times of the events they carry. */
const dirty = new Set<string>();
let waitingPaint: number[] = [];
let waitingHost: number[] = [];
let frame: number | undefined;

/** Announcements already made (a session opened from the store announces nothing). */
const announced = new Set<string>();

function announce(turns: readonly ChatTurn[], silently = false): void {
  const polite: string[] = [];
  const urgent: string[] = [];
  for (const turn of turns) {
    for (const a of announcements(turn)) {
      if (announced.has(a.key)) continue;
      announced.add(a.key);
      // an approval waiting for the user is said even in a session just opened
      if (a.urgent) urgent.push(a.text);
      else if (!silently) polite.push(a.text);
    }
  }
  if (polite.length) announcer.textContent = polite.join(' ');
  if (urgent.length) alertEl.textContent = urgent.join(' ');
}

function renderDirty(): void {
  frame = undefined;
  const keep = stickToBottom();
  const changed: ChatTurn[] = [];
  for (const turn of state.session?.turns ?? []) if (dirty.has(turn.turnId)) {
    renderTurn(turn);
    changed.push(turn);
  }
  dirty.clear();
  announce(changed);
  renderChrome();
  keep();
  const times = waitingPaint;
  const hostTimes = waitingHost;
  waitingPaint = [];
  waitingHost = [];
  // after this frame is painted
  if (times.length || hostTimes.length) setTimeout(() => {
    const now = Date.now();
    for (const at of times) paint.push(now - at * 1000);
    for (const recv of hostTimes) paintFromHost.push(now - recv);
  }, 0);
}

window.addEventListener('message', (event: MessageEvent) => {
  const m = event.data as Record<string, unknown>;
  switch (m.type) {
    case 'reset': {
      const t0 = performance.now();
      const receivedAt = Date.now();
      const shownBefore = state.session?.sessionId;
      state.session = (m.session as ChatSession) ?? null;
      dirty.clear();
      state.running = !!m.running;
      state.mode = (m.mode as Mode) ?? state.mode;
      state.provider = (m.provider as string) ?? state.provider;
      state.server = (m.server as string) ?? state.server;
      state.roots = (m.roots as string[]) ?? state.roots;
      state.fixes = (m.fixes as State['fixes']) ?? state.fixes;
      state.trusted = m.trusted !== false;
      const nowShown = state.session?.sessionId;
      renderChrome();
      // the same session again, older turns added above: the view keeps its place
      resetLog(!!m.keepScroll && nowShown === shownBefore);
      // a session opened from the store is not read out; its running turn is
      const turns = state.session?.turns ?? [];
      announce(turns.filter((t) => t.finished), true);
      announce(turns.filter((t) => !t.finished));
      requestAnimationFrame(() => {
        document.body.dataset.resetMs = String(Math.round(performance.now() - t0));
        document.body.dataset.timing = JSON.stringify(m.timing ?? null);
        if (m.timing) resets.push({ renderMs: Math.round(performance.now() - t0), receivedAt, paintedAt: Date.now(), ...(m.timing as object) });
        document.body.dataset.sessionShown = state.session?.sessionId ?? '';
      });
      break;
    }
    case 'turns': {
      if (!state.session || state.session.sessionId !== m.sessionId) break;
      // the model applied now, the DOM once per frame: a backlog of messages (a busy page)
      // collapses into one render instead of re-rendering the text for each
      for (const patch of m.turns as TurnPatch[]) dirty.add(applyPatch(state.session, patch).turnId);
      if (typeof m.title === 'string') state.session.title = m.title;
      state.running = !!m.running;
      if (typeof m.at === 'number') waitingPaint.push(m.at);
      if (typeof m.recv === 'number') waitingHost.push(m.recv);
      frame ??= requestAnimationFrame(renderDirty);
      break;
    }
    case 'sent':
      sending = false;
      renderChrome();
      break;
    case 'running':
      state.running = !!m.running;
      renderChrome();
      break;
    case 'provider':
      state.provider = String(m.provider ?? '');
      state.fixes = (m.fixes as State['fixes']) ?? state.fixes;
      renderChrome();
      break;
    case 'server':
      state.server = String(m.state ?? '');
      renderChrome();
      break;
    case 'focus':
      input.focus();
      break;
    case 'trusted':
      state.trusted = true;
      renderChrome();
      break;
    case 'mentionItems':
      if (m.id === mentionRequest && mentionQuery) showMentions(m.items as MentionItem[]);
      break;
  }
});

renderChrome();
log.append(empty);
vscode.postMessage({ type: 'ready' });
