// Rewind preview mapping (pure: no vscode import): what a rewind does to each file of a
// preview, as the server says it (each file's restored text is in its entry, `newText`).

import type { RewindFile, RewindPreview, RewindTarget } from '../protocol';

/** What a rewind does to one file: its restored text, or null when the file is deleted. */
export interface RestoredFile {
  uri: string;
  restored: string | null;
  /** Whether the file exists before the rewind (false when the rewind recreates it). */
  existsBefore: boolean;
}

/**
 * The restored text of each file a preview touches. `current(uri)` gives the file's text now
 * (the open buffer or the disk copy), or undefined when the file does not exist. A file the
 * rewind leaves out (skipped, or a folder it cannot remove) keeps its current text.
 */
export function restoredFiles(preview: Pick<RewindPreview, 'files'>, current: (uri: string) => string | undefined): Map<string, RestoredFile> {
  const result = new Map<string, RestoredFile>();
  for (const file of preview.files) {
    const now = current(file.uri);
    const restored = file.newText ?? (file.willApply ? null : now ?? null);
    result.set(file.uri, { uri: file.uri, restored, existsBefore: now !== undefined });
  }
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
