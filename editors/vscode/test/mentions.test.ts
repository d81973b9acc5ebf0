import { describe, expect, it, vi } from 'vitest';
import { insertMention, matchScore, mentionAt, mentionContext, mentionsOf, suggest, type MentionItem } from '../src/model/mentions';

const files = ['src/calc.py', 'src/calculator/ui.py', 'tests/test_calc.py', 'README.md', 'docs/my notes.md', 'src/app.py'];
const specials: MentionItem[] = [
  { kind: 'selection', insert: 'selection', detail: 'lines 2–3 of calc.py' },
  { kind: 'problems', insert: 'problems', detail: '2 problems in calc.py' },
];

describe('@ mentions: typing one', () => {
  it('finds the mention being typed at the caret, not an e-mail address or a finished word', () => {
    expect(mentionAt('fix @src/ca', 11)).toEqual({ start: 4, query: 'src/ca' });
    expect(mentionAt('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionAt('mail me@host.org', 16)).toBeUndefined();
    expect(mentionAt('fix @calc.py now', 16)).toBeUndefined();
    expect(mentionAt('line one\n@re', 12)).toEqual({ start: 9, query: 're' });
  });

  it('ranks a file whose name starts with the query above a path that merely contains its letters', () => {
    const got = suggest('calc', [], files).map((i) => i.insert);
    expect(got[0]).toBe('src/calc.py');
    expect(got).toContain('tests/test_calc.py');
    expect(got).not.toContain('README.md');
    expect(matchScore('zzz', 'src/calc.py')).toBeUndefined();
  });

  it('offers the selection and the problems first when they fit what is typed, then files, bounded', () => {
    expect(suggest('', specials, files, 4).map((i) => i.insert)).toEqual(['selection', 'problems', 'README.md', 'src/app.py']);
    expect(suggest('pro', specials, files).map((i) => i.kind)).toEqual(['problems']);
    expect(suggest('sel', specials, files)[0].kind).toBe('selection');
    expect(suggest('ui', [], files)[0]).toEqual({ kind: 'file', insert: 'src/calculator/ui.py', detail: 'src/calculator' });
  });

  it('replaces the typed part with the picked path (quoted when it holds a space) and puts the caret after it', () => {
    expect(insertMention('fix @ca now', 4, 7, 'src/calc.py')).toEqual({ text: 'fix @src/calc.py now', caret: 17 });
    expect(insertMention('see @my', 4, 7, 'docs/my notes.md')).toEqual({ text: 'see @"docs/my notes.md" ', caret: 24 });
  });
});

describe('@ mentions: what a prompt sends', () => {
  it('reads files, the selection and the problems out of the prompt; punctuation after a path is not part of it', () => {
    expect(mentionsOf('why does @src/calc.py subtract? see @README.md, and @"docs/my notes.md". @src/calc.py')).toEqual({
      selection: false,
      problems: false,
      paths: ['src/calc.py', 'README.md', 'docs/my notes.md'],
    });
    expect(mentionsOf('explain @selection and fix @problems')).toEqual({ selection: true, problems: true, paths: [] });
    expect(mentionsOf('me@host.org is not a mention')).toEqual({ selection: false, problems: false, paths: [] });
  });

  const base = { uri: 'file:///w/a.py', range: { start: { line: 4, character: 0 }, end: { line: 4, character: 0 } }, diagnostics: [{ message: 'near the cursor' }] };
  const sel = { uri: 'file:///w/b.py', range: { start: { line: 1, character: 0 }, end: { line: 3, character: 0 } }, text: 'def f():\n  pass\n' };

  it('sends the selection as it was when mentioned, every problem of the file, the files the mentions resolved to', () => {
    const all = [{ message: 'one' }, { message: 'two' }];
    expect(mentionContext(base, mentionsOf('@problems'), { problems: { uri: base.uri, items: all }, files: [] })).toMatchObject({ uri: base.uri, diagnostics: all });
    const ctx = mentionContext(base, mentionsOf('explain @selection'), { selection: sel, files: ['file:///w/c.py', 'file:///w/c.py'] });
    expect(ctx).toEqual({ uri: sel.uri, range: sel.range, selectionText: sel.text, files: ['file:///w/c.py'] });
    // nothing mentioned: the editor's context as before
    expect(mentionContext(base, mentionsOf('plain'), { selection: sel, files: [] })).toEqual(base);
    expect(mentionContext(undefined, mentionsOf('plain'), { files: [] })).toBeUndefined();
  });
});

describe('@ mentions in the chat view: the task the server gets', () => {
  it('a prompt mentioning files sends their URIs in context.files (unknown or escaping paths are not sent)', async () => {
    const stub = await import('./stubs/vscode');
    const { ChatView } = await import('../src/chatView');
    stub.files.clear();
    stub.files.set('file:///ws/src/calc.py', 'x');
    stub.files.set('file:///ws/README.md', 'y');
    const execute = vi.fn(async () => ({ sessionId: 's1', turnId: 't1' }));
    const server = { onEvent: () => ({ dispose() {} }), onReadiness: () => ({ dispose() {} }), onState: () => ({ dispose() {} }), state: 'running', execute };
    const base = { uri: 'file:///ws/src/calc.py', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } };
    const chat = new ChatView(stub.Uri.parse('file:///ext') as never, server as never, {} as never, () => base);
    expect((await chat.mentionSuggestions('calc')).map((i) => i.insert)).toEqual(['src/calc.py']);
    await chat.send('compare @src/calc.py with @README.md, not @missing.py or @../etc/passwd');
    expect(execute).toHaveBeenCalledWith('minicode.task.run', expect.objectContaining({
      prompt: 'compare @src/calc.py with @README.md, not @missing.py or @../etc/passwd',
      context: { ...base, files: ['file:///ws/src/calc.py', 'file:///ws/README.md'] },
    }));
    chat.dispose();
  });
});

describe('opening a session in the chat view', () => {
  it('a session this window saw whole opens from its copy (only newer events are fetched); one seen in part is replayed', async () => {
    const stub = await import('./stubs/vscode');
    const { ChatView } = await import('../src/chatView');
    const emitter = new stub.EventEmitter<unknown>();
    const execute = vi.fn(async (_c: string, args: { sessionId: string; fromSeq?: number }) => ({
      events: args.fromSeq ? [] : [{ seq: 1, turnId: 't1', type: 'turn.started', data: { prompt: 'p' } }, { seq: 2, turnId: 't1', type: 'turn.finished', data: { stopReason: 'done' } }],
    }));
    const server = { onEvent: emitter.event, onReadiness: () => ({ dispose() {} }), onState: () => ({ dispose() {} }), state: 'running', execute };
    const chat = new ChatView(stub.Uri.parse('file:///ext') as never, server as never, {} as never, () => undefined);
    const events = [
      { sessionId: 'whole', turnId: 't1', seq: 1, type: 'turn.started', data: { prompt: 'seen whole' } },
      { sessionId: 'whole', turnId: 't1', seq: 2, type: 'turn.finished', data: { stopReason: 'done' } },
      { sessionId: 'part', turnId: 't9', seq: 9, type: 'turn.started', data: { prompt: 'seen from seq 9' } },
      { sessionId: 'part', turnId: 't9', seq: 10, type: 'turn.finished', data: { stopReason: 'done' } },
    ];
    for (const ev of events) emitter.fire(ev);
    await chat.openSession('whole');
    expect(execute.mock.calls.map((c) => c[1])).toEqual([{ sessionId: 'whole', fromSeq: 3 }]);
    expect(chat.shownSession).toBe('whole');
    execute.mockClear();
    await chat.openSession('part');
    expect(execute.mock.calls.map((c) => c[1])).toEqual([{ sessionId: 'part', limit: 200 }]);
    expect(chat.runningSessions()).toEqual([]); // nothing replayed is taken for a running turn
    chat.dispose();
  });

  it('a long session from the store paints its newest page first, then the whole session in place, with what came live meanwhile', async () => {
    const stub = await import('./stubs/vscode');
    const { ChatView } = await import('../src/chatView');
    const emitter = new stub.EventEmitter<unknown>();
    // 1 prompt, 300 tool calls (600 events), the end: 602 events
    const all: { seq: number; turnId: string; type: string; data: Record<string, unknown> }[] = [{ seq: 1, turnId: 't1', type: 'turn.started', data: { prompt: 'read a lot' } }];
    for (let i = 0; i < 300; i++) {
      all.push({ seq: all.length + 1, turnId: 't1', type: 'tool.started', data: { toolCallId: `c${i}`, name: 'read_file', arguments: { path: `f${i}.py` } } });
      all.push({ seq: all.length + 1, turnId: 't1', type: 'tool.finished', data: { toolCallId: `c${i}`, name: 'read_file' } });
    }
    all.push({ seq: all.length + 1, turnId: 't1', type: 'turn.finished', data: { stopReason: 'done' } });
    let releaseOlder: () => void = () => undefined;
    const olderAsked = new Promise<void>((r) => (releaseOlder = r));
    const execute = vi.fn(async (_c: string, args: { sessionId: string; limit?: number; beforeSeq?: number }) => {
      if (args.limit) return { events: all.slice(-args.limit), older: all.length > args.limit, turnStarted: all[0] };
      await olderAsked; // the older events take a while: a follow-up's first event arrives meanwhile
      return { events: all.filter((e) => e.seq < (args.beforeSeq ?? Infinity)) };
    });
    const server = { onEvent: emitter.event, onReadiness: () => ({ dispose() {} }), onState: () => ({ dispose() {} }), state: 'running', execute };
    const chat = new ChatView(stub.Uri.parse('file:///ext') as never, server as never, {} as never, () => undefined);
    const posted: Record<string, unknown>[] = [];
    let fromPage: (m: unknown) => void = () => undefined;
    const view = {
      webview: { options: {}, html: '', cspSource: 'csp', asWebviewUri: (u: unknown) => u, postMessage: async (m: Record<string, unknown>) => posted.push(m), onDidReceiveMessage: (f: (m: unknown) => void) => ((fromPage = f), { dispose() {} }) },
      onDidDispose: () => ({ dispose() {} }),
      show: () => undefined,
    };
    chat.resolveWebviewView(view as never);
    fromPage({ type: 'ready' });
    posted.length = 0;
    const opening = chat.openSession('long', 'Long one');
    await vi.waitFor(() => expect(posted.filter((m) => m.type === 'reset')).toHaveLength(1));
    type Posted = { turns: { prompt?: string; finished: boolean; items: { kind: string; target?: string }[] }[]; partial?: boolean; title?: string };
    const first = posted[0] as { session: Posted; keepScroll: boolean };
    expect(execute.mock.calls.map((c) => c[1])).toEqual([{ sessionId: 'long', limit: 200 }, { sessionId: 'long', beforeSeq: all.length - 199 }]);
    // the page: the prompt, the newest 100 cards whole, the turn's end; older ones announced as coming
    expect(first.session.partial).toBe(true);
    expect(first.session.turns[0]).toMatchObject({ prompt: 'read a lot', finished: true });
    const pageCards = first.session.turns[0].items.filter((i) => i.kind === 'tool');
    expect(pageCards.length).toBeLessThanOrEqual(100);
    expect(pageCards.at(-1)?.target).toBe('f299.py');
    emitter.fire({ sessionId: 'long', turnId: 't2', seq: all.length + 1, type: 'turn.started', data: { prompt: 'more' } });
    releaseOlder();
    await opening;
    const resets = posted.filter((m) => m.type === 'reset') as unknown as { session: Posted; keepScroll: boolean }[];
    const last = resets.at(-1)!;
    expect(last.keepScroll).toBe(true);
    expect(last.session.partial).toBeUndefined();
    expect(last.session.title).toBe('Long one');
    expect(last.session.turns.map((t) => t.prompt)).toEqual(['read a lot', 'more']);
    expect(last.session.turns[0].items.filter((i) => i.kind === 'tool').map((i) => i.target)).toEqual(Array.from({ length: 300 }, (_, i) => `f${i}.py`));
    // opened again: whole from this window's copy (only what is newer is asked for)
    execute.mockClear();
    await chat.openSession('long');
    expect(execute.mock.calls.map((c) => c[1])).toEqual([{ sessionId: 'long', fromSeq: all.length + 2 }]);
    chat.dispose();
  });

  it('older events that cannot be fetched: the page stays and says so; opening the session again tries again', async () => {
    const stub = await import('./stubs/vscode');
    const { ChatView } = await import('../src/chatView');
    const all: { seq: number; turnId: string; type: string; data: Record<string, unknown> }[] = [{ seq: 1, turnId: 't1', type: 'turn.started', data: { prompt: 'p' } }];
    for (let i = 2; i <= 400; i++) all.push({ seq: i, turnId: 't1', type: 'text.delta', data: { text: `w${i} ` } });
    let fail = true;
    const execute = vi.fn(async (_c: string, args: { limit?: number; beforeSeq?: number }) => {
      if (args.limit) return { events: all.slice(-args.limit), older: true, turnStarted: all[0] };
      if (fail) throw new Error('the server stopped');
      return { events: all.filter((e) => e.seq < (args.beforeSeq ?? Infinity)) };
    });
    const server = { onEvent: () => ({ dispose() {} }), onReadiness: () => ({ dispose() {} }), onState: () => ({ dispose() {} }), state: 'running', execute };
    const chat = new ChatView(stub.Uri.parse('file:///ext') as never, server as never, {} as never, () => undefined);
    const posted: Record<string, unknown>[] = [];
    let fromPage: (m: unknown) => void = () => undefined;
    chat.resolveWebviewView({
      webview: { options: {}, html: '', cspSource: 'csp', asWebviewUri: (u: unknown) => u, postMessage: async (m: Record<string, unknown>) => posted.push(m), onDidReceiveMessage: (f: (m: unknown) => void) => ((fromPage = f), { dispose() {} }) },
      onDidDispose: () => ({ dispose() {} }),
      show: () => undefined,
    } as never);
    fromPage({ type: 'ready' });
    await chat.openSession('s');
    const resets = () => posted.filter((m) => m.type === 'reset') as { session: { partial?: unknown } }[];
    expect(resets().at(-1)!.session.partial).toBe('failed');
    fail = false;
    execute.mockClear();
    await chat.openSession('s');
    expect(execute.mock.calls.map((c) => c[1])).toEqual([{ sessionId: 's', limit: 200 }, { sessionId: 's', beforeSeq: 201 }]);
    expect(resets().at(-1)!.session.partial).toBeUndefined();
    chat.dispose();
  });
});
