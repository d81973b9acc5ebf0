import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as vscode from 'vscode';
import { ChatView } from '../src/chatView';
import type { ServerManager } from '../src/client';
import {
  commandOfRequest,
  commandReply,
  fileChanges,
  isAgentConfirmation,
  withoutConfirmation,
  type LspWorkspaceEdit,
} from '../src/model/approvals';
import { applyTextEdits, diffStats, unifiedDiff } from '../src/model/diff';
import type { MinicodeEvent } from '../src/protocol';
import type { RewindPreviewer } from '../src/rewindPreview';

const stub = vscode as unknown as typeof import('./stubs/vscode');

/** The edit bridge.py sends for the agent's edit in ask mode. */
function agentEdit(uri = 'file:///ws/calc.py'): LspWorkspaceEdit {
  return {
    documentChanges: [
      { textDocument: { uri, version: null }, edits: [{ range: { start: { line: 1, character: 13 }, end: { line: 1, character: 14 } }, newText: '+', annotationId: 'minicode.agent' }] },
    ],
    changeAnnotations: { 'minicode.agent': { label: 'edit_file calc.py', needsConfirmation: true, description: 'MiniCode agent' } },
  };
}

describe('diff helpers', () => {
  it('apply LSP text edits (UTF-16 positions) and count changed lines', () => {
    expect(applyTextEdits('def add(a, b):\n    return a - b\n', agentEdit().documentChanges![0].edits!)).toBe('def add(a, b):\n    return a + b\n');
    expect(applyTextEdits('é😀x\n', [{ range: { start: { line: 0, character: 3 }, end: { line: 0, character: 4 } }, newText: 'y' }])).toBe('é😀y\n');
    expect(diffStats('a\nb\nc\n', 'a\nB\nc\nd\n')).toEqual({ added: 2, removed: 1 });
    expect(diffStats('a', 'a\n')).toEqual({ added: 0, removed: 0 });
    expect(diffStats(undefined, 'x\ny\n')).toEqual({ added: 2, removed: 0 });
    expect(unifiedDiff('calc.py', 'x\n', 'y\n')).toContain('-x\n+y');
  });
});

describe('recognising approvals', () => {
  it('an agent edit needing confirmation; approving sends it without needsConfirmation (VS Code applies it, no unticked preview)', () => {
    const edit = agentEdit();
    expect(isAgentConfirmation(edit)).toBe(true);
    const approved = withoutConfirmation(edit);
    expect(approved.changeAnnotations!['minicode.agent'].needsConfirmation).toBe(false);
    expect(isAgentConfirmation(approved)).toBe(false);
    expect(edit.changeAnnotations!['minicode.agent'].needsConfirmation).toBe(true); // not mutated
    expect(isAgentConfirmation({ changes: {} })).toBe(false);
    expect(isAgentConfirmation({ changeAnnotations: { 'minicode.rewind': { label: 'r', needsConfirmation: true } } })).toBe(false);
  });

  it('describes each file: before, after, +n -m, a unified diff; created files too', () => {
    const edit = agentEdit();
    edit.documentChanges!.push({ kind: 'create', uri: 'file:///ws/new.py' }, { textDocument: { uri: 'file:///ws/new.py' }, edits: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, newText: 'print(1)\n' }] });
    const files = fileChanges(edit, (u) => (u.endsWith('calc.py') ? 'def add(a, b):\n    return a - b\n' : undefined), ['file:///ws']);
    expect(files.map((f) => [f.path, f.action, f.stats])).toEqual([
      ['calc.py', 'modify', { added: 1, removed: 1 }],
      ['new.py', 'create', { added: 1, removed: 0 }],
    ]);
    expect(files[0].diff).toContain('-    return a - b');
    expect(files[0].diff).toContain('+    return a + b');
  });

  it('a command approval request and the replies', () => {
    const actions = [{ title: 'Allow once' }, { title: 'Allow for this session' }, { title: 'Deny' }];
    expect(commandOfRequest({ message: 'MiniCode wants to run: make test', actions })).toBe('make test');
    expect(commandOfRequest({ message: 'Something else', actions })).toBeUndefined();
    expect(commandReply('approve', actions)).toEqual({ title: 'Allow once' });
    expect(commandReply('session', actions)).toEqual({ title: 'Allow for this session' });
    expect(commandReply('reject', actions)).toEqual({ title: 'Deny' });
  });
});

