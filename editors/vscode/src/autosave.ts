// Saving what the agent (or a rewind) changed in open documents that had no unsaved changes of
// the user's: the agent's next command (its tests) reads the disk, so an edit that only lives
// in a buffer would be invisible to it. Documents the user had modified stay modified.
import * as vscode from 'vscode';
import { Commands, EventTypes, type MinicodeEvent } from './protocol';

/** The URIs (as strings) of open documents with unsaved changes, right now. */
export function dirtyUris(): Set<string> {
  return new Set(vscode.workspace.textDocuments.filter((d) => d.isDirty).map((d) => d.uri.toString()));
}

/** Save each of `uris` that is open, dirty now, and was not dirty in `before`. */
export async function saveIfCleanBefore(uris: readonly string[], before: ReadonlySet<string>): Promise<void> {
  for (const raw of uris) {
    const key = vscode.Uri.parse(raw).toString();
    if (before.has(key)) continue;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
    if (doc?.isDirty) await doc.save();
  }
}

const REWINDS: readonly string[] = [Commands.rewindApply, Commands.rewindUndo];

/** Run a server command; after a rewind or undo that applied, save what it changed (see above). */
export async function withRewindSaves<T>(command: string, run: () => Promise<T>): Promise<T> {
  if (!REWINDS.includes(command)) return run();
  const before = dirtyUris();
  const result = await run();
  const r = result as { applied?: boolean; files?: { uri?: string }[] } | undefined;
  if (r?.applied) await saveIfCleanBefore((r.files ?? []).flatMap((f) => (f.uri ? [f.uri] : [])), before);
  return result;
}

/** Saves files the agent changed during a turn when they were clean when the turn started. */
export class AgentEditSaver implements vscode.Disposable {
  private readonly dirtyAtStart = new Map<string, Set<string>>(); // turn id -> dirty URIs

  private readonly disposables: vscode.Disposable[] = [];

  constructor(onEvent: vscode.Event<MinicodeEvent>) {
    this.disposables.push(onEvent((ev) => void this.handle(ev)));
  }

  private async handle(ev: MinicodeEvent): Promise<void> {
    if (ev.type === EventTypes.turnStarted) {
      if (ev.turnId) this.dirtyAtStart.set(ev.turnId, dirtyUris());
    } else if (ev.type === EventTypes.filesChanged) {
      const files = (ev.data as { files?: { uri?: string }[] }).files ?? [];
      const uris = files.flatMap((f) => (f.uri ? [f.uri] : []));
      await saveIfCleanBefore(uris, (ev.turnId ? this.dirtyAtStart.get(ev.turnId) : undefined) ?? new Set());
    } else if (ev.type === EventTypes.turnFinished) {
      if (ev.turnId) this.dirtyAtStart.delete(ev.turnId);
    }
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}
