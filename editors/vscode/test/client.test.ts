import { describe, expect, it, vi } from 'vitest';
import * as vscode from 'vscode';
import { stderrLevel } from '../src/model/serverLog';

// the language client is not started in these tests (no server command is found)
vi.mock('vscode-languageclient/node', () => ({
  LanguageClient: class {},
  CancellationToken: { None: {} },
  DidChangeConfigurationNotification: { type: {} },
  ExecuteCommandRequest: { type: {} },
  ShowMessageRequest: { type: {} },
  RevealOutputChannelOn: { Never: 4 },
  State: { Running: 2, Starting: 3, Stopped: 1 },
  TransportKind: { stdio: 0 },
}));

const stub = vscode as unknown as typeof import('./stubs/vscode');

describe('server start', () => {
  it('a missing server command does not hold the restart queue until its toast is dismissed', async () => {
    const { ServerManager } = await import('../src/client');
    stub.calls.config = { 'minicode.server.command': ['minicode-lsp-not-installed-anywhere', 'serve'] };
    stub.calls.errors.length = 0;
    // the toast is never dismissed (its promise never settles)
    stub.calls.errorAnswer = () => new Promise(() => undefined);
    const server = new ServerManager([]);
    const first = server.start();
    const outcome = await Promise.race([first.then(() => 'returned'), new Promise((r) => setTimeout(() => r('stuck'), 2000))]);
    expect(outcome).toBe('returned');
    expect(server.state).toBe('failed');
    expect(stub.calls.errors.some((m) => m.includes('minicode-lsp-not-installed-anywhere'))).toBe(true);
    // the user fixes the setting: the restart runs now (it is queued behind the first start)
    stub.calls.config = { 'minicode.server.command': ['another-missing-command', 'serve'] };
    const again = await Promise.race([server.restart().then(() => 'returned'), new Promise((r) => setTimeout(() => r('stuck'), 2000))]);
    expect(again).toBe('returned');
    expect(stub.calls.errors.some((m) => m.includes('another-missing-command'))).toBe(true);
  });
});

describe('Open Settings on the "server not found" toast', () => {
  async function openSettingsFrom(remoteName: string | undefined, trusted = true): Promise<unknown[][]> {
    const { ServerManager } = await import('../src/client');
    (stub.env as { remoteName?: string }).remoteName = remoteName;
    stub.workspace.isTrusted = trusted;
    stub.calls.config = { 'minicode.server.command': ['minicode-lsp-not-installed-anywhere', 'serve'] };
    stub.calls.commands.length = 0;
    stub.calls.errorAnswer = async () => 'Open Settings';
    try {
      await new ServerManager([]).start();
      await vi.waitFor(() => expect(stub.calls.commands.length).toBeGreaterThan(0));
      return [...stub.calls.commands];
    } finally {
      (stub.env as { remoteName?: string }).remoteName = undefined;
      stub.workspace.isTrusted = true;
    }
  }

  it('in a remote window (code-server, SSH) opens the Remote tab, where the machine setting applies', async () => {
    expect(await openSettingsFrom('ssh-remote')).toEqual([['workbench.action.openRemoteSettings', { query: 'minicode.server.command' }]]);
  });

  it('in a local window opens the User tab on the setting', async () => {
    expect(await openSettingsFrom(undefined)).toEqual([['workbench.action.openSettings', 'minicode.server.command']]);
  });
});

describe('Restricted Mode: the server command', () => {
  it('a workspace value of minicode.server.command is not run while the workspace is untrusted', async () => {
    const { ServerManager } = await import('../src/client');
    stub.calls.errors.length = 0;
    stub.calls.errorAnswer = () => new Promise(() => undefined);
    stub.calls.inspect = { 'minicode.server.command': { workspaceValue: ['./workspace-chosen-binary', 'serve'], globalValue: ['user-chosen-missing', 'serve'] } };
    stub.workspace.isTrusted = false;
    try {
      await new ServerManager([]).start();
    } finally {
      stub.workspace.isTrusted = true;
      stub.calls.inspect = {};
    }
    expect(stub.calls.errors.some((m) => m.includes('"user-chosen-missing"'))).toBe(true);
    expect(stub.calls.errors.some((m) => m.includes('workspace-chosen-binary'))).toBe(false);
  });
});

describe('server stderr in the log', () => {
  it('records that also come as window/logMessage are not logged again as errors', () => {
    expect(stderrLevel('2026-12-02 10:00:00,123 WARNING minicode_lsp.config: no provider configured')).toBe('debug');
    expect(stderrLevel('2026-12-02 10:00:00,123 ERROR minicode_lsp.server: boom')).toBe('debug');
  });
  it('pygls records keep their level; anything else (a traceback) stays an error', () => {
    expect(stderrLevel('2026-12-02 10:00:00,123 WARNING pygls.protocol: late reply')).toBe('warn');
    expect(stderrLevel('2026-12-02 10:00:00,123 INFO pygls.server: started')).toBe('info');
    expect(stderrLevel('Traceback (most recent call last):')).toBe('error');
    expect(stderrLevel('ModuleNotFoundError: No module named lsprotocol')).toBe('error');
  });
});
