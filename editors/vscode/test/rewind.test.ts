import { describe, expect, it } from 'vitest';
import { applyTextEdits, restoredFiles, targetLabel } from '../src/model/rewind';

const r = (sl: number, sc: number, el: number, ec: number) => ({ start: { line: sl, character: sc }, end: { line: el, character: ec } });

describe('applyTextEdits', () => {
  it('applies non-overlapping edits given against the original text', () => {
    const text = 'a = 1\nb = 2\nc = 3\n';
    expect(applyTextEdits(text, [{ range: r(2, 4, 2, 5), newText: '30' }, { range: r(0, 4, 0, 5), newText: '10' }])).toBe('a = 10\nb = 2\nc = 30\n');
  });
  it('replaces the whole document with a range past the end', () => {
    expect(applyTextEdits('x\ny\n', [{ range: r(0, 0, 99, 0), newText: 'z\n' }])).toBe('z\n');
    expect(applyTextEdits('x\ny', [{ range: r(0, 0, 1, 1), newText: '' }])).toBe('');
  });
  it('clamps a character past the line end to the end of the line', () => {
    expect(applyTextEdits('ab\ncd\n', [{ range: r(0, 0, 0, 50), newText: 'X' }])).toBe('X\ncd\n');
  });
  it('handles CRLF and UTF-16 positions', () => {
    expect(applyTextEdits('é😀x\r\ny\r\n', [{ range: r(0, 3, 0, 4), newText: 'Z' }, { range: r(1, 0, 1, 1), newText: 'W' }])).toBe('é😀Z\r\nW\r\n');
  });
  it('inserts at the same position in order', () => {
    expect(applyTextEdits('', [{ range: r(0, 0, 0, 0), newText: 'a' }, { range: r(0, 0, 0, 0), newText: 'b' }])).toBe('ab');
  });
  it('rejects overlapping edits', () => {
    expect(() => applyTextEdits('abcdef', [{ range: r(0, 0, 0, 3), newText: '' }, { range: r(0, 2, 0, 4), newText: '' }])).toThrow();
  });
});

describe('restoredFiles', () => {
  const current: Record<string, string> = { 'file:///ws/a.py': 'x = 2\n', 'file:///ws/new.py': 'created by agent\n' };
  const get = (u: string) => current[u];

  it('computes restore, delete and recreate from the annotated WorkspaceEdit', () => {
    const preview = {
      edit: {
        documentChanges: [
          { textDocument: { uri: 'file:///ws/a.py', version: 3 }, edits: [{ range: r(0, 0, 1, 0), newText: 'x = 1\n', annotationId: 'rewind' }] },
          { kind: 'delete', uri: 'file:///ws/new.py', annotationId: 'rewind' },
          { kind: 'create', uri: 'file:///ws/gone.py', annotationId: 'rewind' },
          { textDocument: { uri: 'file:///ws/gone.py', version: null }, edits: [{ range: r(0, 0, 0, 0), newText: 'print("back")\n' }] },
        ],
        changeAnnotations: { rewind: { label: 'Rewind', needsConfirmation: true } },
      },
      files: [
        { uri: 'file:///ws/a.py', action: 'restore', status: 'clean', diff: '' },
        { uri: 'file:///ws/new.py', action: 'delete', status: 'clean' },
        { uri: 'file:///ws/gone.py', action: 'recreate', status: 'clean' },
      ],
    };
    const out = restoredFiles(preview, get);
    expect(out.get('file:///ws/a.py')).toEqual({ uri: 'file:///ws/a.py', restored: 'x = 1\n', existsBefore: true });
    expect(out.get('file:///ws/new.py')).toEqual({ uri: 'file:///ws/new.py', restored: null, existsBefore: true });
    expect(out.get('file:///ws/gone.py')).toEqual({ uri: 'file:///ws/gone.py', restored: 'print("back")\n', existsBefore: false });
  });

  it('reads `changes` edits, and prefers full text sent in the file entry', () => {
    const preview = {
      edit: { changes: { 'file:///ws/a.py': [{ range: r(0, 4, 0, 5), newText: '7' }] } },
      files: [
        { uri: 'file:///ws/a.py', action: 'restore', status: 'merged' },
        { uri: 'file:///ws/b.py', action: 'restore', status: 'clean', restoredText: 'b = 0\n' },
      ],
    };
    const out = restoredFiles(preview, get);
    expect(out.get('file:///ws/a.py')?.restored).toBe('x = 7\n');
    expect(out.get('file:///ws/b.py')?.restored).toBe('b = 0\n');
  });

  it('keeps a file left out of the edit (a conflict) unchanged', () => {
    const out = restoredFiles({ edit: { documentChanges: [] }, files: [{ uri: 'file:///ws/a.py', action: 'restore', status: 'conflict' }] }, get);
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
