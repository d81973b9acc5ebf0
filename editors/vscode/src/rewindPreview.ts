// Rewind preview: per-file diffs between the current and the restored text (served by the
// read-only `minicode-rewind:` document provider), then apply through the server by the
// preview's id: the preview is the one confirmation, the server applies it without asking again.
import * as vscode from 'vscode';
import type { ServerManager } from './client';
import { errorMessage, showError } from './logger';
import { basename, displayPath, plural } from './model/format';
import { fileSummary, restoredFiles, targetLabel, type RestoredFile } from './model/rewind';
import { Commands, ErrorCodes } from './protocol';
import type { RewindFile, RewindPreview, RewindTarget } from './protocol';
import { VirtualDocuments } from './virtualDocs';

export interface RewindRequest {
  sessionId?: string;
  target: RewindTarget;
  uris?: string[];
  /** How to name the target to the user (not sent). */
  label?: string;
}

function wireArgs<T extends { label?: string }>(req: T): Omit<T, 'label'> {
  const { label: _label, ...args } = req;
  return args;
}

function roots(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
}

function sameUri(a: string, b: string): boolean {
  return vscode.Uri.parse(a).toString() === vscode.Uri.parse(b).toString();
}

/** The text a rewind applies to: the open buffer, else the disk copy, else undefined. */
async function currentTexts(uris: Iterable<string>): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const uri of uris) {
    const open = vscode.workspace.textDocuments.find((d) => sameUri(d.uri.toString(), uri));
    if (open) {
      out.set(uri, open.getText());
      continue;
    }
    try {
      out.set(uri, new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.parse(uri))));
    } catch {
      out.set(uri, undefined);
    }
  }
  return out;
}

/** What the user says of a rewind preview while its diff is on show. */
export type RewindVerdict = 'apply' | 'force' | 'files' | 'cancel';

export class RewindPreviewer implements vscode.Disposable {
  readonly docs = new VirtualDocuments('minicode-rewind');
  private verdict: ((v: RewindVerdict) => void) | undefined;

  constructor(private readonly server: ServerManager) {}

  /** Ask the server for a preview and compute each file's restored text. */
  async preview(req: RewindRequest): Promise<{ preview: RewindPreview; restored: Map<string, RestoredFile> }> {
    const preview = await this.server.execute(Commands.rewindPreview, wireArgs(req));
    const texts = await currentTexts(new Set(preview.files.map((f) => f.uri)));
    const restored = restoredFiles(preview, (uri) => texts.get(uri));
    return { preview, restored };
  }

  /** Open `vscode.diff` for one file: left and right are given as 'current' or 'restored'. */
  async openDiff(previewId: string, file: RestoredFile, order: 'current-restored' | 'restored-current', title: string, preserveFocus = true): Promise<void> {
    const uri = vscode.Uri.parse(file.uri);
    const rel = displayPath(file.uri, roots());
    const restoredUri = this.docs.uri(`/${previewId}/${rel}`, 'restored');
    this.docs.set(restoredUri, file.restored ?? '');
    let currentUri = uri;
    if (!file.existsBefore) {
      currentUri = this.docs.uri(`/${previewId}/${rel}`, 'absent');
      this.docs.set(currentUri, '');
    }
    const [left, right] = order === 'current-restored' ? [currentUri, restoredUri] : [restoredUri, currentUri];
    await vscode.commands.executeCommand('vscode.diff', left, right, title, { preview: true, preserveFocus });
  }

