// Approvals the server asks for (pure: no vscode import).
// - an agent edit in ask mode arrives as workspace/applyEdit whose change annotation has
//   needsConfirmation (VS Code would show it in the Refactor Preview, UNticked, and answer
//   "not applied" when Apply is pressed without ticking);
// - a command arrives as window/showMessageRequest "MiniCode wants to run: <command>" with the
//   actions "Allow once" / "Allow for this session" / "Deny".
// The extension answers both from the chat view: these helpers recognise them, describe them
// and turn the user's answer into the reply the server expects.
import { applyTextEdits, diffStats, unifiedDiff, type DiffStats } from './diff';
import { displayPath } from './format';
import type { Range } from '../protocol';

export const AGENT_ANNOTATION = 'minicode.agent';
export const COMMAND_PREFIX = 'MiniCode wants to run: ';
export const COMMAND_ACTIONS = { once: 'Allow once', session: 'Allow for this session', deny: 'Deny' } as const;

export type Decision = 'approve' | 'reject' | 'session';

interface LspTextEdit {
  range: Range;
  newText: string;
  annotationId?: string;
}
interface LspDocChange {
  kind?: string;
  uri?: string;
  textDocument?: { uri: string; version?: number | null };
  edits?: LspTextEdit[];
  annotationId?: string;
}
export interface LspWorkspaceEdit {
  changes?: Record<string, LspTextEdit[]>;
  documentChanges?: LspDocChange[];
  changeAnnotations?: Record<string, { label: string; needsConfirmation?: boolean; description?: string }>;
}

/** Whether an applyEdit is the agent's edit waiting for the user's confirmation (ask mode). */
export function isAgentConfirmation(edit: LspWorkspaceEdit | undefined | null): boolean {
  const ann = edit?.changeAnnotations?.[AGENT_ANNOTATION];
  return !!ann && ann.needsConfirmation === true;
}

/** The same edit with every annotation's needsConfirmation off: VS Code applies it as is. */
export function withoutConfirmation<T extends LspWorkspaceEdit>(edit: T): T {
  if (!edit.changeAnnotations) return edit;
  const changeAnnotations: NonNullable<LspWorkspaceEdit['changeAnnotations']> = {};
  for (const [id, ann] of Object.entries(edit.changeAnnotations)) changeAnnotations[id] = { ...ann, needsConfirmation: false };
  return { ...edit, changeAnnotations };
}

export interface FileChange {
  uri: string;
  path: string;
  action: 'create' | 'modify' | 'delete';
  before: string;
  after: string;
  stats: DiffStats;
  diff: string;
}

/**
 * What an edit does to each file, given each file's current text (`undefined`: absent).
 * Edits of one file are applied in order.
 */
export function fileChanges(edit: LspWorkspaceEdit, currentText: (uri: string) => string | undefined, roots: string[] = []): FileChange[] {
  const texts = new Map<string, { before: string; after: string | undefined; existed: boolean }>();
  const entry = (uri: string) => {
    let e = texts.get(uri);
    if (!e) {
      const now = currentText(uri);
      e = { before: now ?? '', after: now ?? '', existed: now !== undefined };
      texts.set(uri, e);
    }
    return e;
  };
  const apply = (uri: string, edits: LspTextEdit[]) => {
    const e = entry(uri);
    e.after = applyTextEdits(e.after ?? '', edits);
  };
  for (const c of edit.documentChanges ?? []) {
    if (c.kind === 'create' && c.uri) {
      const e = entry(c.uri);
      if (!e.existed) e.after = '';
    } else if (c.kind === 'delete' && c.uri) {
      entry(c.uri).after = undefined;
    } else if (c.textDocument?.uri) {
      apply(c.textDocument.uri, c.edits ?? []);
    }
  }
  for (const [uri, edits] of Object.entries(edit.changes ?? {})) apply(uri, edits);
  return [...texts.entries()].map(([uri, e]) => {
    const path = displayPath(uri, roots);
    const action = e.after === undefined ? 'delete' : e.existed ? 'modify' : 'create';
    return { uri, path, action, before: e.before, after: e.after ?? '', stats: diffStats(e.before, e.after ?? ''), diff: unifiedDiff(path, e.before, e.after ?? '') };
  });
}

/** The applyEdit answer for the user's decision on an edit (approving sends it without confirmation). */
export function editReply(decision: Decision): { applied: false; failureReason: string } | undefined {
  return decision === 'reject' ? { applied: false, failureReason: 'the user rejected this edit' } : undefined;
}

/** The command of a showMessageRequest that asks to run one, else undefined. */
export function commandOfRequest(params: { message?: string; actions?: { title: string }[] | null } | undefined): string | undefined {
  if (!params?.message?.startsWith(COMMAND_PREFIX)) return undefined;
  const titles = (params.actions ?? []).map((a) => a.title);
  if (!titles.includes(COMMAND_ACTIONS.once) || !titles.includes(COMMAND_ACTIONS.deny)) return undefined;
  return params.message.slice(COMMAND_PREFIX.length);
}

/** The action item to answer a command approval with. */
export function commandReply(decision: Decision, actions: { title: string }[] | null | undefined): { title: string } | null {
  const want = decision === 'approve' ? COMMAND_ACTIONS.once : decision === 'session' ? COMMAND_ACTIONS.session : COMMAND_ACTIONS.deny;
  return (actions ?? []).find((a) => a.title === want) ?? (decision === 'reject' ? null : (actions ?? []).find((a) => a.title === COMMAND_ACTIONS.once) ?? null);
}
