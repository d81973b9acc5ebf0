import { describe, expect, it } from 'vitest';
import { explicitValue, serverLaunch, settingsTree, splitCommandLine } from '../src/model/settings';

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
