// Read-only virtual documents served from memory (transcripts, reports, restored file text).
import * as vscode from 'vscode';

export class VirtualDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly registration: vscode.Disposable;

  constructor(readonly scheme: string) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(scheme, this);
  }

  uri(path: string, query = ''): vscode.Uri {
    return vscode.Uri.from({ scheme: this.scheme, path: path.startsWith('/') ? path : '/' + path, query });
  }

  /** Set the text of a document; open editors showing it refresh. */
  set(uri: vscode.Uri, text: string): vscode.Uri {
    const key = uri.toString();
    if (this.texts.get(key) !== text) {
      this.texts.set(key, text);
      this.changed.fire(uri);
    }
    return uri;
  }

  delete(uri: vscode.Uri): void {
    this.texts.delete(uri.toString());
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  /** Show a document in an editor (read-only). */
  async show(uri: vscode.Uri, options: vscode.TextDocumentShowOptions = {}): Promise<vscode.TextEditor> {
    const doc = await vscode.workspace.openTextDocument(uri);
    return vscode.window.showTextDocument(doc, { preview: false, ...options });
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}
