import { describe, expect, it } from 'vitest';
import { relativeTime, toEpochMs } from '../src/model/format';
import { sessionNode, sortSessions, turnNodes } from '../src/model/sessions';
import type { EditGroup, GroupFile, SessionDetail, SessionSummary, ToolCall, TurnInfo } from '../src/protocol';

const NOW = Date.parse('2026-11-25T12:00:00Z');
const root = 'file:///ws';

const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString();
const summary = (id: string, title: string, created: string, updated: string, turnCount: number, lastStopReason: SessionSummary['lastStopReason']): SessionSummary => ({
  id, title, createdAt: created, updatedAt: updated, turnCount, lastStopReason, workspace: '/ws',
});

const sessions: SessionSummary[] = [
  summary('s1', 'old one', '2026-11-24T10:00:00Z', '2026-11-24T10:05:00Z', 1, 'done'),
  summary('s2', 'newest', iso(600_000), iso(120_000), 2, 'max_steps'),
  summary('s3', '', '2026-11-25T09:00:00Z', '2026-11-25T09:00:00Z', 0, null),
];

const file = (name: string, action: GroupFile['action']): GroupFile => ({ uri: `${root}/${name}`, path: `/ws/${name}`, action });
const group = (id: string, turnId: string | null, kind: EditGroup['kind'], label: string, msAgo: number, files: GroupFile[], rewound = false): EditGroup => ({
  id, sessionId: 's2', turnId, toolCallId: null, kind, label, createdAt: iso(msAgo), status: 'closed', rewound, files,
});
const tool = (name: string): ToolCall => ({ id: name, name, arguments: {}, isError: false, summary: '' });
const turn = (id: string, seq: number, prompt: string, stopReason: TurnInfo['stopReason'], toolCalls: ToolCall[], groups: EditGroup[], usage: TurnInfo['usage'] = {}): TurnInfo => ({
  id, seq, prompt, profile: 'single', permissionMode: 'auto', status: 'finished', stopReason, toolCalls, groups, usage,
  provider: 'local', startedAt: iso(500_000), finishedAt: iso(100_000), error: null,
});

const g1 = group('g1', 't1', 'edit', '', 400_000, [file('b.py', 'modify'), file('c.py', 'delete')]);
const g2 = group('g2', 't1', 'edit', 'edit_file a.py', 300_000, [file('a.py', 'modify')], true);
const g3 = group('g3', 't2', 'shell', 'run_command pytest', 130_000, [file('tests/test_a.py', 'create')]);
const safety = group('g9', null, 'rewind', 'Rewind 1 agent change(s)', 60_000, [file('a.py', 'modify')]);

// as minicode.session.show sends it: the whole tree, oldest first
const detail: SessionDetail = {
  ...sessions[1],
  running: false,
  turns: [
    turn('t1', 1, 'fix the bug in a.py', 'done', [tool('edit_file'), tool('read_file')], [g1, g2], { inputTokens: 10 }),
    turn('t2', 2, 'now add tests', 'max_steps', [], [g3]),
  ],
  safetyGroups: [safety],
};

describe('sessions', () => {
  it('sorts newest first', () => {
    expect(sortSessions(sessions).map((s) => s.id)).toEqual(['s2', 's3', 's1']);
  });
  it('renders title, relative time, stop reason and the turn count', () => {
    const n = sessionNode(sessions[1], NOW);
    expect(n).toMatchObject({ kind: 'session', label: 'newest', description: '2 min ago · step budget used up', sessionId: 's2', expandable: true });
    expect(n.tooltip).toContain('turns: 2');
    expect(sessionNode(sessions[2], NOW).label).toBe('s3');
  });
});

describe('turns and edit groups', () => {
  const nodes = turnNodes(detail, [root], NOW);
  it('lists turns in order with their stop reason and counts', () => {
    expect(nodes.slice(0, 2).map((t) => t.label)).toEqual(['1. fix the bug in a.py', '2. now add tests']);
    expect(nodes[0].description).toBe('done · 2 tool calls · 2 edit groups');
    expect(nodes[0].tooltip).toContain('inputTokens 10');
    expect(nodes[1].description).toBe('step budget used up · 1 edit group');
  });
  it('puts each group under its turn, oldest first, with its files', () => {
    expect(nodes[0].children!.map((g) => g.groupId)).toEqual(['g1', 'g2']);
    const first = nodes[0].children![0];
    expect(first).toMatchObject({ kind: 'group', label: 'edit: 2 files', sessionId: 's2', turnId: 't1', expandable: true });
    expect(first.children!.map((f) => [f.label, f.action, f.uri])).toEqual([
      ['b.py', 'modify', `${root}/b.py`],
      ['c.py', 'delete', `${root}/c.py`],
    ]);
    expect(nodes[0].children![1].label).toBe('edit_file a.py');
    const f = nodes[1].children![0].children![0];
    expect(f).toMatchObject({ kind: 'file', label: 'test_a.py', description: 'tests · create', groupId: 'g3' });
  });
  it('shows groups outside a turn (a rewind\'s safety group) after the turns, and marks rewound groups', () => {
    expect(nodes.map((n) => [n.kind, n.groupId ?? n.turnId])).toEqual([
      ['turn', 't1'],
      ['turn', 't2'],
      ['group', 'g9'],
    ]);
    expect(nodes[2]).toMatchObject({ label: 'Rewind 1 agent change', description: 'rewind · 1 file · 1 min ago', turnId: undefined });
    expect(nodes[0].children![1].description).toBe('edit · 1 file · rewound · 5 min ago');
  });
  it('makes node ids unique', () => {
    const ids = nodes.flatMap((t) => [t.id, ...(t.children ?? []).flatMap((g) => [g.id, ...(g.children ?? []).map((f) => f.id)])]);
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
