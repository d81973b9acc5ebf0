// Tree building for the Sessions side panel from session data (pure: no vscode import).
// session -> turns -> edit groups -> files.

import type { EditGroup, GroupFile, SessionDetail, SessionSummary, TurnInfo, Usage } from '../protocol';
import { basename, displayPath, fixPlurals, relativeTime, stopReasonLabel, toEpochMs, truncate } from './format';

export type NodeKind = 'session' | 'turn' | 'group' | 'file' | 'info';

export interface TreeNode {
  kind: NodeKind;
  /** Stable id, unique in the tree. */
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  sessionId: string;
  turnId?: string;
  groupId?: string;
  uri?: string;
  action?: string;
  /** Whether the node can expand (sessions always; turns and groups when they hold something). */
  expandable: boolean;
  children?: TreeNode[];
}

/** Sessions newest first (by updatedAt, then createdAt). */
export function sortSessions(sessions: SessionSummary[]): SessionSummary[] {
  const key = (s: SessionSummary) => toEpochMs(s.updatedAt) ?? toEpochMs(s.createdAt) ?? 0;
  return [...sessions].sort((a, b) => key(b) - key(a));
}

export function sessionNode(s: SessionSummary, now: number = Date.now()): TreeNode {
  const when = relativeTime(s.updatedAt ?? s.createdAt, now);
  const stop = stopReasonLabel(s.lastStopReason);
  const parts = [when, stop].filter(Boolean);
  return {
    kind: 'session',
    id: `session:${s.id}`,
    label: truncate(s.title || s.id, 80),
    description: parts.join(' · '),
    tooltip: [
      s.title || s.id,
      `id: ${s.id}`,
      `turns: ${s.turnCount}`,
      stop ? `last stop: ${stop}` : '',
      when ? `updated ${when}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
    sessionId: s.id,
    expandable: true,
  };
}

function groupLabel(g: EditGroup, roots: string[]): string {
  if (g.label) return truncate(fixPlurals(g.label), 80);
  const files = g.files;
  if (files.length === 1) return `${g.kind}: ${basename(displayPath(files[0].uri, roots))}`;
  return `${g.kind}: ${files.length} files`;
}

function fileNode(sessionId: string, g: EditGroup, f: GroupFile, roots: string[]): TreeNode {
  const path = displayPath(f.uri, roots);
  return {
    kind: 'file',
    id: `file:${g.id}:${f.uri}`,
    label: basename(path),
    description: [path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '', f.action].filter(Boolean).join(' · '),
    tooltip: `${path}\n${f.action}`,
    sessionId,
    turnId: g.turnId ?? undefined,
    groupId: g.id,
    uri: f.uri,
    action: f.action,
    expandable: false,
  };
}

export function groupNode(sessionId: string, g: EditGroup, roots: string[], now: number = Date.now()): TreeNode {
  const files = g.files.map((f) => fileNode(sessionId, g, f, roots));
  return {
    kind: 'group',
    id: `group:${g.id}`,
    label: groupLabel(g, roots),
    description: [g.kind, `${files.length} file${files.length === 1 ? '' : 's'}`, g.rewound ? 'rewound' : '', relativeTime(g.createdAt, now)]
      .filter(Boolean)
      .join(' · '),
    tooltip: [g.label, `group ${g.id} (${g.kind})`, ...files.map((f) => `${f.action}: ${displayPath(f.uri ?? '', roots)}`)]
      .filter(Boolean)
      .join('\n'),
    sessionId,
    turnId: g.turnId ?? undefined,
    groupId: g.id,
    expandable: files.length > 0,
    children: files,
  };
}

/**
 * The children of a session (`minicode.session.show` carries the whole tree): its turns with
 * their edit groups, then the groups outside any turn (the safety groups rewinds leave,
 * themselves rewindable), in the order they happened.
 */
export function turnNodes(detail: SessionDetail, roots: string[] = [], now: number = Date.now()): TreeNode[] {
  const turns = detail.turns.map((t: TurnInfo, i: number) => {
    const gs = t.groups.map((g) => groupNode(detail.id, g, roots, now));
    const tools = t.toolCalls.length;
    const stop = stopReasonLabel(t.stopReason);
    return {
      kind: 'turn' as const,
      id: `turn:${t.id}`,
      label: `${i + 1}. ${truncate(t.prompt || '(no prompt)', 70)}`,
      description: [stop, tools ? `${tools} tool call${tools === 1 ? '' : 's'}` : '', gs.length ? `${gs.length} edit group${gs.length === 1 ? '' : 's'}` : '']
        .filter(Boolean)
        .join(' · '),
      tooltip: [t.prompt, stop ? `stop: ${stop}` : '', t.provider ? `provider: ${t.provider}` : '', usageText(t.usage)]
        .filter(Boolean)
        .join('\n'),
      sessionId: detail.id,
      turnId: t.id,
      expandable: gs.length > 0,
      children: gs,
    };
  });
  return [...turns, ...detail.safetyGroups.map((g) => groupNode(detail.id, g, roots, now))];
}

export function usageText(usage: Usage | Record<string, number> | undefined): string {
  if (!usage || typeof usage !== 'object') return '';
  const parts = Object.entries(usage)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? `usage: ${parts.join(', ')}` : '';
}
