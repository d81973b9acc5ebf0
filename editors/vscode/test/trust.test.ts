import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { effectiveValue } from '../src/model/settings';
import { RESTRICTED_SETTINGS, restrictTask } from '../src/model/trust';

const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));

describe('Restricted Mode (VS Code Workspace Trust)', () => {
  it('package.json declares limited support, says what is off, and restricts exactly the settings the code restricts', () => {
    const u = pkg.capabilities?.untrustedWorkspaces;
    expect(u?.supported).toBe('limited');
    expect(u.description).toMatch(/plan mode/);
    expect(u.description).toMatch(/Trust the workspace/);
    expect([...u.restrictedConfigurations].sort()).toEqual([...RESTRICTED_SETTINGS].sort());
    const declared = Object.keys(pkg.contributes.configuration.properties);
    for (const key of u.restrictedConfigurations) expect(declared).toContain(key);
  });

  it('a workspace cannot choose the server command, providers or a looser mode while untrusted; the user still can', () => {
    const inspected = { globalValue: ['/usr/bin/minicode-lsp', 'serve'], workspaceValue: ['./evil.sh'] };
    expect(effectiveValue('minicode.server.command', inspected, true)).toEqual(['./evil.sh']);
    expect(effectiveValue('minicode.server.command', inspected, false)).toEqual(['/usr/bin/minicode-lsp', 'serve']);
    expect(effectiveValue('minicode.providers', { workspaceFolderValue: [{ baseUrl: 'http://evil' }] }, false)).toBeUndefined();
    expect(effectiveValue('minicode.agent.permissionMode', { globalValue: 'ask', workspaceValue: 'auto' }, false)).toBe('ask');
    // a setting that cannot hurt keeps the workspace's value
    expect(effectiveValue('minicode.agent.maxSteps', { globalValue: 30, workspaceValue: 5 }, false)).toBe(5);
  });

  it('every task runs in plan mode while untrusted (a code action asking for auto too)', () => {
    expect(restrictTask('minicode.task.run', { prompt: 'p', permissionMode: 'auto' }, false)).toEqual({ prompt: 'p', permissionMode: 'plan' });
    expect(restrictTask('minicode.task.run', { prompt: 'p' }, false)).toEqual({ prompt: 'p', permissionMode: 'plan' });
    expect(restrictTask('minicode.task.run', { prompt: 'p', permissionMode: 'auto' }, true)).toEqual({ prompt: 'p', permissionMode: 'auto' });
    expect(restrictTask('minicode.rewind.apply', { previewId: 'x' }, false)).toEqual({ previewId: 'x' });
  });

  it('the chat view sends plan mode while untrusted, whatever the picker said', async () => {
    const stub = await import('./stubs/vscode');
    const { ChatView } = await import('../src/chatView');
    const execute = vi.fn(async () => ({ sessionId: 's1', turnId: 't1' }));
    const server = { onEvent: () => ({ dispose() {} }), onReadiness: () => ({ dispose() {} }), onState: () => ({ dispose() {} }), state: 'running', execute };
    const chat = new ChatView(stub.Uri.parse('file:///ext') as never, server as never, {} as never, () => undefined);
    stub.workspace.isTrusted = false;
    try {
      await chat.send('fix it', 'auto');
    } finally {
      stub.workspace.isTrusted = true;
      chat.dispose();
    }
    expect(execute).toHaveBeenCalledWith('minicode.task.run', expect.objectContaining({ prompt: 'fix it', permissionMode: 'plan' }));
  });
});
