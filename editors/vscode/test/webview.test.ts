// @vitest-environment jsdom
// The chat view's page (src/webview/main.ts) in a DOM: `@` mentions, the keyboard (Enter,
// Shift+Enter, arrows, Tab, Escape), what a screen reader hears, the labels of the buttons,
// thoughts folded, the waiting indicator. The real workbench runs it in test/e2e/e2e.js.
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { newChat, reduceEvent, startChatTurn, type ChatSession } from '../src/model/chat';
import type { MinicodeEvent } from '../src/protocol';

const posted: Record<string, unknown>[] = [];
let input: HTMLTextAreaElement;

function deliver(data: unknown): void {
  window.dispatchEvent(new MessageEvent('message', { data }));
}
const frame = () => new Promise((r) => setTimeout(r, 20));
const key = (target: Element, k: string, opts: KeyboardEventInit = {}) => target.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...opts }));
function type(text: string): void {
  input.value = text;
  input.setSelectionRange(text.length, text.length);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}
let seq = 0;
const ev = (type: string, data: Record<string, unknown> = {}): MinicodeEvent => ({ sessionId: 's1', turnId: 't1', seq: seq++, type, data });

function session(events: [string, Record<string, unknown>?][]): ChatSession {
  const s = newChat('s1');
  startChatTurn(s, 't1', 'fix calc', 'ask');
  for (const [type, data] of events) reduceEvent(s, ev(type, data));
  return s;
}

function show(s: ChatSession | null, running = true): void {
  deliver({ type: 'reset', session: s, running, mode: 'ask', provider: 'local · m', server: 'running', roots: ['file:///ws'], fixes: [] });
}
/** The turns of `s` as the extension posts them after a change. */
function update(s: ChatSession, running = true): void {
  deliver({ type: 'turns', sessionId: s.sessionId, turns: s.turns.map(({ items, ...rest }) => ({ ...rest, count: items.length, changed: items.map((it, i) => [i, it]) })), running });
}

beforeAll(async () => {
  document.body.innerHTML = '<div id="app"></div>';
  (globalThis as Record<string, unknown>).acquireVsCodeApi = () => ({ postMessage: (m: Record<string, unknown>) => posted.push(m), getState: () => undefined, setState: () => undefined });
  globalThis.requestAnimationFrame ??= ((cb: FrameRequestCallback) => setTimeout(() => cb(performance.now()), 0)) as unknown as typeof requestAnimationFrame;
  Element.prototype.scrollIntoView ??= () => undefined;
  await import('../src/webview/main');
  input = document.querySelector('textarea.prompt')!;
});

beforeEach(() => {
  posted.length = 0;
  seq = 0;
  show(null, false);
  input.value = '';
});

describe('the chat page: @ mentions', () => {
  it('typing @ asks for suggestions; arrows move, Enter picks (and does not send)', async () => {
    type('why does @ca');
    const q = posted.find((m) => m.type === 'mentions');
    expect(q).toMatchObject({ query: 'ca' });
    deliver({ type: 'mentionItems', id: q!.id, items: [
      { kind: 'file', insert: 'src/calc.py', detail: 'src' },
      { kind: 'file', insert: 'tests/test_calc.py', detail: 'tests' },
    ] });
    const list = document.getElementById('mention-list')!;
    expect(list.hidden).toBe(false);
    expect(list.getAttribute('role')).toBe('listbox');
    expect(input.getAttribute('aria-expanded')).toBe('true');
    expect(input.getAttribute('aria-activedescendant')).toBe('mention-0');
    key(input, 'ArrowDown');
    expect(document.getElementById('mention-1')!.getAttribute('aria-selected')).toBe('true');
    key(input, 'ArrowDown'); // wraps
    key(input, 'ArrowUp');
    key(input, 'Enter');
    expect(input.value).toBe('why does @tests/test_calc.py ');
    expect(list.hidden).toBe(true);
    expect(posted.some((m) => m.type === 'send')).toBe(false);
  });

  it('Escape closes the suggestions and keeps the text; an answer for an older query is ignored', async () => {
    type('see @RE');
    const first = posted.find((m) => m.type === 'mentions')!;
    type('see @REA');
    deliver({ type: 'mentionItems', id: first.id, items: [{ kind: 'file', insert: 'old.md' }] });
    expect(document.getElementById('mention-list')!.hidden).toBe(true);
    const last = posted.filter((m) => m.type === 'mentions').pop()!;
    deliver({ type: 'mentionItems', id: last.id, items: [{ kind: 'file', insert: 'README.md' }] });
    expect(document.getElementById('mention-list')!.hidden).toBe(false);
    key(input, 'Escape');
    expect(document.getElementById('mention-list')!.hidden).toBe(true);
    expect(input.value).toBe('see @REA');
  });

  it('the @ button starts a mention at the caret; Tab picks the selection', () => {
    type('explain');
    (document.querySelector('button.mention') as HTMLButtonElement).click();
    expect(input.value).toBe('explain @');
    const q = posted.filter((m) => m.type === 'mentions').pop()!;
    deliver({ type: 'mentionItems', id: q.id, items: [{ kind: 'selection', insert: 'selection', detail: 'lines 2–3 of calc.py' }] });
    key(input, 'Tab');
    expect(input.value).toBe('explain @selection ');
  });
});

