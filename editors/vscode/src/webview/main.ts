// The chat view's page (runs in the webview; bundled by esbuild into out/webview.js).
// Renders what the extension posts (model/chat.ts shapes) and posts the user's actions back.
// Markdown goes through markdown-it with raw HTML disabled; everything else is built with
// textContent, never innerHTML from data. The CSP allows only this script (by nonce).
import { createMarkdown } from '../model/markdown';
import type { ChatItem, ChatSession, ChatTurn, ToolItem, TurnPatch } from '../model/chat';
import { applyPatch, isLong, toolHeadline, turnFooter } from '../model/chat';
import { displayPath } from '../model/format';

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
}
const state: State = { session: null, running: false, mode: 'ask', provider: '', server: 'starting', roots: [], fixes: [] };

// paint latency samples (ms from the server's event time to the frame that shows it): the bench reads them
const paint: number[] = [];
/** The part of it after the extension host received the event. */
const paintFromHost: number[] = [];
(window as unknown as { __minicodePaint: number[]; __minicodePaintFromHost: number[] }).__minicodePaint = paint;
(window as unknown as { __minicodePaintFromHost: number[] }).__minicodePaintFromHost = paintFromHost;

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

function button(label: string, onClick: () => void, opts: { icon?: string; cls?: string; title?: string } = {}): HTMLButtonElement {
  const b = el('button', opts.cls ?? 'secondary');
  b.type = 'button';
  if (opts.icon) b.append(icon(opts.icon));
  b.append(document.createTextNode(label));
  if (opts.title) b.title = opts.title;
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
log.setAttribute('aria-live', 'polite');
const empty = el('div', 'empty', 'Ask MiniCode to do something in this workspace. The current file and selection go along as context.');
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
controls.append(modeSel, el('span', 'spacer'), stop, send);
composer.append(input, controls);
app.append(header, log, composer);

/** A prompt was sent and the extension has not answered yet: Enter and Send do nothing. */
let sending = false;

function submit(): void {
  const text = input.value.trim();
  if (!text || state.running || sending) return;
  sending = true;
  send.disabled = true;
  vscode.postMessage({ type: 'send', text, mode: modeSel.value });
  input.value = '';
}
composer.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
modeSel.addEventListener('change', () => vscode.postMessage({ type: 'mode', mode: modeSel.value }));

// ------------------------------------------------------------------ rendering
/** Rendered item elements by id, with the rev they show. */
const rendered = new Map<string, { rev: number; node: HTMLElement }>();
const turnEls = new Map<string, { node: HTMLElement; items: HTMLElement; footer: HTMLElement }>();

function path(uri: string): string {
  return displayPath(uri, state.roots);
}

function renderMarkdown(text: string): HTMLElement {
  const div = el('div', 'markdown');
  div.innerHTML = md.render(text); // markdown-it output, html disabled: no raw HTML from the model
  return div;
}

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

function renderApproval(card: ToolItem, box: HTMLElement): void {
  const a = card.approval!;
  const wrap = el('div', `approval ${a.state}`);
  const open = a.state === 'pending' || a.state === 'waiting';
  if (a.request === 'command' && a.command && open) wrap.append(el('pre', 'command-line', `$ ${a.command}`));
  for (const f of a.files ?? []) {
    const row = el('div', 'file-row');
    row.append(el('span', 'path', f.path), el('span', 'stats', `+${f.added} -${f.removed}`));
    if (a.state === 'pending' && a.id) row.append(button('Open diff', () => vscode.postMessage({ type: 'openApprovalDiff', id: a.id, uri: f.uri }), { icon: 'diff', cls: 'link' }));
    wrap.append(row);
    if (a.state === 'pending') wrap.append(diffBlock(f.diff));
  }
  if (a.state === 'pending' && a.id) {
    const id = a.id;
    const q = el('div', 'question', a.request === 'edit' ? 'Apply this edit?' : 'Run this command?');
    const buttons = el('div', 'buttons');
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
      row.append(button('Open diff', () => vscode.postMessage({ type: 'openDiff', groupId, uri: f.uri }), { icon: 'diff', cls: 'link' }));
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

function renderItem(item: ChatItem): HTMLElement {
  switch (item.kind) {
    case 'text':
      return renderMarkdown(item.text);
    case 'tool':
      return renderTool(item);
    case 'checkpoint': {
      const box = el('div', 'checkpoint');
      box.append(icon('git-commit'), el('span', 'label', `Checkpoint: ${item.files.map((f) => path(f.uri)).join(', ') || 'no files'}`));
      box.append(button('Preview rewind to here', () => vscode.postMessage({ type: 'previewRewind', groupId: item.groupId }), { icon: 'discard', cls: 'link' }));
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

function renderTurn(turn: ChatTurn): void {
  const t = turnEl(turn);
  const promptText = t.node.querySelector('.prompt-text');
  if (promptText && turn.prompt && promptText.textContent !== turn.prompt) promptText.textContent = turn.prompt;
  turn.items.forEach((item, index) => {
    const have = rendered.get(item.id);
    if (have && have.rev === item.rev) return;
    if (have && item.kind === 'text') {
      // streaming text: the same element, new content (no node swap, no layout reset)
      have.node.innerHTML = md.render(item.text);
      have.rev = item.rev;
      return;
    }
    const node = renderItem(item);
    node.dataset.item = item.id;
    node.classList.add('item');
    // keep a folded output open if the user opened it
    const wasOpen = have?.node.querySelector('details')?.open;
    if (wasOpen) node.querySelector('details')?.setAttribute('open', '');
    if (have) have.node.replaceWith(node);
    else {
      const after = t.items.children[index];
      if (after) t.items.insertBefore(node, after);
      else t.items.append(node);
    }
    rendered.set(item.id, { rev: item.rev, node });
  });
  const footer = turnFooter(turn);
  t.footer.textContent = footer || (turn.finished ? '' : 'Working…');
  t.footer.className = `footer ${turn.finished ? `stop-${turn.stopReason ?? 'unknown'}` : 'running'}`;
}

function stickToBottom(): () => void {
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  return () => {
    if (atBottom) log.scrollTop = log.scrollHeight;
  };
}

function renderChrome(): void {
  const s = state.session;
  titleEl.textContent = s?.title ?? 'New chat';
  titleEl.title = s ? `session ${s.sessionId}` : '';
  providerEl.textContent = state.server === 'running' ? state.provider || 'provider: checking…' : `server ${state.server}`;
  send.disabled = state.running || sending;
  stop.hidden = !state.running;
  send.hidden = state.running;
  modeSel.value = state.mode;
  empty.hidden = !!s?.turns.length;
  document.body.dataset.running = String(state.running);
}

function resetLog(): void {
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
  log.replaceChildren(empty, fragment);
  log.scrollTop = log.scrollHeight;
}

/** Turns changed since the last frame, and the server times of the events they carry. */
const dirty = new Set<string>();
let waitingPaint: number[] = [];
let waitingHost: number[] = [];
let frame: number | undefined;

function renderDirty(): void {
  frame = undefined;
  const keep = stickToBottom();
  for (const turn of state.session?.turns ?? []) if (dirty.has(turn.turnId)) renderTurn(turn);
  dirty.clear();
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
      state.session = (m.session as ChatSession) ?? null;
      dirty.clear();
      state.running = !!m.running;
      state.mode = (m.mode as Mode) ?? state.mode;
      state.provider = (m.provider as string) ?? state.provider;
      state.server = (m.server as string) ?? state.server;
      state.roots = (m.roots as string[]) ?? state.roots;
      state.fixes = (m.fixes as State['fixes']) ?? state.fixes;
      renderChrome();
      resetLog();
      requestAnimationFrame(() => {
        document.body.dataset.resetMs = String(Math.round(performance.now() - t0));
        document.body.dataset.timing = JSON.stringify(m.timing ?? null);
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
  }
});

renderChrome();
log.append(empty);
vscode.postMessage({ type: 'ready' });