  /** "Preview Rewind…": list the files, open their diffs, then apply (or not). */
  async previewAndMaybeApply(req: RewindRequest): Promise<void> {
    let result: Awaited<ReturnType<RewindPreviewer['preview']>>;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'MiniCode: previewing rewind' },
        () => this.preview(req),
      );
    } catch (err) {
      void showError(`MiniCode: rewind preview failed: ${errorMessage(err)}`);
      return;
    }
    const { preview, restored } = result;
    const files = preview.files ?? [];
    if (files.length === 0) {
      void vscode.window.showInformationMessage('MiniCode: nothing to rewind.');
      return;
    }
    const conflicts = files.filter((f) => f.status === 'conflict').length;
    type Item = vscode.QuickPickItem & { act: 'apply' | 'force' | 'diff' | 'cancel'; file?: RewindFile };
    const items: Item[] = [
      {
        act: 'apply',
        label: '$(check) Apply rewind',
        detail: conflicts ? `${plural(conflicts, 'file')} in conflict ${conflicts === 1 ? 'is' : 'are'} left out` : 'restores the files as the diffs show (Undo Rewind brings them back)',
        alwaysShow: true,
      },
    ];
    if (conflicts) items.push({ act: 'force', label: '$(warning) Apply with conflict markers (force)', alwaysShow: true });
    items.push({ act: 'cancel', label: '$(close) Cancel', alwaysShow: true });
    items.push({ act: 'diff', label: 'Files', kind: vscode.QuickPickItemKind.Separator });
    for (const f of files) {
      const rel = displayPath(f.uri, roots());
      const leftOut = f.willApply === false ? ` — left out${typeof f.reason === 'string' ? `: ${f.reason}` : ''}` : '';
      items.push({ act: 'diff', file: f, label: `$(diff) ${basename(rel)}`, description: `${fileSummary(f)} — ${rel}${leftOut}`, detail: 'open the diff: current ↔ after rewind' });
    }
    for (;;) {
      const choice = await this.pickFrom(items, `MiniCode: rewind ${req.label ?? targetLabel(req.target)} — ${plural(files.length, 'file')}`);
      if (!choice || choice.act === 'cancel') return;
      if (choice.act === 'diff' && choice.file) {
        // the list goes away and the diff has the window: its title bar answers (Apply, Files, Cancel)
        const f = choice.file;
        const entry = restored.get(f.uri) ?? [...restored.values()].find((r) => sameUri(r.uri, f.uri));
        if (!entry) continue;
        const rel = displayPath(f.uri, roots());
        const answered = this.waitForAnswer(conflicts > 0);
        await this.openDiff(preview.previewId, entry, 'current-restored', `${basename(rel)}: current ↔ after rewind (${f.status})`, false);
        const verdict = await answered;
        if (verdict === 'files') continue;
        if (verdict === 'cancel') return;
        await this.apply({ previewId: preview.previewId, force: verdict === 'force' });
        return;
      }
      await this.apply({ previewId: preview.previewId, force: choice.act === 'force' });
      return;
    }
  }

  /** The preview's list: a file picked (to see its diff) or an action. */
  private async pickFrom<T extends vscode.QuickPickItem>(items: T[], title: string): Promise<T | undefined> {
    const qp = vscode.window.createQuickPick<T>();
    qp.title = title;
    qp.placeholder = 'Pick a file to see its diff, or apply the rewind';
    qp.items = items;
    qp.ignoreFocusOut = true;
    qp.matchOnDescription = true;
    try {
      return await new Promise<T | undefined>((resolve) => {
        qp.onDidAccept(() => {
          const item = qp.selectedItems[0];
          if (!item) return;
          resolve(item);
          qp.hide();
        });
        qp.onDidHide(() => resolve(undefined));
        qp.show();
      });
    } finally {
      qp.dispose();
    }
  }

  /** The answer given from a rewind diff's title bar (a newer preview withdraws an older one). */
  private waitForAnswer(conflicts: boolean): Promise<RewindVerdict> {
    this.settle('cancel');
    void vscode.commands.executeCommand('setContext', 'minicode.rewindPending', true);
    void vscode.commands.executeCommand('setContext', 'minicode.rewindConflicts', conflicts);
    return new Promise<RewindVerdict>((resolve) => (this.verdict = resolve));
  }

  /** Answer the rewind preview on show (the diff's title bar: Apply, Apply with conflict markers, Files, Cancel). */
  settle(verdict: RewindVerdict): void {
    const resolve = this.verdict;
    this.verdict = undefined;
    if (!resolve) return;
    void vscode.commands.executeCommand('setContext', 'minicode.rewindPending', false);
    resolve(verdict);
  }

  /** Apply a preview by its id (already confirmed), or a target directly (the server's applyEdit
   *  then opens the Refactor Preview while `minicode.rewind.confirm` is true). */
  async apply(args: { previewId?: string; force?: boolean } & Partial<RewindRequest>): Promise<void> {
    try {
      const result = await this.server.execute(Commands.rewindApply, wireArgs(args));
      if (result?.applied) {
        const n = result.files?.length;
        const choice = await vscode.window.showInformationMessage(
          `MiniCode: rewind applied${n !== undefined ? ` (${n} file${n === 1 ? '' : 's'})` : ''}.`,
          'Undo Rewind',
        );
        if (choice === 'Undo Rewind') await vscode.commands.executeCommand('minicode.undoRewind');
      } else {
        void vscode.window.showInformationMessage(`MiniCode: rewind not applied${result?.reason ? `: ${result.reason}` : ''}.`);
      }
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code === ErrorCodes.stalePreview) {
        void vscode.window.showWarningMessage('MiniCode: the files changed since the preview; preview the rewind again.');
      } else {
        void showError(`MiniCode: rewind failed: ${errorMessage(err)}`);
      }
    }
  }

  /** The agent's change to one file of an edit group: the file before the group ↔ now. */
  async openAgentDiff(sessionId: string, groupId: string, uri: string): Promise<void> {
    try {
      const { preview, restored } = await this.preview({ sessionId, target: { groupId }, uris: [uri] });
      const entry = restored.get(uri) ?? [...restored.values()].find((r) => sameUri(r.uri, uri));
      if (!entry) {
        void vscode.window.showInformationMessage('MiniCode: the agent\'s change to this file is already undone.');
        return;
      }
      const rel = displayPath(uri, roots());
      const before: RestoredFile = entry;
      await this.openDiff(preview.previewId, before, 'restored-current', `${basename(rel)}: before the agent's change ↔ now`);
    } catch (err) {
      void showError(`MiniCode: cannot show the agent's change: ${errorMessage(err)}`);
    }
  }

  dispose(): void {
    this.settle('cancel');
    this.docs.dispose();
  }
}
