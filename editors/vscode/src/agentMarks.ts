// Agent edits marked in the editor: the lines an agent's workspace edit changed (auto mode, or
// an approved edit) get a bar in the gutter and a mark in the overview ruler, until the user
// edits those lines (marks live in this window only).
import * as vscode from 'vscode';
import { afterUserChange, changedLines, merge, type LineRange } from './model/marks';

export class AgentMarks implements vscode.Disposable {
  private readonly marks = new Map<string, LineRange[]>();
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    borderStyle: 'solid',
    borderWidth: '0 0 0 3px',
    borderColor: new vscode.ThemeColor('editorGutter.addedBackground'),
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.addedForeground'),
    overviewRulerLane: vscode.OverviewRulerLane.Left,
  });
  /** Documents the agent's edit is being applied to right now (their change events are not the user's). */
  private applying = 0;
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    this.disposables.push(
      this.decoration,
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      // kept by uri when the document closes: an edit applied to a file not shown (the
      // document VS Code opened for it is closed soon after) shows when the file is opened
      vscode.window.onDidChangeVisibleTextEditors(() => this.paintAll()),
    );
  }

  /** Apply an agent edit through `apply`, then mark the lines it changed. */
  async apply<T extends { applied: boolean }>(edit: { documentChanges?: unknown[]; changes?: Record<string, unknown[]> }, apply: () => Promise<T>): Promise<T> {
    this.applying++;
    let result: T;
    try {
      result = await apply();
    } finally {
      this.applying--;
    }
    if (result.applied) this.mark(edit);
    return result;
  }

  private mark(edit: { documentChanges?: unknown[]; changes?: Record<string, unknown[]> }): void {
    type TE = { range: { start: { line: number; character: number }; end: { line: number; character: number } }; newText: string };
    const byUri = new Map<string, TE[]>();
    for (const c of (edit.documentChanges ?? []) as { textDocument?: { uri: string }; edits?: TE[] }[]) {
      if (c.textDocument?.uri && c.edits) byUri.set(c.textDocument.uri, [...(byUri.get(c.textDocument.uri) ?? []), ...c.edits]);
    }
    for (const [uri, edits] of Object.entries(edit.changes ?? {})) byUri.set(uri, [...(byUri.get(uri) ?? []), ...(edits as TE[])]);
    for (const [uri, edits] of byUri) {
      const key = vscode.Uri.parse(uri).toString();
      this.marks.set(key, merge([...(this.marks.get(key) ?? []), ...changedLines(edits)]));
    }
    this.paintAll();
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    if (this.applying > 0 || e.contentChanges.length === 0) return;
    const key = e.document.uri.toString();
    let ranges = this.marks.get(key);
    if (!ranges) return;
    for (const c of e.contentChanges) ranges = afterUserChange(ranges, c.range.start.line, c.range.end.line, c.text.split('\n').length - 1);
    if (ranges.length) this.marks.set(key, ranges);
    else this.marks.delete(key);
    this.paintAll();
  }

  /** Lines marked in a document now (for tests and the chat card). */
  linesOf(uri: string): LineRange[] {
    return this.marks.get(vscode.Uri.parse(uri).toString()) ?? [];
  }

  private paintAll(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const ranges = this.marks.get(editor.document.uri.toString()) ?? [];
      editor.setDecorations(this.decoration, ranges.map((r) => new vscode.Range(r.start, 0, r.end, 0)));
    }
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}
