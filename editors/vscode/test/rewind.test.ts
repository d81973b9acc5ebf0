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
