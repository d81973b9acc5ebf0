// A stand-in for the `vscode` module in unit tests (vitest aliases `vscode` here): only what the
// modules under test touch, recording what they ask of the editor. The real workbench is
// exercised by test/e2e/e2e.js.
/* eslint-disable @typescript-eslint/no-explicit-any */
type Listener<T> = (e: T) => unknown;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  event = (l: Listener<T>) => {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export class Uri {
  constructor(readonly scheme: string, readonly path: string, readonly query = '') {}
  static parse(s: string): Uri {
    const m = /^([a-z][a-z0-9+.-]*):(?:\/\/[^/]*)?([^?]*)(?:\?(.*))?$/i.exec(s);
    return m ? new Uri(m[1], m[2], m[3] ?? '') : new Uri('file', s);
  }
  static from(c: { scheme: string; path: string; query?: string }): Uri {
    return new Uri(c.scheme, c.path, c.query ?? '');
  }
  static joinPath(u: Uri, ...parts: string[]): Uri {
    return new Uri(u.scheme, [u.path, ...parts].join('/'));
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${this.path}${this.query ? `?${this.query}` : ''}`;
  }
}

export class CancellationTokenSource {
  private emitter = new EventEmitter<void>();
  token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  cancel(): void {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
}

/** A quick pick the test drives: `pick(label)` accepts an item, `visible` says whether it is shown. */
export class QuickPick {
  title = '';
  placeholder = '';
  items: { label: string }[] = [];
  selectedItems: { label: string }[] = [];
  ignoreFocusOut = false;
  matchOnDescription = false;
  visible = false;
  private accept = new EventEmitter<void>();
  private hidden = new EventEmitter<void>();
  onDidAccept = this.accept.event;
  onDidHide = this.hidden.event;
  show(): void {
    this.visible = true;
  }
  hide(): void {
    if (!this.visible) return;
    this.visible = false;
    this.hidden.fire();
  }
  dispose(): void {
    this.visible = false;
  }
  pick(label: string): void {
    const item = this.items.find((i) => i.label.includes(label));
    if (!item) throw new Error(`no item ${label} in ${this.items.map((i) => i.label).join(', ')}`);
    this.selectedItems = [item];
    this.accept.fire();
  }
}

export const calls = {
  errors: [] as string[],
  infos: [] as string[],
  commands: [] as unknown[][],
  /** What showErrorMessage answers (a promise that never settles: a toast nobody dismissed). */
  errorAnswer: () => new Promise<string | undefined>(() => undefined) as Promise<string | undefined>,
  config: {} as Record<string, unknown>,
  /** What inspect() answers for a key (else its value as the user's). */
  inspect: {} as Record<string, { globalValue?: unknown; workspaceValue?: unknown; workspaceFolderValue?: unknown }>,
};

const channel = () => ({ info() {}, warn() {}, error() {}, debug() {}, trace() {}, append() {}, appendLine() {}, show() {}, dispose() {} });

export const window = {
  createOutputChannel: channel,
  showErrorMessage: (m: string) => {
    calls.errors.push(m);
    return calls.errorAnswer();
  },
  showWarningMessage: async (m: string) => {
    calls.infos.push(m);
    return undefined;
  },
  showInformationMessage: async (m: string) => {
    calls.infos.push(m);
    return undefined;
  },
  registerWebviewViewProvider: () => ({ dispose() {} }),
  withProgress: async (_o: unknown, task: () => Promise<unknown>) => task(),
  /** The quick picks shown (the test picks from them). */
  quickPicks: [] as QuickPick[],
  createQuickPick: () => {
    const qp = new QuickPick();
    window.quickPicks.push(qp);
    return qp;
  },
  visibleTextEditors: [] as unknown[],
  activeTextEditor: undefined,
};

export const workspace = {
  workspaceFolders: [{ uri: Uri.parse('file:///ws') }],
  textDocuments: [] as { uri: Uri; getText(): string; isDirty?: boolean }[],
  getConfiguration: (section?: string) => ({
    get: (key: string) => calls.config[section ? `${section}.${key}` : key],
    inspect: (key: string) => calls.inspect[section ? `${section}.${key}` : key] ?? { globalValue: calls.config[section ? `${section}.${key}` : key] },
  }),
  onDidChangeConfiguration: () => ({ dispose() {} }),
  onDidGrantWorkspaceTrust: () => ({ dispose() {} }),
  isTrusted: true,
  registerTextDocumentContentProvider: () => ({ dispose() {} }),
  findFiles: async (_include: string, _exclude?: string, max?: number) => [...files.keys()].filter((k) => k.startsWith('file:///ws/')).slice(0, max).map((k) => Uri.parse(k)),
  asRelativePath: (u: Uri | string) => {
    const s = typeof u === 'string' ? u : u.toString();
    return s.startsWith('file:///ws/') ? s.slice('file:///ws/'.length) : s;
  },
  fs: {
    stat: async (u: Uri) => {
      if (!files.has(u.toString())) throw new Error('ENOENT');
      return { type: FileType.File };
    },
    readFile: async (u: Uri): Promise<Uint8Array> => {
      const text = files.get(u.toString());
      if (text === undefined) throw new Error('ENOENT');
      return new TextEncoder().encode(text);
    },
  },
};

/** Disk contents by uri, for workspace.fs.readFile. */
export const files = new Map<string, string>();

export const commands = {
  executeCommand: async (...args: unknown[]) => {
    calls.commands.push(args);
    return undefined;
  },
  registerCommand: () => ({ dispose() {} }),
};

export const env: { remoteName?: string } = {};
export const languages = { getDiagnostics: () => [] };
export enum FileType { File = 1, Directory = 2 }
export enum StatusBarAlignment { Left = 1, Right = 2 }
export enum ViewColumn { Beside = -2 }
export enum ProgressLocation { Window = 10 }
export enum QuickPickItemKind { Separator = -1, Default = 0 }
export class ThemeColor { constructor(readonly id: string) {} }
export class ThemeIcon { constructor(readonly id: string) {} }
export default {} as any;
