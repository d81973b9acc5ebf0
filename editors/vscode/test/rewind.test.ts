import { describe, expect, it } from 'vitest';
import { restoredFiles, targetLabel } from '../src/model/rewind';
import type { RewindFile } from '../src/protocol';

describe('restoredFiles', () => {
  const current: Record<string, string> = { 'file:///ws/a.py': 'x = 2\n', 'file:///ws/new.py': 'created by agent\n' };
  const get = (u: string) => current[u];
  const entry = (uri: string, action: RewindFile['action'], status: RewindFile['status'], willApply: boolean, newText?: string): RewindFile => ({
    uri, path: uri.slice('file://'.length), action, status, diff: '', willApply, ...(newText === undefined ? {} : { newText }),
  });

  it('takes restore, delete and recreate from each file entry', () => {
    const out = restoredFiles({ files: [
      entry('file:///ws/a.py', 'restore', 'clean', true, 'x = 1\n'),
      entry('file:///ws/new.py', 'delete', 'clean', true),
      entry('file:///ws/gone.py', 'recreate', 'clean', true, 'print("back")\n'),
    ] }, get);
    expect(out.get('file:///ws/a.py')).toEqual({ uri: 'file:///ws/a.py', restored: 'x = 1\n', existsBefore: true });
    expect(out.get('file:///ws/new.py')).toEqual({ uri: 'file:///ws/new.py', restored: null, existsBefore: true });
    expect(out.get('file:///ws/gone.py')).toEqual({ uri: 'file:///ws/gone.py', restored: 'print("back")\n', existsBefore: false });
  });

  it('keeps a file the rewind leaves out (skipped) unchanged', () => {
    const out = restoredFiles({ files: [entry('file:///ws/a.py', 'restore', 'skipped', false)] }, get);
    expect(out.get('file:///ws/a.py')?.restored).toBe('x = 2\n');
  });
});

describe('targetLabel', () => {
  it('describes every target', () => {
    expect(targetLabel({ latest: true })).toBe('the latest edit group');
    expect(targetLabel({ steps: 2 })).toBe('the last 2 edit groups');
    expect(targetLabel({ groupId: 'g1' })).toBe('edit group g1 and all after it');
    expect(targetLabel({ turnId: 't1' })).toBe('turn t1 and all after it');
    expect(targetLabel({ session: true })).toBe('the whole session');
  });
});

