// Diff helpers (pure): line stats and unified diffs (jsdiff), and applying LSP text edits.
import { createTwoFilesPatch, diffLines } from 'diff';
import type { Range } from '../protocol';

export interface DiffStats {
  added: number;
  removed: number;
}

function lineCount(value: string): number {
  if (!value) return 0;
  const n = value.split('\n').length;
  return value.endsWith('\n') ? n - 1 : n;
}

/** Lines added and removed going from `before` to `after` (a missing side counts as empty). */
export function diffStats(before: string | undefined | null, after: string | undefined | null): DiffStats {
  const a = before ?? '';
  const b = after ?? '';
  if (a === b) return { added: 0, removed: 0 };
  // a trailing newline on each side, so a changed last line is one change, not two
  const norm = (s: string) => (s && !s.endsWith('\n') ? s + '\n' : s);
  let added = 0;
  let removed = 0;
  for (const part of diffLines(norm(a), norm(b))) {
    if (part.added) added += lineCount(part.value);
    else if (part.removed) removed += lineCount(part.value);
  }
  return { added, removed };
}

/** `+3 -1` */
export function statsText(s: DiffStats): string {
  return `+${s.added} -${s.removed}`;
}

/** A unified diff of one file (without the `Index:`/`===` header jsdiff adds). */
export function unifiedDiff(path: string, before: string | undefined | null, after: string | undefined | null, context = 3): string {
  const patch = createTwoFilesPatch(`a/${path}`, `b/${path}`, before ?? '', after ?? '', undefined, undefined, { context });
  return patch
    .split('\n')
    .filter((l) => !l.startsWith('Index:') && !/^=+$/.test(l) && l !== '\\ No newline at end of file')
    .join('\n')
    .trimEnd();
}

/** Offset of an LSP position (UTF-16 code units, like JS strings) in `text`, clamped. */
export function offsetAt(text: string, pos: { line: number; character: number }): number {
  let offset = 0;
  for (let line = 0; line < pos.line; line++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  const end = text.indexOf('\n', offset);
  const lineEnd = end < 0 ? text.length : end;
  return Math.min(offset + Math.max(pos.character, 0), lineEnd);
}

/** Apply LSP TextEdits (non-overlapping, positions in the original text) to `text`. */
export function applyTextEdits(text: string, edits: readonly { range: Range; newText: string }[]): string {
  const spans = edits
    .map((e, i) => ({ start: offsetAt(text, e.range.start), end: offsetAt(text, e.range.end), newText: e.newText, i }))
    .sort((x, y) => x.start - y.start || x.end - y.end || x.i - y.i);
  let out = '';
  let at = 0;
  for (const s of spans) {
    if (s.start < at) throw new Error('overlapping edits');
    out += text.slice(at, s.start) + s.newText;
    at = s.end;
  }
  return out + text.slice(at);
}
