// Rewind preview mapping (pure: no vscode import): the restored text of every file in a
// preview, computed from the server's WorkspaceEdit applied to the current text (or taken
// from the file entry when the server sends it whole).

import type { Range, RewindFile, RewindPreviewResult, RewindTarget } from '../protocol';

export interface TextEdit {
  range: Range;
  newText: string;
  annotationId?: string;
}

/** What a rewind does to one file: its restored text, or null when the file is deleted. */
export interface RestoredFile {
  uri: string;
  restored: string | null;
  /** Whether the file exists before the rewind (false when the rewind recreates it). */
  existsBefore: boolean;
}

/** Offsets of the start of each line; LSP positions count UTF-16 code units, as JS strings do. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 /* \r */) {
      if (text.charCodeAt(i + 1) === 10) i++;
      starts.push(i + 1);
    } else if (c === 10) {
      starts.push(i + 1);
    }
  }
  return starts;
}

function offsetAt(text: string, starts: number[], line: number, character: number): number {
  if (line >= starts.length) return text.length;
  if (line < 0) return 0;
  const start = starts[line];
  const next = line + 1 < starts.length ? starts[line + 1] : text.length;
  // a position past the end of the line clamps to the line end (before its line break)
  let end = next;
  while (end > start && (text.charCodeAt(end - 1) === 10 || text.charCodeAt(end - 1) === 13) && line + 1 < starts.length) end--;
  return Math.min(start + Math.max(character, 0), end);
}

/** Apply LSP TextEdits (all relative to the original text, non-overlapping) to text. */
export function applyTextEdits(text: string, edits: TextEdit[]): string {
  const starts = lineStarts(text);
  const spans = edits
    .map((e, i) => ({
      start: offsetAt(text, starts, e.range.start.line, e.range.start.character),
      end: offsetAt(text, starts, e.range.end.line, e.range.end.character),
      newText: e.newText ?? '',
      i,
    }))
    .sort((a, b) => a.start - b.start || a.end - b.end || a.i - b.i);
  let out = '';
  let pos = 0;
  for (const s of spans) {
    if (s.start < pos) throw new Error('overlapping text edits');
    out += text.slice(pos, s.start) + s.newText;
    pos = s.end;
  }
  return out + text.slice(pos);
}

const FULL_TEXT_KEYS = ['restoredText', 'restored', 'targetText', 'newText', 'content', 'text'] as const;

/** The full restored text when the server sends it in the file entry. */
export function fullTextOf(file: RewindFile | undefined): string | null | undefined {
  if (!file) return undefined;
  for (const key of FULL_TEXT_KEYS) {
    const v = file[key];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

type AnyChange = Record<string, unknown>;

/**
 * The restored text of each file a preview touches. `current(uri)` gives the text the edit
 * applies to (the open buffer or the disk copy), or undefined when the file does not exist.
 */
export function restoredFiles(preview: Pick<RewindPreviewResult, 'edit' | 'files'>, current: (uri: string) => string | undefined): Map<string, RestoredFile> {
  const result = new Map<string, RestoredFile>();
  const state = new Map<string, string | null>();
  const textOf = (uri: string): string | null => {
    if (state.has(uri)) return state.get(uri) as string | null;
    const cur = current(uri);
    return cur === undefined ? null : cur;
  };
  const touch = (uri: string) => {
    if (!result.has(uri)) result.set(uri, { uri, restored: null, existsBefore: current(uri) !== undefined });
  };
  const edit = (preview.edit ?? {}) as { documentChanges?: AnyChange[]; changes?: Record<string, TextEdit[]> };
  for (const change of edit.documentChanges ?? []) {
    const kind = change.kind;
    if (kind === 'create') {
      const uri = change.uri as string;
      touch(uri);
      const opts = (change.options ?? {}) as { overwrite?: boolean; ignoreIfExists?: boolean };
      if (textOf(uri) === null || opts.overwrite) state.set(uri, '');
    } else if (kind === 'delete') {
      const uri = change.uri as string;
      touch(uri);
      state.set(uri, null);
    } else if (kind === 'rename') {
      const oldUri = change.oldUri as string;
      const newUri = change.newUri as string;
      touch(oldUri);
      touch(newUri);
      state.set(newUri, textOf(oldUri));
      state.set(oldUri, null);
    } else if (change.textDocument && Array.isArray(change.edits)) {
      const uri = (change.textDocument as { uri: string }).uri;
      touch(uri);
      state.set(uri, applyTextEdits(textOf(uri) ?? '', change.edits as TextEdit[]));
    }
  }
  for (const [uri, edits] of Object.entries(edit.changes ?? {})) {
    touch(uri);
    state.set(uri, applyTextEdits(textOf(uri) ?? '', edits));
  }
  for (const file of preview.files ?? []) {
    touch(file.uri);
    const full = fullTextOf(file);
    if (full !== undefined) state.set(file.uri, full);
    else if (file.action === 'delete' && !state.has(file.uri)) state.set(file.uri, null);
  }
  for (const [uri, entry] of result) entry.restored = state.has(uri) ? (state.get(uri) as string | null) : textOf(uri);
  return result;
}

/** Describe a rewind target for titles and messages. */
export function targetLabel(target: RewindTarget): string {
  if ('latest' in target) return 'the latest edit group';
  if ('steps' in target) return `the last ${target.steps} edit group${target.steps === 1 ? '' : 's'}`;
  if ('groupId' in target) return `edit group ${target.groupId} and all after it`;
  if ('turnId' in target) return `turn ${target.turnId} and all after it`;
  return 'the whole session';
}

/** One line per file of a preview: `a.py — restore (clean)`. */
export function fileSummary(file: RewindFile): string {
  return `${file.action}${file.status ? ` (${file.status})` : ''}`;
}
