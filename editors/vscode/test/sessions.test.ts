import { describe, expect, it } from 'vitest';
import { relativeTime, toEpochMs } from '../src/model/format';
import { groupsOf, sessionNode, sessionsOf, sortSessions, turnNodes } from '../src/model/sessions';
import type { EditGroup, SessionDetail, SessionSummary } from '../src/protocol';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const root = 'file:///ws';

const sessions: SessionSummary[] = [
  { id: 's1', title: 'old one', createdAt: '2026-11-24T10:00:00Z', updatedAt: '2026-11-24T10:05:00Z', turns: 1, lastStopReason: 'done' },
  { id: 's2', title: 'newest', createdAt: NOW / 1000 - 600, updatedAt: NOW / 1000 - 120, turns: 2, lastStopReason: 'max_steps' },
  { id: 's3', title: '', createdAt: '2026-11-25T09:00:00Z', updatedAt: '2026-11-25T09:00:00Z', turns: 0, lastStopReason: null },
];

const detail: SessionDetail = {
  id: 's2',
  title: 'newest',
  createdAt: NOW / 1000 - 600,
  updatedAt: NOW / 1000 - 120,
  turns: [
    { id: 't1', prompt: 'fix the bug in a.py', stopReason: 'done', toolCalls: [{ name: 'edit_file' }, { name: 'read_file' }], usage: { inputTokens: 10 } },
    { id: 't2', prompt: 'now add tests', stopReason: 'max_steps', toolCalls: [] },
  ],
};

const groups: EditGroup[] = [
  // newest first, as minicode.checkpoint.list sends them
  { id: 'g3', turnId: 't2', kind: 'shell', label: 'run_command pytest', createdAt: NOW / 1000 - 130, files: [{ uri: `${root}/tests/test_a.py`, action: 'create' }] },
  { id: 'g2', turnId: 't1', kind: 'edit', label: 'edit_file a.py', createdAt: NOW / 1000 - 300, files: [{ uri: `${root}/a.py`, action: 'modify' }] },
  { id: 'g1', turnId: 't1', kind: 'edit', label: '', createdAt: NOW / 1000 - 400, files: [{ uri: `${root}/b.py`, action: 'modify' }, { uri: `${root}/c.py`, action: 'delete' }] },
];

describe('sessions', () => {
  it('sorts newest first, whatever the timestamp format', () => {
    expect(sortSessions(sessions).map((s) => s.id)).toEqual(['s2', 's3', 's1']);
  });
  it('renders title, relative time and stop reason', () => {
    const n = sessionNode(sessions[1], NOW);
    expect(n).toMatchObject({ kind: 'session', label: 'newest', description: '2 min ago · step budget used up', sessionId: 's2', expandable: true });
    expect(sessionNode(sessions[2], NOW).label).toBe('s3');
  });
  it('accepts the list result wrapped or bare', () => {
    expect(sessionsOf({ sessions })).toHaveLength(3);
    expect(sessionsOf(sessions)).toHaveLength(3);
    expect(sessionsOf(null)).toEqual([]);
    expect(groupsOf({ groups })).toHaveLength(3);
    expect(groupsOf(groups)).toHaveLength(3);
    expect(groupsOf(undefined)).toEqual([]);
  });
});

describe('turns and edit groups', () => {
  const turns = turnNodes(detail, groups, [root], NOW);
  it('lists turns in order with their stop reason and counts', () => {
    expect(turns.map((t) => t.label)).toEqual(['1. fix the bug in a.py', '2. now add tests']);
    expect(turns[0].description).toBe('done · 2 tool calls · 2 edit groups');
    expect(turns[0].tooltip).toContain('inputTokens 10');
    expect(turns[1].description).toBe('step budget used up · 1 edit group');
  });
  it('puts each group under its turn, oldest first, with its files', () => {
    expect(turns[0].children!.map((g) => g.groupId)).toEqual(['g1', 'g2']);
    const g1 = turns[0].children![0];
    expect(g1).toMatchObject({ kind: 'group', label: 'edit: 2 files', sessionId: 's2', turnId: 't1', expandable: true });
    expect(g1.children!.map((f) => [f.label, f.action, f.uri])).toEqual([
      ['b.py', 'modify', `${root}/b.py`],
      ['c.py', 'delete', `${root}/c.py`],
    ]);
    expect(turns[0].children![1].label).toBe('edit_file a.py');
    const f = turns[1].children![0].children![0];
    expect(f).toMatchObject({ kind: 'file', label: 'test_a.py', description: 'tests · create', groupId: 'g3' });
  });
  it('uses groups embedded in session.show when checkpoint.list has none', () => {
    const withEmbedded: SessionDetail = { ...detail, turns: [{ ...detail.turns[0], groups: [groups[1]] }] };
    const t = turnNodes(withEmbedded, [], [root], NOW);
    expect(t[0].children!.map((g) => g.groupId)).toEqual(['g2']);
  });
  it('shows groups outside a turn (a rewind\'s safety group) after the turns, and marks rewound groups', () => {
    const safety: EditGroup = { id: 'g9', sessionId: 's2', turnId: null, kind: 'rewind', label: 'Rewind 1 agent change(s)', createdAt: NOW / 1000 - 60, files: [{ uri: `${root}/a.py`, action: 'modify' }] };
    const rewound = { ...groups[1], rewound: true };
    const other: EditGroup = { ...groups[0], id: 'gx', sessionId: 'another' };
    const t = turnNodes(detail, [safety, groups[0], rewound, groups[2], other], [root], NOW);
    expect(t.map((n) => [n.kind, n.groupId ?? n.turnId])).toEqual([
      ['turn', 't1'],
      ['turn', 't2'],
      ['group', 'g9'],
    ]);
    expect(t[2]).toMatchObject({ label: 'Rewind 1 agent change', description: 'rewind · 1 file · 1 min ago', turnId: undefined });
    expect(t[0].children![1].description).toBe('edit · 1 file · rewound · 5 min ago');
  });
  it('makes node ids unique', () => {
    const ids = turns.flatMap((t) => [t.id, ...(t.children ?? []).flatMap((g) => [g.id, ...(g.children ?? []).map((f) => f.id)])]);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('time', () => {
  it('reads seconds, milliseconds and ISO text', () => {
    expect(toEpochMs(1700000000)).toBe(1700000000000);
    expect(toEpochMs(1700000000000)).toBe(1700000000000);
    expect(toEpochMs('2026-11-25T12:00:00Z')).toBe(NOW);
    expect(toEpochMs('nope')).toBeUndefined();
  });
  it('says how long ago', () => {
    expect(relativeTime(NOW - 10_000, NOW)).toBe('just now');
    expect(relativeTime(NOW - 5 * 60_000, NOW)).toBe('5 min ago');
    expect(relativeTime(NOW - 3 * 3600_000, NOW)).toBe('3 hours ago');
    expect(relativeTime(NOW - 86400_000, NOW)).toBe('yesterday');
    expect(relativeTime(undefined, NOW)).toBe('');
  });
});