describe('the chat page: keyboard', () => {
  it('Enter sends, Shift+Enter does not; Escape in the conversation goes back to the prompt', () => {
    type('fix @src/calc.py');
    key(input, 'Enter', { shiftKey: true });
    expect(posted.some((m) => m.type === 'send')).toBe(false);
    key(input, 'Enter');
    expect(posted.find((m) => m.type === 'send')).toMatchObject({ text: 'fix @src/calc.py', mode: 'ask' });
    const log = document.querySelector('.log') as HTMLElement;
    log.focus();
    key(log, 'Escape');
    expect(document.activeElement).toBe(input);
  });

  it('an approval answered with the keyboard hands the focus to the prompt, not to the page', async () => {
    const s = session([
      ['turn.started', { prompt: 'fix calc' }],
      ['tool.started', { toolCallId: 'c1', name: 'run_command', arguments: { command: 'make test' } }],
      ['approval.requested', { toolCallId: 'c1', kind: 'command', command: 'make test' }],
    ]);
    const card = s.turns[0].items[0] as import('../src/model/chat').ToolItem;
    card.approval = { ...card.approval!, id: 'a1', state: 'pending' };
    card.rev = ++s.rev;
    show(s);
    const approve = document.querySelector('.needs-you button.approve') as HTMLButtonElement;
    approve.focus();
    approve.click();
    expect(posted.find((m) => m.type === 'decide')).toEqual({ type: 'decide', id: 'a1', decision: 'approve' });
    card.approval = { ...card.approval, state: 'approved' };
    card.rev = ++s.rev;
    update(s);
    await frame();
    expect(document.querySelector('.needs-you')).toBeNull();
    expect(document.activeElement).toBe(input);
  });
});

