import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explicitValue, findExecutable, serverLaunch, settingsTree, splitCommandLine } from '../src/model/settings';

describe('server command', () => {
  it('defaults to minicode-lsp serve', () => {
    expect(serverLaunch(undefined, undefined)).toEqual({ command: 'minicode-lsp', args: ['serve'] });
    expect(serverLaunch([], [])).toEqual({ command: 'minicode-lsp', args: ['serve'] });
  });
  it('takes an array or a string, plus extra args', () => {
    expect(serverLaunch(['/v/bin/minicode-lsp', 'serve'], ['--log', 'debug'])).toEqual({
      command: '/v/bin/minicode-lsp',
      args: ['serve', '--log', 'debug'],
    });
    expect(serverLaunch('python -m minicode_lsp serve', [])).toEqual({ command: 'python', args: ['-m', 'minicode_lsp', 'serve'] });
  });
  it('splits with quotes', () => {
    expect(splitCommandLine(`"/opt/my tools/minicode-lsp" serve ''`)).toEqual(['/opt/my tools/minicode-lsp', 'serve', '']);
  });
});

describe('settings sent to the server', () => {
  it('prefers folder over workspace over user values, and ignores defaults', () => {
    expect(explicitValue({ globalValue: 'a', workspaceValue: 'b' })).toBe('b');
    expect(explicitValue({ globalValue: 'a', workspaceValue: 'b', workspaceFolderValue: 'c' })).toBe('c');
    expect(explicitValue({})).toBeUndefined();
    expect(explicitValue(undefined)).toBeUndefined();
  });
  it('builds the config.py tree from explicit settings only, without client-only sections', () => {
    const tree = settingsTree([
      ['minicode.server.command', ['x']],
      ['minicode.trace.server', 'verbose'],
      ['minicode.agent.permissionMode', 'auto'],
      ['minicode.agent.profile', undefined],
      ['minicode.rewind.confirm', false],
      ['minicode.providers', [{ name: 'p', baseUrl: 'http://127.0.0.1:1/v1' }]],
      ['other.setting', 1],
    ]);
    expect(tree).toEqual({
      agent: { permissionMode: 'auto' },
      rewind: { confirm: false },
      providers: [{ name: 'p', baseUrl: 'http://127.0.0.1:1/v1' }],
    });
  });
});

describe('finding the server executable', () => {
  const dir = mkdtempSync(join(tmpdir(), 'minicode-exe-'));
  const exe = join(dir, 'minicode-lsp');
  writeFileSync(exe, '#!/bin/sh\n');
  chmodSync(exe, 0o755);
  const plain = join(dir, 'not-executable');
  writeFileSync(plain, '');
  chmodSync(plain, 0o644);

  it('finds a bare name on PATH', () => {
    expect(findExecutable('minicode-lsp', `/nonexistent:${dir}`)).toBe(exe);
  });
  it('accepts a path only when it is an executable file', () => {
    expect(findExecutable(exe, '')).toBe(exe);
    expect(findExecutable(dir, '')).toBeUndefined();
    expect(findExecutable(plain, '')).toBeUndefined();
    expect(findExecutable(join(dir, 'missing'), '')).toBeUndefined();
  });
  it('reports a missing command as not found', () => {
    expect(findExecutable('minicode-lsp-missing', dir)).toBeUndefined();
    expect(findExecutable('minicode-lsp', undefined)).toBeUndefined();
  });
});
