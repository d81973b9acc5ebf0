// The Sessions side panel: sessions (newest first) -> turns -> edit groups -> files.
import * as vscode from 'vscode';
import type { ServerManager } from './client';
import { errorMessage, log } from './logger';
import { sessionNode, sortSessions, turnNodes, type TreeNode } from './model/sessions';
import { Commands, EventTypes } from './protocol';

const ICONS: Record<string, string> = {
  session: 'comment-discussion',
  turn: 'debug-stackframe-dot',
  group: 'git-commit',
  info: 'info',
};

export class SessionsView implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<TreeNode>;
  private timer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly server: ServerManager) {
    this.view = vscode.window.createTreeView('minicode.sessions', { treeDataProvider: this, showCollapseAll: true });
    this.disposables.push(
      this.view,
      server.onSessions(() => this.refresh()),
      server.onState((s) => {
        if (s === 'running' || s === 'stopped' || s === 'failed') this.refresh();
      }),
      server.onEvent((ev) => {
        if (ev.type === EventTypes.filesChanged || ev.type === EventTypes.turnFinished) this.refresh();
      }),
    );
  }

  /** Refresh soon (notifications come in bursts). */
  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.changed.fire(undefined);
    }, 200);
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const state =
      node.kind === 'session'
        ? vscode.TreeItemCollapsibleState.Collapsed
        : node.expandable
          ? node.kind === 'turn'
            ? vscode.TreeItemCollapsibleState.Expanded
            : vscode.TreeItemCollapsibleState.Collapsed
          : vscode.TreeItemCollapsibleState.None;
    const item = new vscode.TreeItem(node.label, state);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.kind;
    if (node.kind === 'file' && node.uri) {
      item.resourceUri = vscode.Uri.parse(node.uri);
      item.iconPath = vscode.ThemeIcon.File;
      item.command = { command: 'minicode.openAgentDiff', title: "Open Diff of the Agent's Change", arguments: [node] };
    } else {
      item.iconPath = new vscode.ThemeIcon(ICONS[node.kind] ?? 'circle-outline');
    }
    if (node.kind === 'session') {
      item.command = { command: 'minicode.openInChat', title: 'Open in Chat', arguments: [node] };
    }
    if (node.kind === 'info' && !node.sessionId && !this.server.running) {
      item.command = { command: 'minicode.showLogs', title: 'Show Logs' };
    }
    return item;
  }

  async getChildren(node?: TreeNode): Promise<TreeNode[]> {
    if (!this.server.running) {
      if (node) return [];
      const state = this.server.state;
      return [info('', state === 'starting' ? 'Starting the MiniCode server…' : `The MiniCode server is ${state === 'failed' ? 'not running' : 'stopped'}: see MiniCode: Show Logs`)];
    }
    try {
      if (!node) {
        const result = await this.server.execute(Commands.sessionList, { limit: 100 });
        const now = Date.now();
        return sortSessions(result.sessions).map((s) => sessionNode(s, now));
      }
      if (node.kind === 'session') {
        const detail = await this.server.execute(Commands.sessionShow, { sessionId: node.sessionId });
        const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.toString());
        const turns = turnNodes(detail, roots);
        return turns.length ? turns : [info(node.sessionId, 'no turns yet')];
      }
      return node.children ?? [];
    } catch (err) {
      log.warn(`sessions view: ${errorMessage(err)}`);
      return [info(node?.sessionId ?? '', `could not load: ${errorMessage(err)}`)];
    }
  }

  getParent(): undefined {
    return undefined;
  }

  async focus(): Promise<void> {
    await vscode.commands.executeCommand('minicode.sessions.focus');
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.changed.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}

function info(sessionId: string, label: string): TreeNode {
  return { kind: 'info', id: `info:${sessionId}:${label}`, label, sessionId, expandable: false };
}