describe('the rewind preview: the list never covers the diff', () => {
  it('a file picked from the list hides the list and opens its diff; Apply in the diff\'s title bar applies the preview once', async () => {
    const { vi } = await import('vitest');
    const stub = await import('./stubs/vscode');
    const { RewindPreviewer } = await import('../src/rewindPreview');
    stub.files.set('file:///ws/calc.py', 'return a + b\n');
    const preview = { previewId: 'p1', sessionId: 's1', groups: ['g1'], conflicts: 0, files: [
      { uri: 'file:///ws/calc.py', path: 'calc.py', action: 'restore', status: 'clean', diff: '', willApply: true, newText: 'return a - b\n' },
      { uri: 'file:///ws/util.py', path: 'util.py', action: 'delete', status: 'clean', diff: '', willApply: true },
    ] };
    const execute = vi.fn(async (command: string) => (command === 'minicode.rewind.preview' ? preview : { applied: true, files: [] }));
    const rewind = new RewindPreviewer({ execute } as never);
    stub.window.quickPicks.length = 0;
    stub.calls.commands.length = 0;
    const flow = rewind.previewAndMaybeApply({ sessionId: 's1', target: { groupId: 'g1' } });
    await vi.waitFor(() => expect(stub.window.quickPicks).toHaveLength(1));
    stub.window.quickPicks[0].pick('calc.py');
    await vi.waitFor(() => expect(stub.calls.commands.some((c) => c[0] === 'vscode.diff')).toBe(true));
    expect(stub.window.quickPicks[0].visible).toBe(false); // nothing over the diff
    const diff = stub.calls.commands.find((c) => c[0] === 'vscode.diff')!;
    expect(diff[4]).toMatchObject({ preserveFocus: false });
    expect(stub.calls.commands).toContainEqual(['setContext', 'minicode.rewindPending', true]);
    // "Files of This Rewind…" brings the list back; the other file's diff; then Apply
    rewind.settle('files');
    await vi.waitFor(() => expect(stub.window.quickPicks).toHaveLength(2));
    stub.window.quickPicks[1].pick('util.py');
    await vi.waitFor(() => expect(stub.calls.commands.filter((c) => c[0] === 'vscode.diff')).toHaveLength(2));
    rewind.settle('apply');
    await flow;
    expect(execute.mock.calls.filter((c) => c[0] === 'minicode.rewind.apply')).toEqual([['minicode.rewind.apply', { previewId: 'p1', force: false }]]);
    expect(stub.calls.commands).toContainEqual(['setContext', 'minicode.rewindPending', false]);
    rewind.dispose();
  });

  it('"Apply rewind" in the list applies at once, so its label has no ellipsis (VS Code: "…" only when more input follows)', async () => {
    const { vi } = await import('vitest');
    const stub = await import('./stubs/vscode');
    const { RewindPreviewer } = await import('../src/rewindPreview');
    const preview = { previewId: 'p3', sessionId: 's1', groups: ['g1'], conflicts: 0, files: [
      { uri: 'file:///ws/calc.py', path: 'calc.py', action: 'restore', status: 'clean', diff: '', willApply: true, newText: 'x\n' },
    ] };
    const execute = vi.fn(async (command: string) => (command === 'minicode.rewind.preview' ? preview : { applied: true, files: [] }));
    const rewind = new RewindPreviewer({ execute } as never);
    stub.window.quickPicks.length = 0;
    const flow = rewind.previewAndMaybeApply({ sessionId: 's1', target: { latest: true } });
    await vi.waitFor(() => expect(stub.window.quickPicks).toHaveLength(1));
    const apply = stub.window.quickPicks[0].items.find((i) => i.label.includes('Apply rewind'))!;
    expect(apply.label).toBe('$(check) Apply rewind');
    stub.window.quickPicks[0].pick('Apply rewind');
    await flow;
    expect(stub.window.quickPicks).toHaveLength(1); // nothing more was asked
    expect(execute.mock.calls.map((c) => c[0])).toEqual(['minicode.rewind.preview', 'minicode.rewind.apply']);
    rewind.dispose();
  });

  it('Cancel in the diff\'s title bar applies nothing', async () => {
    const { vi } = await import('vitest');
    const stub = await import('./stubs/vscode');
    const { RewindPreviewer } = await import('../src/rewindPreview');
    const preview = { previewId: 'p2', sessionId: 's1', groups: ['g1'], conflicts: 0, files: [
      { uri: 'file:///ws/calc.py', path: 'calc.py', action: 'restore', status: 'clean', diff: '', willApply: true, newText: 'x\n' },
    ] };
    const execute = vi.fn(async () => preview);
    const rewind = new RewindPreviewer({ execute } as never);
    stub.window.quickPicks.length = 0;
    const flow = rewind.previewAndMaybeApply({ sessionId: 's1', target: { latest: true } });
    await vi.waitFor(() => expect(stub.window.quickPicks).toHaveLength(1));
    stub.window.quickPicks[0].pick('calc.py');
    stub.calls.commands.length = 0;
    await vi.waitFor(() => expect(stub.calls.commands.some((c) => c[0] === 'vscode.diff')).toBe(true));
    expect(stub.window.quickPicks[0].visible).toBe(false);
    rewind.settle('cancel');
    await flow;
    expect(execute).toHaveBeenCalledTimes(1); // the preview only
    rewind.dispose();
  });
});
