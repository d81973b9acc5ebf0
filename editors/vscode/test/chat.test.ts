import { describe, expect, it } from 'vitest';
import {
  announcements,
  applyPatch,
  attachApproval,
  cancelTarget,
  cardAwaiting,
  chatCompleted,
  chatFromPage,
  chatFromReplay,
  cover,
  coverReplay,
  exitCodeOf,
  isLong,
  newChat,
  pageSession,
  patchesSince,
  reduceEvent,
  settleApproval,
  startChatTurn,
  thoughtLabel,
  toolHeadline,
  turnFooter,
  turnStatus,
  turnWhy,
  type ThoughtItem,
  type ToolItem,
} from '../src/model/chat';
import type { MinicodeEvent, ReplayEvent } from '../src/protocol';

let seq = 0;
const ev = (type: string, data: Record<string, unknown> = {}, turnId = 't1', at?: number): MinicodeEvent => ({ sessionId: 's1', turnId, seq: seq++, type, data, at });
const cards = (s: ReturnType<typeof newChat>, turn = 0) => s.turns[turn].items.filter((i): i is ToolItem => i.kind === 'tool');

describe('chat model: events reduced to turns of items', () => {
  it('streams text into one block and bumps its rev on each delta (the webview re-renders only it)', () => {
    const s = newChat('s1');
    startChatTurn(s, 't1', 'fix calc', 'ask');
    reduceEvent(s, ev('turn.started', { prompt: 'fix calc', permissionMode: 'ask' }, 't1', 100));
    reduceEvent(s, ev('text.delta', { text: 'I will ' }));
    const first = s.turns[0].items[0];
    const rev1 = first.rev;
    reduceEvent(s, ev('text.delta', { text: '**fix** it.' }));
    expect(s.turns[0].items).toHaveLength(1);
    expect(s.turns[0].items[0]).toMatchObject({ kind: 'text', text: 'I will **fix** it.' });
    expect(s.turns[0].items[0].rev).toBeGreaterThan(rev1);
    expect(s.turns[0].mode).toBe('ask');
    expect(s.title).toBe('fix calc');
  });

  it('text from a new model request (after context.usage) is a new block, not glued to the last answer', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }, 'tr'));
    reduceEvent(s, ev('context.usage', { used: 10 }, 'tr')); // before the first request: nothing to split
    reduceEvent(s, ev('text.delta', { text: 'Do' }, 'tr'));
    reduceEvent(s, ev('text.delta', { text: 'ne.' }, 'tr'));
    reduceEvent(s, ev('context.usage', { used: 20 }, 'tr')); // the agent asks the model again
    reduceEvent(s, ev('text.delta', { text: 'Done, ' }, 'tr'));
    reduceEvent(s, ev('text.delta', { text: 'really.' }, 'tr'));
    expect(s.turns[0].items).toMatchObject([{ kind: 'text', text: 'Done.' }, { kind: 'text', text: 'Done, really.' }]);
    expect(s.turns[0].items[0].id).not.toBe(s.turns[0].items[1].id);
    // replayed from the store: the same blocks
    const events = [
      ['turn.started', { prompt: 'p' }], ['text.delta', { text: 'A.' }], ['context.usage', { used: 1 }], ['text.delta', { text: 'B.' }],
    ] as const;
    const replayed = chatFromReplay('s2', events.map(([type, data], i) => ({ sessionId: 's2', turnId: 'tx', seq: i + 1, type, data }) as ReplayEvent));
    expect(replayed.turns[0].items.map((i) => (i.kind === 'text' ? i.text : i.kind))).toEqual(['A.', 'B.']);
  });

  it('a failing command is a failure with its exit code and output, not "ok"', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('tool.started', { toolCallId: 'c1', name: 'run_command', arguments: { command: 'python -m unittest' } }));
    const output = '$ python -m unittest\nFAILED (failures=2)\n[exit code 1]';
    reduceEvent(s, ev('tool.finished', { toolCallId: 'c1', name: 'run_command', isError: false, summary: '$ python -m unittest', output }));
    const [card] = cards(s);
    expect(card.status).toBe('failed');
    expect(card.exitCode).toBe(1);
    expect(card.output).toContain('FAILED (failures=2)');
    expect(toolHeadline(card)).toBe('Ran python -m unittest — exit code 1');
  });

  it('a passing command is ok with exit code 0; long output is folded', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('tool.started', { toolCallId: 'c1', name: 'run_command', arguments: { command: 'ls' } }));
    const output = ['$ ls', ...Array.from({ length: 30 }, (_, i) => `f${i}`), '[exit code 0]'].join('\n');
    reduceEvent(s, ev('tool.finished', { toolCallId: 'c1', name: 'run_command', isError: false, output }));
    expect(cards(s)[0]).toMatchObject({ status: 'ok', exitCode: 0 });
    expect(isLong(cards(s)[0].output)).toBe(true);
    expect(isLong('$ ls\na\n[exit code 0]')).toBe(false);
    expect(exitCodeOf('x\n[exit code -9]\n')).toBe(-9);
    expect(exitCodeOf('no code')).toBeUndefined();
  });

  it('an edit card has its +n -m, its files and checkpoint; reads and searches are compact cards', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('tool.started', { toolCallId: 'r1', name: 'read_file', arguments: { path: 'calc.py' } }));
    reduceEvent(s, ev('tool.finished', { toolCallId: 'r1', name: 'read_file', isError: false, output: 'def add' }));
    reduceEvent(s, ev('tool.started', { toolCallId: 's1', name: 'search', arguments: { pattern: 'add', path: 'src' } }));
    reduceEvent(s, ev('tool.finished', { toolCallId: 's1', name: 'search', isError: false }));
    reduceEvent(s, ev('tool.started', { toolCallId: 'e1', name: 'edit_file', arguments: { path: 'calc.py', old_text: 'return a - b\n', new_text: 'return a + b\n# fixed\n' } }));
    reduceEvent(s, ev('tool.finished', { toolCallId: 'e1', name: 'edit_file', isError: false }));
    reduceEvent(s, ev('files.changed', { groupId: 'g1', uris: ['file:///ws/calc.py'], files: [{ uri: 'file:///ws/calc.py', action: 'modify' }] }));
    const [read, search, edit] = cards(s);
    expect(toolHeadline(read)).toBe('Read calc.py');
    expect(toolHeadline(search)).toBe('Searched add in src');
    expect(toolHeadline(edit)).toBe('Edited calc.py +2 -1');
    expect(edit).toMatchObject({ groupId: 'g1', files: [{ uri: 'file:///ws/calc.py', action: 'modify' }] });
    const cp = s.turns[0].items[s.turns[0].items.length - 1];
    expect(cp).toMatchObject({ kind: 'checkpoint', groupId: 'g1' });
  });

  it('an approval attaches to its card, stays pending until answered, and records the answer', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }));
    reduceEvent(s, ev('tool.started', { toolCallId: 'c1', name: 'run_command', arguments: { command: 'make test' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'c1', name: 'run_command', kind: 'command', command: 'make test' }));
    const card = cardAwaiting(s, 'command', 'make test');
    expect(card?.callId).toBe('c1');
    attachApproval(s, card!, 'a1');
    expect(card!.approval).toMatchObject({ id: 'a1', state: 'pending', command: 'make test' });
    // nothing but an answer settles it (no timer in the model)
    expect(cardAwaiting(s, 'command', 'make test')).toBeUndefined();
    settleApproval(s, 'a1', 'approved');
    expect(card!.approval!.state).toBe('approved');
  });

  it('an edit approval carries the files with their diff and stats; the card takes the stats', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }));
    reduceEvent(s, ev('tool.started', { toolCallId: 'e1', name: 'write_file', arguments: { path: 'a.py', content: 'x' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'e1', kind: 'edit', path: 'a.py' }));
    const card = cardAwaiting(s, 'edit', 'file:///ws/a.py')!;
    attachApproval(s, card, 'a2', [{ uri: 'file:///ws/a.py', path: 'a.py', action: 'modify', added: 3, removed: 2, diff: '@@' }]);
    // waiting for the answer: proposed, not being edited
    expect(toolHeadline(card)).toBe('Proposed edit of a.py +3 -2');
    settleApproval(s, 'a2', 'approved');
    expect(toolHeadline(card)).toBe('Editing a.py +3 -2'); // approved: being applied
    reduceEvent(s, ev('tool.finished', { toolCallId: 'e1', name: 'write_file' }));
    expect(toolHeadline(card)).toBe('Edited a.py +3 -2');
  });

  it('a rejected edit is "declined", not a failure of the tool', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }));
    reduceEvent(s, ev('tool.started', { toolCallId: 'e1', name: 'edit_file', arguments: { path: 'a.py', old_text: 'a', new_text: 'b' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'e1', kind: 'edit', path: 'a.py' }));
    reduceEvent(s, ev('tool.finished', { toolCallId: 'e1', name: 'edit_file', isError: true, summary: 'the user declined this edit; nothing was changed' }));
    expect(cards(s)[0]).toMatchObject({ status: 'declined', approval: { state: 'rejected' } });
    // titled for what happened: nothing was edited
    expect(toolHeadline(cards(s)[0])).toBe('Rejected edit of a.py');
    // without an approval, an error that mentions refusing stays a failure
    reduceEvent(s, ev('tool.started', { toolCallId: 'r1', name: 'run_command', arguments: { command: 'curl x' } }));
    reduceEvent(s, ev('tool.finished', { toolCallId: 'r1', name: 'run_command', isError: true, summary: 'connection refused' }));
    expect(cards(s)[1].status).toBe('failed');
    // an edit that failed changed nothing either
    reduceEvent(s, ev('tool.started', { toolCallId: 'e2', name: 'edit_file', arguments: { path: 'b.py', old_text: 'zzz', new_text: 'y' } }));
    reduceEvent(s, ev('tool.finished', { toolCallId: 'e2', name: 'edit_file', isError: true, summary: 'old_text was not found in b.py' }));
    expect(cards(s)[2].status).toBe('failed');
    expect(toolHeadline(cards(s)[2])).toBe('Failed edit of b.py');
    // the server says it in `declined`: the summary's words do not matter
    reduceEvent(s, ev('tool.started', { toolCallId: 'e3', name: 'edit_file', arguments: { path: 'c.py', old_text: 'a', new_text: 'b' } }));
    reduceEvent(s, ev('tool.finished', { toolCallId: 'e3', name: 'edit_file', isError: true, declined: true, summary: 'not applied' }));
    expect(cards(s).find((c) => c.target === 'c.py')?.status).toBe('declined');
  });

  it('an edit or command rejected with the button is titled "Rejected" at once, and stays so', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }));
    reduceEvent(s, ev('tool.started', { toolCallId: 'e1', name: 'edit_file', arguments: { path: 'calc.py', old_text: 'a\n', new_text: 'a\nb\n' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'e1', kind: 'edit', path: 'calc.py' }));
    const edit = cardAwaiting(s, 'edit', 'file:///ws/calc.py')!;
    expect(toolHeadline(edit)).toBe('Proposed edit of calc.py +1 -0');
    attachApproval(s, edit, 'a1', [{ uri: 'file:///ws/calc.py', path: 'calc.py', action: 'modify', added: 1, removed: 0, diff: '@@' }]);
    settleApproval(s, 'a1', 'rejected');
    expect(toolHeadline(edit)).toBe('Rejected edit of calc.py');
    reduceEvent(s, ev('tool.finished', { toolCallId: 'e1', name: 'edit_file', isError: true, summary: 'the user declined this edit; nothing was changed' }));
    expect(toolHeadline(edit)).toBe('Rejected edit of calc.py');
    reduceEvent(s, ev('tool.started', { toolCallId: 'd1', name: 'delete_file', arguments: { path: 'old.py' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'd1', kind: 'edit', path: 'old.py' }));
    expect(toolHeadline(cards(s)[1])).toBe('Proposed deletion of old.py');
    reduceEvent(s, ev('tool.finished', { toolCallId: 'd1', name: 'delete_file', isError: true, summary: 'the user declined this edit' }));
    expect(toolHeadline(cards(s)[1])).toBe('Rejected deletion of old.py');
    reduceEvent(s, ev('tool.started', { toolCallId: 'c1', name: 'run_command', arguments: { command: 'rm -rf build' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'c1', kind: 'command', command: 'rm -rf build' }));
    expect(toolHeadline(cards(s)[2])).toBe('Proposed command: rm -rf build');
    reduceEvent(s, ev('tool.finished', { toolCallId: 'c1', name: 'run_command', isError: true, summary: 'the user declined this command' }));
    expect(toolHeadline(cards(s)[2])).toBe('Rejected command: rm -rf build');
  });

  it('a tool that ends before its approval was asked shows no approval (nobody approved it)', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }));
    reduceEvent(s, ev('tool.started', { toolCallId: 'e1', name: 'edit_file', arguments: { path: '.git/config' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'e1', kind: 'edit', path: '.git/config' }));
    reduceEvent(s, ev('tool.finished', { toolCallId: 'e1', name: 'edit_file', isError: true, summary: "refused: '.git/config' is off limits" }));
    expect(cards(s)[0].status).toBe('failed');
    expect(cards(s)[0].approval).toBeUndefined();
  });

  it('a turn that ends withdraws its pending approvals and fails running tools', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }, 't1', 10));
    reduceEvent(s, ev('tool.started', { toolCallId: 'c1', name: 'run_command', arguments: { command: 'sleep 9' } }));
    reduceEvent(s, ev('approval.requested', { toolCallId: 'c1', kind: 'command', command: 'sleep 9' }));
    reduceEvent(s, ev('turn.finished', { stopReason: 'cancelled', usage: { inputTokens: 10, outputTokens: 5 } }, 't1', 12.5));
    expect(cards(s)[0]).toMatchObject({ status: 'failed', approval: { state: 'cancelled' } });
    expect(turnFooter(s.turns[0])).toBe('cancelled · 15 tokens (10 in, 5 out) · 2.5 s');
  });

  it('the footer says the stop reason once (no "done (done)")', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }, 't1', 1));
    reduceEvent(s, ev('turn.finished', { stopReason: 'done', provider: 'scripted' }, 't1', 2));
    expect(turnFooter(s.turns[0])).toBe('done · 1.0 s · scripted');
    expect(turnFooter(s.turns[0])).not.toContain('(done)');
  });

  it('a turn that did not end done says why under its footer, in words (a declined edit, a refusal), once', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }, 't1', 1));
    const declined = 'You declined the edit of calc.py. To go on, say what to do instead in a follow-up.';
    reduceEvent(s, ev('turn.finished', { stopReason: 'blocked', error: declined }, 't1', 2));
    expect(turnFooter(s.turns[0])).toMatch(/^blocked · /);
    expect(turnWhy(s.turns[0])).toBe(declined);
    expect(announcements(s.turns[0]).at(-1)?.text).toContain(declined);

    reduceEvent(s, ev('turn.started', { prompt: 'q' }, 't2', 3));
    reduceEvent(s, ev('turn.finished', { stopReason: 'verification_failed', error: 'calc.py changed and nothing checked it' }, 't2', 4));
    expect(turnFooter(s.turns[1])).toMatch(/^not verified · /);
    expect(turnWhy(s.turns[1])).toBe('calc.py changed and nothing checked it');

    // a provider failure already shown as an error card is not said twice
    reduceEvent(s, ev('turn.started', { prompt: 'r' }, 't3', 5));
    reduceEvent(s, ev('error', { message: 'HTTP 404: model "nope" not found' }, 't3'));
    reduceEvent(s, ev('turn.finished', { stopReason: 'provider_error', error: 'HTTP 404: model "nope" not found' }, 't3', 6));
    expect(turnWhy(s.turns[2])).toBe('');
    // nor a turn still running, nor one with no error
    reduceEvent(s, ev('turn.started', { prompt: 's' }, 't4', 7));
    expect(turnWhy(s.turns[3])).toBe('');
    reduceEvent(s, ev('turn.finished', { stopReason: 'done' }, 't4', 8));
    expect(turnWhy(s.turns[3])).toBe('');
  });

  it('an error shows its hint once, even when the message already has it', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('error', { message: 'HTTP 401 (not retryable): set OPENAI_API_KEY', hint: 'set OPENAI_API_KEY' }));
    reduceEvent(s, ev('error', { message: 'HTTP 404', hint: 'check the model name' }));
    const [a, b] = s.turns[0].items;
    expect(a).toMatchObject({ kind: 'error', text: 'HTTP 401 (not retryable): set OPENAI_API_KEY', hint: undefined });
    expect(b).toMatchObject({ kind: 'error', text: 'HTTP 404', hint: 'check the model name' });
  });

  it('ignores repeated events (seq) and replays a stored session in order', () => {
    const events: ReplayEvent[] = [
      { seq: 2, turnId: 't1', type: 'text.delta', data: { text: 'b' } },
      { seq: 0, turnId: 't1', type: 'turn.started', data: { prompt: 'p1' } },
      { seq: 1, turnId: 't1', type: 'text.delta', data: { text: 'a' } },
      { seq: 3, turnId: 't1', type: 'turn.finished', data: { stopReason: 'done' } },
      { seq: 4, turnId: 't2', type: 'turn.started', data: { prompt: 'follow-up' } },
    ];
    const s = chatFromReplay('s1', events, 'title');
    expect(s.turns.map((t) => t.prompt)).toEqual(['p1', 'follow-up']);
    expect(s.turns[0].items[0]).toMatchObject({ text: 'ab' });
    reduceEvent(s, { sessionId: 's1', turnId: 't1', seq: 2, type: 'text.delta', data: { text: 'dup' } });
    expect(s.turns[0].items[0]).toMatchObject({ text: 'ab' });
  });

  it('a 2,000-event session reduces quickly', () => {
    const events: ReplayEvent[] = [{ seq: 0, turnId: 't', type: 'turn.started', data: { prompt: 'big' } }];
    for (let i = 1; i < 2000; i++) {
      events.push(i % 10 === 0
        ? { seq: i, turnId: 't', type: i % 20 === 0 ? 'tool.started' : 'tool.finished', data: { toolCallId: `c${Math.floor(i / 20)}`, name: 'read_file', arguments: { path: 'x' } } }
        : { seq: i, turnId: 't', type: 'text.delta', data: { text: `word${i} ` } });
    }
    const t0 = performance.now();
    const s = chatFromReplay('s', events);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(s.turns[0].items.length).toBeGreaterThan(100);
  });
});

