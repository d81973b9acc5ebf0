// What `@` can mention in the chat prompt, from the workbench: the workspace's files (listed
// once, kept a few seconds), the selection of the active editor (kept as it was when offered)
// and its Problems; and, when a prompt is sent, the task context its mentions give.
import * as vscode from 'vscode';
import { plural } from './model/format';
import {
  mentionContext,
  mentionsOf,
  PROBLEMS,
  SELECTION,
  suggest,
  type MentionItem,
  type SelectionSnapshot,
} from './model/mentions';
import type { TaskContext } from './protocol';

/** At most this many files are listed (a huge workspace still answers at once). */
const MAX_FILES = 5000;
const FILES_TTL_MS = 10_000;
const EXCLUDE = '**/{node_modules,.git,.hg,.svn,.venv,venv,__pycache__,.minicode,.mypy_cache,.pytest_cache,dist,out}/**';
/** At most this many Problems go along with `@problems`. */
const MAX_PROBLEMS = 50;

function snapshot(editor: vscode.TextEditor): SelectionSnapshot {
  const sel = editor.selection;
  return {
    uri: editor.document.uri.toString(),
    range: { start: { line: sel.start.line, character: sel.start.character }, end: { line: sel.end.line, character: sel.end.character } },
    text: editor.document.getText(sel),
  };
}

export class MentionSource {
  private files: { at: number; byPath: Map<string, string> } | undefined;
  private listing: Promise<Map<string, string>> | undefined;
  /** The selection offered with the last suggestions: `@selection` sends it as it was then. */
  private selection: SelectionSnapshot | undefined;

  constructor(
    private readonly editorContext: () => TaskContext | undefined,
    private readonly toLsp: (d: vscode.Diagnostic) => Record<string, unknown>,
  ) {}

  /** Workspace files by their workspace-relative path (the mention's text) -> URI. */
  private async workspaceFiles(): Promise<Map<string, string>> {
    if (this.files && Date.now() - this.files.at < FILES_TTL_MS) return this.files.byPath;
    this.listing ??= (async () => {
      try {
        const uris = await vscode.workspace.findFiles('**/*', EXCLUDE, MAX_FILES);
        const byPath = new Map<string, string>();
        for (const u of uris) byPath.set(vscode.workspace.asRelativePath(u), u.toString());
        this.files = { at: Date.now(), byPath };
        return byPath;
      } finally {
        this.listing = undefined;
      }
    })();
    return this.listing;
  }

  private editor(): vscode.TextEditor | undefined {
    const e = vscode.window.activeTextEditor;
    return e && ['file', 'untitled'].includes(e.document.uri.scheme) ? e : undefined;
  }

  private problemsOf(uri: vscode.Uri): vscode.Diagnostic[] {
    return vscode.languages.getDiagnostics(uri).slice(0, MAX_PROBLEMS);
  }

  /** The suggestions for what follows an `@`. */
  async suggestions(query: string): Promise<MentionItem[]> {
    const specials: MentionItem[] = [];
    const editor = this.editor();
    this.selection = undefined;
    if (editor) {
      const name = vscode.workspace.asRelativePath(editor.document.uri);
      const sel = editor.selection;
      if (!sel.isEmpty) {
        this.selection = snapshot(editor);
        const lines = sel.start.line === sel.end.line ? `line ${sel.start.line + 1}` : `lines ${sel.start.line + 1}–${sel.end.line + 1}`;
        specials.push({ kind: 'selection', insert: SELECTION, detail: `${lines} of ${name}` });
      }
      const n = vscode.languages.getDiagnostics(editor.document.uri).length;
      if (n) specials.push({ kind: 'problems', insert: PROBLEMS, detail: `${plural(n, 'problem')} in ${name}` });
    }
    return suggest(query, specials, [...(await this.workspaceFiles()).keys()]);
  }

  /** The URI a mentioned path names: a listed file, else a file of that path under a workspace folder. */
  private async resolve(path: string): Promise<string | undefined> {
    const listed = (await this.workspaceFiles()).get(path);
    if (listed) return listed;
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      const uri = vscode.Uri.joinPath(folder.uri, ...path.split('/'));
      try {
        if ((await vscode.workspace.fs.stat(uri)).type & vscode.FileType.File) return uri.toString();
      } catch {
        // not there
      }
    }
    return undefined;
  }

  /** The task context for `prompt`: the editor's, with what the prompt mentions. */
  async contextFor(prompt: string): Promise<TaskContext | undefined> {
    const mentions = mentionsOf(prompt);
    const files: string[] = [];
    for (const path of mentions.paths) {
      if (path.split('/').includes('..')) continue;
      const uri = await this.resolve(path);
      if (uri) files.push(uri);
    }
    const editor = this.editor();
    const problems = mentions.problems && editor
      ? { uri: editor.document.uri.toString(), items: this.problemsOf(editor.document.uri).map((d) => this.toLsp(d)) }
      : undefined;
    // typed by hand (never offered): the selection now
    const selection = this.selection ?? (mentions.selection && editor && !editor.selection.isEmpty ? snapshot(editor) : undefined);
    this.selection = undefined;
    return mentionContext(this.editorContext(), mentions, { selection, problems, files });
  }
}
