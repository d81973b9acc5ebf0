import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Commands, EventTypes, Notifications, StopReasons } from '../src/protocol';

const root = join(__dirname, '..', '..', '..');
// the contract's names and codes live in protocol_ids.py (protocol.py re-exports them)
const pyPath = join(root, 'minicode_lsp', 'protocol_ids.py');

/** The string constants `NAME = "value"` of protocol_ids.py whose name starts with prefix. */
function pyConstants(prefix: string): string[] {
  const src = readFileSync(pyPath, 'utf8');
  return [...src.matchAll(new RegExp(`^${prefix}[A-Z_]+ = "([^"]+)"`, 'gm'))].map((m) => m[1]);
}

describe('protocol.ts mirrors protocol.py', () => {
  it('has every command id', () => {
    expect(Object.values(Commands).sort()).toEqual(pyConstants('CMD_').sort());
    expect(Object.values(Commands).length).toBeGreaterThanOrEqual(16);
  });
  it('has every notification method', () => {
    expect(Object.values(Notifications).sort()).toEqual(pyConstants('NOTIFY_').sort());
  });
  it('has every event type', () => {
    expect(Object.values(EventTypes).sort()).toEqual(pyConstants('EV_').sort());
  });
  it('has every stop reason', () => {
    const src = readFileSync(pyPath, 'utf8');
    const block = /STOP_REASONS: tuple\[str, \.\.\.\] = \(([\s\S]*?)\)/.exec(src)?.[1] ?? '';
    const reasons = [...block.matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
    expect([...StopReasons]).toEqual(reasons);
  });
});

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