describe('opening a long session a page at a time', () => {
  // one turn: a prompt, then tool calls c0..c{n-1} (started + finished), then its end
  const session = (n: number): ReplayEvent[] => {
    const evs: ReplayEvent[] = [{ seq: 1, turnId: 't', type: 'turn.started', data: { prompt: 'read it all' } }];
    for (let i = 0; i < n; i++) {
      evs.push({ seq: evs.length + 1, turnId: 't', type: 'tool.started', data: { toolCallId: `c${i}`, name: 'read_file', arguments: { path: `f${i}.py` } } });
      evs.push({ seq: evs.length + 1, turnId: 't', type: 'tool.finished', data: { toolCallId: `c${i}`, name: 'read_file', summary: 'read' } });
    }
    evs.push({ seq: evs.length + 1, turnId: 't', type: 'turn.finished', data: { stopReason: 'done' } });
    return evs;
  };

  it('the newest page shows its turn with the prompt and end, cards whole, and says older ones are coming', () => {
    const all = session(10); // 22 events
    // a page cut between c6's start and its end: c6's lone end is not a card of its own
    const page = { events: all.slice(-8), older: true, turnStarted: all[0] };
    expect(page.events[0].type).toBe('tool.finished');
    const s = chatFromPage('s', page);
    expect(s.partial).toBe(true);
    expect(s.turns).toHaveLength(1);
    expect(s.turns[0]).toMatchObject({ prompt: 'read it all', finished: true, stopReason: 'done' });
    expect(cards(s).map((c) => [c.target, c.status])).toEqual([['f7.py', 'ok'], ['f8.py', 'ok'], ['f9.py', 'ok']]);
  });

  it('a page holding the whole session is the session', () => {
    const all = session(3);
    const s = chatFromPage('s', { events: all, older: false }, 'title');
    expect(s.partial).toBeUndefined();
    expect(s).toEqual(chatFromReplay('s', all, 'title'));
  });

  it('the older events complete it: the same as replaying it whole, with what came live since', () => {
    const all = session(10);
    const page = chatFromPage('s', { events: all.slice(-8), older: true, turnStarted: all[0] });
    const live: ReplayEvent[] = [
      { seq: all.length + 1, turnId: 't2', type: 'turn.started', data: { prompt: 'again' } },
      { seq: all.length + 2, turnId: 't2', type: 'text.delta', data: { text: 'ok' } },
    ];
    for (const e of live) reduceEvent(page, e);
    // a turn this window started whose first event has not come yet is kept
    startChatTurn(page, 't3', 'third');
    const whole = chatCompleted(page, [...all.slice(0, -8), ...all.slice(-8), ...live, ...live]);
    expect(whole.partial).toBeUndefined();
    expect(whole.title).toBe('read it all');
    expect(whole.turns.map((t) => t.prompt)).toEqual(['read it all', 'again', 'third']);
    expect(cards(whole).map((c) => c.target)).toEqual(session(10).filter((e) => e.type === 'tool.started').map((e) => (e.data.arguments as { path: string }).path));
    expect(whole.turns[1].items).toMatchObject([{ kind: 'text', text: 'ok' }]);
    expect(whole.rev).toBeGreaterThan(page.rev);
    expect(chatCompleted(page, all, 'from the tree').title).toBe('from the tree');
  });
});