describe('the chat page: an approval that arrives', () => {
  /** A running turn with an edit card; its approval (with a diff) is attached by `pending`. */
  function editTurn(): { s: ChatSession; pending: (id: string) => void } {
    const s = session([
      ['turn.started', { prompt: 'fix calc' }],
      ['text.delta', { text: 'Adding mul().' }],
      ['tool.started', { toolCallId: 'e1', name: 'edit_file', arguments: { path: 'calc.py', old_text: 'a\n', new_text: 'a\nb\n' } }],
      ['approval.requested', { toolCallId: 'e1', kind: 'edit', path: 'calc.py' }],
    ]);
    const pending = (id: string) => {
      const card = s.turns[0].items.filter((i) => i.kind === 'tool').pop() as import('../src/model/chat').ToolItem;
      card.approval = { ...card.approval!, id, state: 'pending', files: [{ uri: 'file:///ws/calc.py', path: 'calc.py', action: 'modify', added: 1, removed: 0, diff: '--- a/calc.py\n+++ b/calc.py\n@@ -1 +1,2 @@\n a\n+b' }] };
      card.rev = ++s.rev;
    };
    return { s, pending };
  }
  /** The log's scroll geometry (jsdom lays nothing out): `top` is where the user scrolled to. */
  function geometry(log: HTMLElement, height: number, client: number, top: number): () => number {
    let scrollTop = top;
    Object.defineProperty(log, 'scrollHeight', { configurable: true, get: () => height });
    Object.defineProperty(log, 'clientHeight', { configurable: true, get: () => client });
    Object.defineProperty(log, 'scrollTop', { configurable: true, get: () => scrollTop, set: (v: number) => { scrollTop = Math.max(0, Math.min(v, height - client)); } });
    return () => scrollTop;
  }
  const log = () => document.querySelector('.log') as HTMLElement;
  afterEach(() => {
    vi.restoreAllMocks();
    for (const p of ['scrollHeight', 'clientHeight', 'scrollTop']) delete (log() as unknown as Record<string, unknown>)[p];
  });

  it('scrolls its card and Approve / Reject into view when the view follows the bottom', async () => {
    const { s, pending } = editTurn();
    show(s);
    await frame();
    geometry(log(), 900, 300, 600); // at the bottom
    const scrolled: Element[] = [];
    vi.spyOn(Element.prototype, 'scrollIntoView').mockImplementation(function (this: Element) {
      scrolled.push(this);
    });
    pending('r1');
    update(s);
    await frame();
    const card = document.querySelector('.card.needs-you') as HTMLElement;
    expect(card).not.toBeNull();
    expect(scrolled).toContain(card);
    // the last scroll brings the action row in (a card taller than the view: its buttons win)
    expect(scrolled[scrolled.length - 1]).toBe(card.querySelector('.approval .buttons'));
    expect(scrolled[scrolled.length - 1].querySelector('button.approve')).not.toBeNull();
    // once: another render (more events) does not pull the view back to it
    scrolled.length = 0;
    reduceEvent(s, ev('thought.delta', { text: 'meanwhile' }));
    update(s);
    await frame();
    expect(scrolled).toEqual([]);
  });

  it('brings an approval into view even when the view is not at the bottom (the agent waits on the answer)', async () => {
    const { s, pending } = editTurn();
    show(s);
    await frame();
    const top = geometry(log(), 900, 300, 100); // scrolled up: not following the newest part
    const spy = vi.spyOn(Element.prototype, 'scrollIntoView').mockImplementation(() => undefined);
    pending('r2');
    update(s);
    await frame();
    expect(spy.mock.contexts).toContain(document.querySelector('.card.needs-you .approval .buttons'));
    expect(top()).toBe(100); // not sent to the bottom: only the approval is brought in
  });

  it('a session opened with an approval pending shows its buttons', async () => {
    const { s, pending } = editTurn();
    pending('r3');
    const spy = vi.spyOn(Element.prototype, 'scrollIntoView').mockImplementation(() => undefined);
    show(s);
    await frame();
    expect(spy.mock.contexts).toContain(document.querySelector('.card.needs-you .approval .buttons'));
  });
});

