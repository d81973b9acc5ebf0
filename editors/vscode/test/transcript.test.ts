import { describe, expect, it } from 'vitest';
import { applyEvent, newTranscript, renderTranscript, startTurn, transcriptFromReplay } from '../src/model/transcript';
import type { MinicodeEvent } from '../src/protocol';

const ev = (seq: number, type: string, data: Record<string, unknown> = {}, turnId = 't1'): MinicodeEvent => ({ sessionId: 's1', turnId, seq, type, data });

describe('event rendering', () => {
  it('streams text, tool calls with status, files changed and the stop reason', () => {
    const t = newTranscript('s1', 'rename x');
    startTurn(t, 't1', 'rename x to y');
    applyEvent(t, ev(0, 'turn.started', { prompt: 'rename x to y' }));
    applyEvent(t, ev(1, 'text.delta', { text: 'I will ' }));
    applyEvent(t, ev(2, 'text.delta', { text: 'edit a.py.' }));
    applyEvent(t, ev(3, 'tool.started', { toolCallId: 'c1', name: 'edit_file', arguments: { path: 'a.py', old_text: 'x', new_text: 'y' } }));
    let md = renderTranscript(t, ['file:///ws']);
    expect(md).toContain('I will edit a.py.');
    expect(md).toContain('… `edit_file` a.py — running');
    expect(md).toContain('_running…_');
    applyEvent(t, ev(4, 'tool.finished', { toolCallId: 'c1', name: 'edit_file', isError: false, summary: 'edited a.py' }));
    applyEvent(t, ev(5, 'files.changed', { uris: ['file:///ws/a.py'], groupId: 'g1' }));
    applyEvent(t, ev(6, 'tool.started', { toolCallId: 'c2', name: 'run_command', arguments: { command: 'pytest -q' } }));
    applyEvent(t, ev(7, 'tool.finished', { toolCallId: 'c2', name: 'run_command', isError: true, summary: 'exit 1' }));
    applyEvent(t, ev(8, 'text.delta', { text: 'Done.' }));
    applyEvent(t, ev(9, 'turn.finished', { stopReason: 'done', usage: { inputTokens: 12, outputTokens: 3 } }));
    md = renderTranscript(t, ['file:///ws']);
    expect(md).toContain('✓ `edit_file` a.py — ok');
    expect(md).toContain('✎ files changed: `a.py` (edit group g1)');
    expect(md).toContain('✗ `run_command` pytest -q — failed: exit 1');
    expect(md).toContain('**Stop reason: done** — usage: inputTokens 12, outputTokens 3');
    expect(md).not.toContain('(done)');
    expect(md).not.toContain('_running…_');
    expect(md.indexOf('I will edit a.py.')).toBeLessThan(md.indexOf('Done.'));
  });

  it('ignores duplicate and old events of a turn', () => {
    const t = newTranscript('s1');
    applyEvent(t, ev(1, 'text.delta', { text: 'a' }));
    applyEvent(t, ev(1, 'text.delta', { text: 'a' }));
    applyEvent(t, ev(0, 'text.delta', { text: 'z' }));
    applyEvent(t, ev(1, 'text.delta', { text: 'b' }, 't2')); // another turn may restart seq
    expect(t.turns.map((x) => x.parts)).toEqual([[{ kind: 'text', text: 'a' }], [{ kind: 'text', text: 'b' }]]);
  });

  it('matches a finished tool by name when there is no call id, and marks leftovers failed at the end', () => {
    const t = newTranscript('s1');
    applyEvent(t, ev(1, 'tool.started', { name: 'read_file', arguments: { path: 'a.py' } }));
    applyEvent(t, ev(2, 'tool.finished', { name: 'read_file' }));
    applyEvent(t, ev(3, 'tool.started', { name: 'search', arguments: { pattern: 'foo' } }));
    applyEvent(t, ev(4, 'turn.finished', { stopReason: 'cancelled' }));
    const md = renderTranscript(t);
    expect(md).toContain('✓ `read_file` a.py — ok');
    expect(md).toContain('✗ `search` foo — failed');
    expect(md).toContain('**Stop reason: cancelled**');
  });

  it('shows errors, fallbacks and approvals', () => {
    const t = newTranscript('s1');
    applyEvent(t, ev(1, 'provider.fallback', { fromProvider: 'local', toProvider: 'cloud', reason: '503' }));
    applyEvent(t, ev(2, 'approval.requested', { toolCallId: 'c1', name: 'run_command', kind: 'command', command: 'rm -rf build' }));
    applyEvent(t, ev(3, 'error', { message: 'provider unreachable', hint: 'start Ollama' }));
    applyEvent(t, ev(5, 'approval.requested', { toolCallId: 'c2', name: 'edit_file', kind: 'edit', path: 'a.py' }));
    applyEvent(t, ev(4, 'context.usage', { used: 10 }));
    const md = renderTranscript(t);
    expect(md).toContain('provider fallback: local → cloud (503)');
    expect(md).toContain('approval requested: rm -rf build');
    expect(md).toContain('⚠ error: provider unreachable (start Ollama)');
    expect(md).toContain('approval requested: a.py');
  });

  it('text from a new model request (after context.usage) is a paragraph of its own', () => {
    const t = newTranscript('s1');
    applyEvent(t, ev(1, 'text.delta', { text: 'Done.' }));
    applyEvent(t, ev(2, 'context.usage', { used: 10 }));
    applyEvent(t, ev(3, 'text.delta', { text: 'Done, ' }));
    applyEvent(t, ev(4, 'text.delta', { text: 'really.' }));
    const md = renderTranscript(t);
    expect(md).toContain('Done.\n\nDone, really.');
    expect(md).not.toContain('Done.Done');
  });

  it('rebuilds a transcript from a replay, in seq order', () => {
    const t = transcriptFromReplay('s1', [
      { seq: 2, turnId: 't1', type: 'turn.finished', data: { stopReason: 'done' } },
      { seq: 0, turnId: 't1', type: 'turn.started', data: { prompt: 'hello' } },
      { seq: 1, turnId: 't1', type: 'text.delta', data: { text: 'Hi!' } },
    ]);
    const md = renderTranscript(t);
    expect(md).toContain('## Turn 1: hello');
    expect(md).toContain('Hi!');
    expect(md).toContain('**Stop reason: done**');
  });

  it('says how to start when nothing ran', () => {
    expect(renderTranscript(undefined)).toContain('Run Task');
  });
});

describe('error hints', () => {
  it('a hint the message already carries is not repeated', () => {
    const t = newTranscript('s1');
    applyEvent(t, ev(0, 'error', { message: 'HTTP 401 (not retryable): set OPENAI_API_KEY', hint: 'set OPENAI_API_KEY' }));
    const md = renderTranscript(t);
    expect(md.split('set OPENAI_API_KEY').length - 1).toBe(1);
  });
});