describe('posting to the webview', () => {
  it('patches carry only what changed, and rebuild the same turns', () => {
    const s = newChat('s1');
    const copy = newChat('s1');
    let posted = -1;
    const post = () => {
      const patches = patchesSince(s, posted);
      posted = s.rev;
      for (const p of patches) applyPatch(copy, p);
      return patches;
    };
    reduceEvent(s, ev('turn.started', { prompt: 'p' }));
    for (let i = 0; i < 50; i++) {
      reduceEvent(s, ev('tool.started', { toolCallId: `c${i}`, name: 'read_file', arguments: { path: `f${i}` } }));
      reduceEvent(s, ev('tool.finished', { toolCallId: `c${i}`, name: 'read_file', isError: false }));
    }
    post();
    reduceEvent(s, ev('text.delta', { text: 'end' }));
    const patches = post();
    expect(patches).toHaveLength(1);
    expect(patches[0].changed.map(([i]) => i)).toEqual([50]); // not the 50 cards again
    reduceEvent(s, ev('turn.finished', { stopReason: 'done' }));
    post();
    expect(JSON.parse(JSON.stringify(copy.turns))).toEqual(JSON.parse(JSON.stringify(pageSession(s).turns)));
  });
});

describe('■ cancels the running turn', () => {
  it('the running session, not the one selected in the tree', () => {
    // old behaviour: the selected node's session was cancelled even when it was not running
    expect(cancelTarget(['run1'], undefined, 'idle-selected')).toBe('run1');
    expect(cancelTarget(['run1', 'run2'], 'run2')).toBe('run2');
    expect(cancelTarget(['run1', 'run2'], 'idle', 'run1')).toBe('run1');
    expect(cancelTarget(['run1', 'run2'], 'idle')).toBeUndefined();
    expect(cancelTarget([], 'x', 'x')).toBeUndefined();
  });
});

