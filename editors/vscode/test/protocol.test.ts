import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Commands } from '../src/protocol';

describe('package.json settings mirror config.py', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
  const props: Record<string, { default: unknown }> = pkg.contributes.configuration.properties;

  it('has the settings the issue asks for', () => {
    for (const key of [
      'minicode.server.command',
      'minicode.trace.server',
      'minicode.providers',
      'minicode.agent.profile',
      'minicode.agent.permissionMode',
      'minicode.agent.testCommand',
      'minicode.agent.maxSteps',
      'minicode.agent.commandTimeoutS',
      'minicode.rewind.confirm',
      'minicode.store.path',
      'minicode.store.maxSessions',
      'minicode.memory.reflection',
    ]) {
      expect(props, key).toHaveProperty([key]);
    }
    expect(props['minicode.server.command'].default).toEqual(['minicode-lsp', 'serve']);
  });

  it('uses config.py defaults', () => {
    expect(props['minicode.agent.profile'].default).toBe('single');
    expect(props['minicode.agent.permissionMode'].default).toBe('ask');
    expect(props['minicode.agent.maxSteps'].default).toBe(0);
    expect(props['minicode.agent.commandTimeoutS'].default).toBe(120);
    expect(props['minicode.rewind.confirm'].default).toBe(true);
    expect(props['minicode.store.maxSessions'].default).toBe(500);
    expect(props['minicode.memory.reflection'].default).toBe(false);
    expect(props['minicode.providers'].default).toEqual([]);
  });

  it('registers no command id the server owns', () => {
    const ids: string[] = pkg.contributes.commands.map((c: { command: string }) => c.command);
    for (const id of ids) expect(Object.values(Commands) as string[]).not.toContain(id);
  });
});