describe('the chat page: what a screen reader hears', () => {
  it('the streaming log is not live; the status says working, an approval is an alert, the end reads the answer', async () => {
    const log = document.querySelector('[role="log"]')!;
    expect(log.getAttribute('aria-live')).toBe('off');
    const status = document.querySelector('[role="status"]')!;
    const alert = document.querySelector('[role="alert"]')!;
    const s = session([['turn.started', { prompt: 'fix calc' }]]);
    show(s);
    reduceEvent(s, ev('text.delta', { text: 'I will run the tests.' }));
    update(s);
    await frame();
    expect(status.textContent).toBe('MiniCode is working.');
    expect(document.querySelector('.turn')!.getAttribute('aria-busy')).toBe('true');
    reduceEvent(s, ev('tool.started', { toolCallId: 'c1', name: 'run_command', arguments: { command: 'make test' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'c1', kind: 'command', command: 'make test' }));
    const card = s.turns[0].items[1] as import('../src/model/chat').ToolItem;
    card.approval = { ...card.approval!, id: 'a1', state: 'pending' };
    card.rev = ++s.rev;
    update(s);
    await frame();
    expect(alert.textContent).toBe('Approval needed. Run this command? make test');
    reduceEvent(s, ev('tool.finished', { toolCallId: 'c1', name: 'run_command', output: 'FAILED\n[exit code 1]' }));
    reduceEvent(s, ev('text.delta', { text: 'The tests fail.' }));
    reduceEvent(s, ev('turn.finished', { stopReason: 'done' }));
    update(s, false);
    await frame();
    expect(status.textContent).toContain('Failed: Ran make test — exit code 1');
    expect(status.textContent).toContain('The tests fail. Turn ended: done');
    expect(document.querySelector('.turn')!.getAttribute('aria-busy')).toBe('false');
  });

  it('a session opened from the store announces nothing', async () => {
    const status = document.querySelector('[role="status"]')!;
    status.textContent = '';
    show(session([['turn.started', { prompt: 'old' }], ['text.delta', { text: 'old answer' }], ['turn.finished', { stopReason: 'done' }]]), false);
    await frame();
    expect(status.textContent).toBe('');
  });

  it('every button has a name, and the "Open diff" buttons say which file', async () => {
    const s = session([
      ['turn.started', { prompt: 'fix calc' }],
      ['tool.started', { toolCallId: 'c1', name: 'edit_file', arguments: { path: 'calc.py', old_text: 'a', new_text: 'b' } }],
      ['tool.finished', { toolCallId: 'c1', name: 'edit_file' }],
      ['files.changed', { groupId: 'g1', files: [{ uri: 'file:///ws/calc.py', action: 'modify' }] }],
      ['tool.started', { toolCallId: 'c2', name: 'write_file', arguments: { path: 'util.py', content: 'x\n' } }],
      ['tool.finished', { toolCallId: 'c2', name: 'write_file' }],
      ['files.changed', { groupId: 'g2', files: [{ uri: 'file:///ws/util.py', action: 'create' }] }],
      ['turn.finished', { stopReason: 'done' }],
    ]);
    show(s, false);
    await frame();
    const buttons = Array.from(document.querySelectorAll('button')).filter((b) => !b.hidden);
    for (const b of buttons) expect((b.getAttribute('aria-label') ?? b.textContent ?? '').trim(), b.outerHTML).not.toBe('');
    const diffs = buttons.filter((b) => b.textContent === 'Open diff').map((b) => b.getAttribute('aria-label'));
    expect(diffs).toEqual(['Open diff of calc.py', 'Open diff of util.py']);
    const rewinds = buttons.filter((b) => b.textContent === 'Preview rewind to here').map((b) => b.getAttribute('aria-label'));
    expect(rewinds).toEqual(['Preview rewind to here (calc.py)', 'Preview rewind to here (util.py)']);
  });
});

describe('the chat page: thoughts and waiting', () => {
  it('the model\'s reasoning is folded; the footer says how long the model has not answered', async () => {
    const s = session([['turn.started', { prompt: 'fix calc' }], ['model.waiting', { seconds: 15, provider: 'ollama' }]]);
    show(s);
    await frame();
    const footer = document.querySelector('.turn .footer')!;
    expect(footer.textContent).toBe('Waiting for the model (ollama)… 15 s');
    reduceEvent(s, ev('thought.delta', { text: 'The sign is wrong' }));
    update(s);
    await frame();
    expect(footer.textContent).toBe('Working…');
    const det = document.querySelector('details.thought') as HTMLDetailsElement;
    expect(det.open).toBe(false);
    expect(det.querySelector('summary')!.textContent).toBe('Thinking…');
    det.open = true; // the user opens it: it stays open as the thought goes on
    reduceEvent(s, ev('thought.delta', { text: ' in add.' }));
    reduceEvent(s, ev('text.delta', { text: 'Fixed.' }));
    update(s);
    await frame();
    const again = document.querySelector('details.thought') as HTMLDetailsElement;
    expect(again.open).toBe(true);
    expect(again.querySelector('.thought-text')!.textContent).toBe('The sign is wrong in add.');
    expect(again.querySelector('summary')!.textContent).toBe('Thought (6 words)');
  });
});

describe('the chat page: the end of a turn', () => {
  it('a turn that ended blocked says why under its footer; a finished turn says nothing more', async () => {
    const why = 'You declined the command `rm -rf build`. To go on, say what to do instead.';
    const s = session([['turn.started', { prompt: 'clean up' }], ['turn.finished', { stopReason: 'blocked', error: why }]]);
    show(s, false);
    await frame();
    const footer = document.querySelector('.turn .footer')!;
    expect(footer.classList.contains('stop-blocked')).toBe(true);
    expect(footer.querySelector('.why')?.textContent).toBe(why);
    const done = session([['turn.started', { prompt: 'p' }], ['turn.finished', { stopReason: 'done' }]]);
    show(done, false);
    await frame();
    expect(document.querySelector('.turn .footer .why')).toBeNull();
  });
});

describe('the chat page: Restricted Mode', () => {
  it('the mode picker is held at plan with a note saying what is off and how to trust', () => {
    deliver({ type: 'reset', session: null, running: false, mode: 'auto', provider: '', server: 'running', roots: [], fixes: [], trusted: false });
    const mode = document.querySelector('select.mode') as HTMLSelectElement;
    expect(mode.value).toBe('plan');
    expect(mode.disabled).toBe(true);
    const note = document.querySelector('.restricted') as HTMLElement;
    expect(note.hidden).toBe(false);
    expect(note.textContent).toContain('only reads (plan mode)');
    (Array.from(note.querySelectorAll('button')).find((b) => b.textContent === 'Manage Workspace Trust') as HTMLButtonElement).click();
    expect(posted.pop()).toEqual({ type: 'command', command: 'workbench.trust.manage' });
    deliver({ type: 'trusted' });
    expect(mode.disabled).toBe(false);
    expect(mode.value).toBe('auto');
    expect(note.hidden).toBe(true);
  });
});

describe('the chat page: streaming', () => {
  it('a settled paragraph is rendered once: more text re-renders only the tail', async () => {
    const s = session([['turn.started', { prompt: 'p' }], ['text.delta', { text: 'First paragraph.\n\nSecond is bei' }]]);
    show(s);
    await frame();
    const first = document.querySelector('.markdown .md-settled p')!;
    expect(first.textContent).toBe('First paragraph.');
    reduceEvent(s, ev('text.delta', { text: 'ng written.\n\n```py\nx = 1\n' }));
    update(s);
    await frame();
    expect(document.querySelector('.markdown .md-settled p')).toBe(first); // the same element
    expect(document.querySelector('.markdown')!.textContent).toContain('Second is being written.');
    expect(document.querySelector('.markdown .md-tail code')!.textContent).toContain('x = 1');
  });
});

describe('the chat page: a long session opened a page at a time', () => {
  it('says earlier messages are loading above the newest ones, then shows the whole session; or says they could not be loaded', () => {
    const s = session([['text.delta', { text: 'the newest part' }], ['turn.finished', { stopReason: 'done' }]]);
    show({ ...s, partial: true }, false);
    const log = document.querySelector('.log')!;
    expect(log.querySelector('.older-loading')?.textContent).toBe('Loading earlier messages…');
    expect(log.querySelector('.older-loading')?.getAttribute('role')).toBe('status');
    // the note stands above the turns
    expect(log.querySelector('.older-loading')!.compareDocumentPosition(log.querySelector('section.turn')!) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    deliver({ type: 'reset', session: s, running: false, keepScroll: true });
    expect(log.querySelector('.older-loading')).toBeNull();
    expect(log.querySelector('section.turn')?.textContent).toContain('the newest part');
    show({ ...s, partial: 'failed' }, false);
    expect(log.querySelector('.older-loading')).toBeNull();
    expect(log.querySelector('.older-failed')?.textContent).toMatch(/could not be loaded.*open the session again/);
  });
});