describe('chat model: the model\'s reasoning and its silences', () => {
  it('thought.delta streams into one folded thought, finished by what comes next; it is never answer text', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }, 'tw'));
    reduceEvent(s, ev('thought.delta', { text: 'Check ' }, 'tw'));
    reduceEvent(s, ev('thought.delta', { text: 'the sign.' }, 'tw'));
    expect(s.turns[0].items).toMatchObject([{ kind: 'thought', text: 'Check the sign.', done: false }]);
    expect(thoughtLabel(s.turns[0].items[0] as ThoughtItem)).toBe('Thinking…');
    reduceEvent(s, ev('text.delta', { text: 'Fixed.' }, 'tw'));
    expect(s.turns[0].items).toMatchObject([{ kind: 'thought', done: true }, { kind: 'text', text: 'Fixed.' }]);
    expect(thoughtLabel(s.turns[0].items[0] as ThoughtItem)).toBe('Thought (3 words)');
    reduceEvent(s, ev('thought.delta', { text: 'again' }, 'tw'));
    reduceEvent(s, ev('turn.finished', { stopReason: 'done' }, 'tw'));
    expect(s.turns[0].items[2]).toMatchObject({ kind: 'thought', text: 'again', done: true });
  });

  it('model.waiting shows how long the model has not answered, until it answers', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }, 'tm'));
    expect(turnStatus(s.turns[0])).toBe('Working…');
    reduceEvent(s, ev('model.waiting', { seconds: 5, provider: 'ollama' }, 'tm'));
    reduceEvent(s, ev('context.usage', { used: 10 }, 'tm'));
    reduceEvent(s, ev('model.waiting', { seconds: 10.2, provider: 'ollama' }, 'tm'));
    expect(turnStatus(s.turns[0])).toBe('Waiting for the model (ollama)… 10 s');
    reduceEvent(s, ev('text.delta', { text: 'Hi' }, 'tm'));
    expect(s.turns[0].waiting).toBeUndefined();
    expect(turnStatus(s.turns[0])).toBe('Working…');
    reduceEvent(s, ev('turn.finished', { stopReason: 'done' }, 'tm'));
    expect(turnStatus(s.turns[0])).toBe('');
  });
});

