import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { plural } from '../src/model/format';

const root = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

describe('package.json', () => {
  it('every command says "MiniCode:" (menus show the title alone: no bare "Run Task…")', () => {
    for (const c of pkg.contributes.commands) {
      expect(c.title, c.command).toMatch(/^MiniCode: /);
      expect(c.category, c.command).toBeUndefined(); // else the palette shows "MiniCode: MiniCode: …"
    }
  });

  it('the chat view is a webview view in the MiniCode container, before the Sessions tree', () => {
    const views = pkg.contributes.views.minicode;
    expect(views[0]).toMatchObject({ type: 'webview', id: 'minicode.chat' });
    expect(views.map((v: { id: string }) => v.id)).toContain('minicode.sessions');
  });

  it('the .vsix ships the chat view\'s page', () => {
    const ignore = readFileSync(join(root, '.vscodeignore'), 'utf8');
    for (const f of ['out/webview.js', 'out/webview.css', 'out/codicon.css', 'out/codicon.ttf']) expect(ignore).toContain(`!${f}`);
  });
});

describe('wording', () => {
  it('no "(s)" plurals in what the extension says', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          readFileSync(p, 'utf8').split('\n').forEach((line, i) => {
            if (/[a-z]\(s\)[ `'".,]/.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('/**')) offenders.push(`${p}:${i + 1}: ${line.trim()}`);
          });
        }
      }
    };
    walk(join(root, 'src'));
    expect(offenders).toEqual([]);
    expect(plural(1, 'change')).toBe('1 change');
    expect(plural(2, 'change')).toBe('2 changes');
  });
});

describe('labels the server writes with "(s)"', () => {
  it('show a real plural in the tree ("change(s)" no more)', async () => {
    const { fixPlurals } = await import('../src/model/format');
    const { groupNode } = await import('../src/model/sessions');
    const node = groupNode('s1', { id: 'g1', sessionId: 's1', turnId: null, toolCallId: null, kind: 'rewind', label: 'Rewind 1 agent change(s)', createdAt: '2026-11-25T12:00:00Z', status: 'closed', rewound: false, files: [] }, []);
    expect(node.label).toBe('Rewind 1 agent change');
    expect(fixPlurals('Rewind 1 agent change(s)')).toBe('Rewind 1 agent change');
    expect(fixPlurals('Rewind 3 agent change(s)')).toBe('Rewind 3 agent changes');
    expect(fixPlurals('2 file(s), 1 conflict(s)')).toBe('2 files, 1 conflict');
    expect(fixPlurals('edit_file a.py')).toBe('edit_file a.py');
  });
});