describe('the chat view answers the server\'s approval requests', () => {
  let events: (ev: MinicodeEvent) => void;
  let chat: ChatView;
  let seq = 0;
  const emit = (type: string, data: Record<string, unknown>) => events({ sessionId: 's1', turnId: 't1', seq: seq++, type, data });

  beforeEach(() => {
    seq = 0;
    stub.calls.config = {};
    stub.files.clear();
    stub.files.set('file:///ws/calc.py', 'def add(a, b):\n    return a - b\n');
    const emitter = new stub.EventEmitter<MinicodeEvent>();
    const server = {
      onEvent: emitter.event,
      onReadiness: new stub.EventEmitter().event,
      onState: new stub.EventEmitter().event,
      state: 'running',
      execute: vi.fn(),
    } as unknown as ServerManager;
    events = (ev) => emitter.fire(ev);
    chat = new ChatView(stub.Uri.parse('file:///ext') as unknown as vscode.Uri, server, {} as RewindPreviewer, () => undefined);
    emit('turn.started', { prompt: 'fix calc', permissionMode: 'ask' });
    emit('tool.started', { toolCallId: 'c1', name: 'edit_file', arguments: { path: 'calc.py', old_text: 'a - b', new_text: 'a + b' } });
    emit('approval.requested', { toolCallId: 'c1', kind: 'edit', path: 'calc.py' });
  });

  it('Approve: the edit goes to VS Code without needsConfirmation and is applied (not declined)', async () => {
    const next = vi.fn(async (p: { edit: LspWorkspaceEdit }) => ({ applied: !isAgentConfirmation(p.edit) }));
    const result = chat.handleApplyEdit({ edit: agentEdit() }, next as never);
    await vi.waitFor(() => expect(chat.pendingApprovals()).toHaveLength(1));
    expect(next).not.toHaveBeenCalled(); // waits for the user
    chat.answer(chat.pendingApprovals()[0], 'approve');
    await expect(result).resolves.toEqual({ applied: true });
    expect(next).toHaveBeenCalledTimes(1);
    expect(isAgentConfirmation(next.mock.calls[0][0].edit)).toBe(false);
  });

  it('Reject: declined without touching the files', async () => {
    const next = vi.fn(async () => ({ applied: true }));
    const result = chat.handleApplyEdit({ edit: agentEdit() }, next);
    await vi.waitFor(() => expect(chat.pendingApprovals()).toHaveLength(1));
    chat.answer(chat.pendingApprovals()[0], 'reject');
    await expect(result).resolves.toMatchObject({ applied: false });
    expect(next).not.toHaveBeenCalled();
  });

  it('Allow for this session: later edits of the session apply without asking', async () => {
    const next = vi.fn(async () => ({ applied: true }));
    const first = chat.handleApplyEdit({ edit: agentEdit() }, next);
    await vi.waitFor(() => expect(chat.pendingApprovals()).toHaveLength(1));
    chat.answer(chat.pendingApprovals()[0], 'session');
    await first;
    emit('tool.finished', { toolCallId: 'c1', name: 'edit_file', isError: false });
    emit('tool.started', { toolCallId: 'c2', name: 'edit_file', arguments: { path: 'calc.py' } });
    emit('approval.requested', { toolCallId: 'c2', kind: 'edit', path: 'calc.py' });
    await expect(chat.handleApplyEdit({ edit: agentEdit() }, next)).resolves.toEqual({ applied: true });
    expect(chat.pendingApprovals()).toHaveLength(0);
  });

  it('with the Refactor Preview setting, Apply without ticking (nothing applied) is not a decline: the approval stays', async () => {
    stub.calls.config = { 'minicode.approvals.refactorPreview': true };
    const next = vi.fn(async (p: { edit: LspWorkspaceEdit }) => ({ applied: !isAgentConfirmation(p.edit) }));
    const result = chat.handleApplyEdit({ edit: agentEdit() }, next as never);
    await vi.waitFor(() => expect(chat.pendingApprovals()).toHaveLength(1));
    expect(next).toHaveBeenCalledTimes(1); // the preview was shown and applied nothing
    chat.answer(chat.pendingApprovals()[0], 'approve');
    await expect(result).resolves.toEqual({ applied: true });
  });

  it('a command approval stays until answered (no timeout), then answers with the chosen action', async () => {
    emit('tool.finished', { toolCallId: 'c1', name: 'edit_file', isError: false });
    emit('tool.started', { toolCallId: 'c3', name: 'run_command', arguments: { command: 'python -m pytest' } });
    emit('approval.requested', { toolCallId: 'c3', kind: 'command', command: 'python -m pytest' });
    const actions = [{ title: 'Allow once' }, { title: 'Allow for this session' }, { title: 'Deny' }];
    const reply = chat.handleMessageRequest({ type: 3, message: 'MiniCode wants to run: python -m pytest', actions });
    let settled = false;
    void reply.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    expect(chat.pendingApprovals()).toHaveLength(1);
    chat.answer(chat.pendingApprovals()[0], 'approve');
    await expect(reply).resolves.toEqual({ title: 'Allow once' });
  });

  it('a command approval the server cancels (the turn was stopped) is withdrawn', async () => {
    const source = new stub.CancellationTokenSource();
    const reply = chat.handleMessageRequest(
      { type: 3, message: 'MiniCode wants to run: sleep 5', actions: [{ title: 'Allow once' }, { title: 'Deny' }] },
      source.token as unknown as vscode.CancellationToken,
    );
    await vi.waitFor(() => expect(chat.pendingApprovals()).toHaveLength(1));
    source.cancel();
    await expect(reply).resolves.toEqual({ title: 'Deny' });
    expect(chat.pendingApprovals()).toHaveLength(0);
  });

  it('a rewind (same annotation, no approval event of the agent) goes to VS Code as sent: the Refactor Preview', async () => {
    const next = vi.fn(async () => ({ applied: true }));
    emit('tool.finished', { toolCallId: 'c1', name: 'edit_file', isError: false }); // nothing awaits an edit now
    const rewindEdit = agentEdit();
    rewindEdit.changeAnnotations!['minicode.agent'].description = 'MiniCode rewind of session s1, turn(s) t1';
    await expect(chat.handleApplyEdit({ edit: rewindEdit }, next)).resolves.toEqual({ applied: true });
    expect(next).toHaveBeenCalledWith({ edit: rewindEdit });
    expect(chat.pendingApprovals()).toHaveLength(0);
  });

  it('a second Send while the first prompt is on its way starts no second session', async () => {
    let release: (v: unknown) => void = () => undefined;
    const server = (chat as unknown as { server: { execute: ReturnType<typeof vi.fn> } }).server;
    server.execute.mockImplementation(() => new Promise((r) => (release = r)));
    const onMessage = (m: unknown) => (chat as unknown as { onMessage(m: unknown): Promise<void> }).onMessage(m);
    const first = onMessage({ type: 'send', text: 'Fix calc' });
    const second = onMessage({ type: 'send', text: 'Fix calc' });
    await vi.waitFor(() => expect(server.execute).toHaveBeenCalled()); // the context is gathered first
    release({ sessionId: 's2', turnId: 't9' });
    await Promise.all([first, second]);
    expect(server.execute).toHaveBeenCalledTimes(1);
  });

  it('other message requests are shown as VS Code shows them', async () => {
    stub.calls.infos.length = 0;
    await chat.handleMessageRequest({ type: 3, message: 'MiniCode: trust this workspace?', actions: [{ title: 'Trust' }] });
    expect(stub.calls.infos).toContain('MiniCode: trust this workspace?');
  });
});