describe('chat model: which events of a session this window has', () => {
  it('complete from seq 1 without a gap; a gap or a late start is not complete', () => {
    let c = cover(undefined, 1);
    c = cover(c, 2);
    c = cover(c, 2); // the same event again
    c = cover(c, undefined); // a local record, no seq
    expect(c).toEqual({ next: 3, complete: true });
    expect(cover(c, 5)).toEqual({ next: 6, complete: false });
    expect(cover(undefined, 7)).toEqual({ next: 8, complete: false });
    expect(coverReplay([{ seq: 1 }, { seq: 3 }, { seq: 2 }])).toEqual({ next: 4, complete: true });
    expect(coverReplay([])).toEqual({ next: 1, complete: true });
  });
});

describe('chat model: what the page gets', () => {
  it('tool cards go without their call id and summary (never shown), everything else as is', () => {
    const s = newChat('s1');
    reduceEvent(s, ev('turn.started', { prompt: 'p' }, 'tp'));
    reduceEvent(s, ev('tool.started', { toolCallId: 'c1', name: 'read_file', arguments: { path: 'a.py' } }, 'tp'));
    reduceEvent(s, ev('tool.finished', { toolCallId: 'c1', name: 'read_file', summary: 'read a.py (3 lines)' }, 'tp'));
    const card = pageSession(s).turns[0].items[0];
    expect(card).toMatchObject({ kind: 'tool', name: 'read_file', target: 'a.py', status: 'ok' });
    expect(card).not.toHaveProperty('callId');
    expect(card).not.toHaveProperty('summary');
    expect(patchesSince(s, 0)[0].changed[0][1]).not.toHaveProperty('callId');
    expect((s.turns[0].items[0] as ToolItem).callId).toBe('c1'); // the extension's copy keeps it
  });
});
