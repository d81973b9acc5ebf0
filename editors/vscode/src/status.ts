// The readiness status bar item: ready / degraded / blocked, failing checks in the tooltip.
import * as vscode from 'vscode';
import type { ServerManager, ServerState } from './client';
import { statusText, tooltipMarkdown } from './model/readiness';
import type { ReadinessReport } from './protocol';

export class ReadinessStatus implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private report: ReadinessReport | undefined;
  private serverState: ServerState = 'stopped';
  private readonly disposables: vscode.Disposable[] = [];

  constructor(server: ServerManager) {
    this.item = vscode.window.createStatusBarItem('minicode.readiness', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'MiniCode Readiness';
    this.item.command = 'minicode.showReadiness';
    this.disposables.push(
      server.onReadiness((r) => this.setReport(r)),
      server.onState((s) => {
        this.serverState = s;
        if (s !== 'running') this.report = undefined;
        this.render();
      }),
    );
    this.serverState = server.state;
    this.render();
    this.item.show();
  }

  get latest(): ReadinessReport | undefined {
    return this.report;
  }

  setReport(report: ReadinessReport): void {
    this.report = report;
    this.render();
  }

  private render(): void {
    const state = this.serverState === 'running' ? 'running' : this.serverState;
    this.item.text = statusText(this.report, state);
    const md = new vscode.MarkdownString(
      this.serverState === 'failed' ? 'MiniCode: the server is not running. Click for details, or run **MiniCode: Show Logs**.' : tooltipMarkdown(this.report),
    );
    md.supportThemeIcons = true;
    this.item.tooltip = md;
    this.item.backgroundColor =
      this.report?.state === 'blocked' || this.serverState === 'failed'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : this.report?.state === 'degraded'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  dispose(): void {
    this.item.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
