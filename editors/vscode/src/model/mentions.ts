// `@` mentions in the chat prompt (pure: no vscode import): the mention being typed, the
// suggestions that fit it, the prompt after one is picked, and what a sent prompt mentions
// (files, the selection, the Problems of the current file), turned into the task's context.
import type { TaskContext } from '../protocol';

export type MentionKind = 'file' | 'selection' | 'problems';

export interface MentionItem {
  kind: MentionKind;
  /** What follows the `@` in the prompt (a workspace-relative path, `selection`, `problems`). */
  insert: string;
  /** A line under it: the folder of a file, the lines selected, how many problems. */
  detail?: string;
}

export const SELECTION = 'selection';
export const PROBLEMS = 'problems';

/** The mention being typed at `caret`: an `@` at the start of a word, up to the caret. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | undefined {
  let i = caret - 1;
  while (i >= 0 && text[i] !== '@' && !/\s/.test(text[i])) i--;
  if (i < 0 || text[i] !== '@') return undefined;
  // a@b (an e-mail address, a decorator after a name) is not a mention
  if (i > 0 && !/\s/.test(text[i - 1])) return undefined;
  return { start: i, query: text.slice(i + 1, caret) };
}

/**
 * How well `path` fits `query` (higher is better; undefined: not at all). The query's
 * characters must appear in order; a hit in the file's name, at a word start, or in a run
 * counts more, and shorter paths win ties.
 */
export function matchScore(query: string, path: string): number | undefined {
  const q = query.toLowerCase();
  const p = path.toLowerCase();
  if (!q) return 1000 - path.length;
  const nameStart = p.lastIndexOf('/') + 1;
  let score = 0;
  let at = 0;
  let prev = -2;
  for (const ch of q) {
    const found = p.indexOf(ch, at);
    if (found < 0) return undefined;
    score += 1;
    if (found === prev + 1) score += 3; // a run
    if (found >= nameStart) score += 2; // in the file's name
    if (found === 0 || '/._- '.includes(p[found - 1])) score += 2; // a word start
    prev = found;
    at = found + 1;
  }
  if (p.slice(nameStart).startsWith(q)) score += 10;
  if (p.includes(q)) score += 5;
  return score * 100 - path.length;
}

/** The suggestions for `query`: the selection and Problems entries first (when they fit), then files. */
export function suggest(query: string, specials: readonly MentionItem[], files: readonly string[], limit = 20): MentionItem[] {
  const q = query.toLowerCase();
  const top = specials.filter((s) => s.insert.startsWith(q));
  const scored: [number, string][] = [];
  for (const f of files) {
    const s = matchScore(query, f);
    if (s !== undefined) scored.push([s, f]);
  }
  scored.sort((a, b) => b[0] - a[0] || a[1].localeCompare(b[1]));
  const fileItems = scored.slice(0, Math.max(0, limit - top.length)).map(([, f]): MentionItem => {
    const slash = f.lastIndexOf('/');
    return { kind: 'file', insert: f, detail: slash > 0 ? f.slice(0, slash) : undefined };
  });
  return [...top, ...fileItems];
}

/** How a path is written after `@`: quoted when it holds a space. */
export function mentionText(insert: string): string {
  return /\s|"/.test(insert) ? `@"${insert.replace(/"/g, '')}"` : `@${insert}`;
}

/** The prompt with `@query` (from `start` to `caret`) replaced by the picked mention and a space. */
export function insertMention(text: string, start: number, caret: number, insert: string): { text: string; caret: number } {
  const written = `${mentionText(insert)} `;
  const rest = text.slice(caret).replace(/^\S*/, '').replace(/^ /, '');
  return { text: text.slice(0, start) + written + rest, caret: start + written.length };
}

export interface Mentions {
  selection: boolean;
  problems: boolean;
  /** Paths as written (workspace-relative), each once, in order. */
  paths: string[];
}

const MENTION = /(^|\s)@(?:"([^"\n]+)"|([^\s"]+))/g;

/** What a prompt mentions. A trailing full stop, comma, colon… is not part of a path. */
export function mentionsOf(text: string): Mentions {
  const out: Mentions = { selection: false, problems: false, paths: [] };
  for (const m of text.matchAll(MENTION)) {
    const raw = m[2] ?? m[3].replace(/[.,;:!?)\]}'`]+$/, '');
    if (!raw) continue;
    if (m[3] !== undefined && raw === SELECTION) out.selection = true;
    else if (m[3] !== undefined && raw === PROBLEMS) out.problems = true;
    else if (!out.paths.includes(raw)) out.paths.push(raw);
  }
  return out;
}

export interface SelectionSnapshot {
  uri: string;
  range: NonNullable<TaskContext['range']>;
  text: string;
}

/**
 * The task's context for a prompt: what the editor gives (its file, the selection, the
 * problems near the cursor), with what the prompt mentions: the selection as it was when it
 * was mentioned, every problem of the current file, the files (URIs) the mentions resolved to.
 */
export function mentionContext(
  base: TaskContext | undefined,
  mentions: Mentions,
  found: { selection?: SelectionSnapshot; problems?: { uri: string; items: Record<string, unknown>[] }; files: string[] },
): TaskContext | undefined {
  const ctx: TaskContext = { ...(base ?? {}) };
  if (mentions.selection && found.selection) {
    // the problems near the cursor belong to the editor's file, not to the one selected in
    if (found.selection.uri !== ctx.uri) delete ctx.diagnostics;
    ctx.uri = found.selection.uri;
    ctx.range = found.selection.range;
    ctx.selectionText = found.selection.text;
  }
  // the context names one file: the Problems go along when they are that file's
  if (mentions.problems && found.problems?.items.length && (!ctx.uri || ctx.uri === found.problems.uri)) {
    ctx.uri = found.problems.uri;
    ctx.diagnostics = found.problems.items;
  }
  if (found.files.length) ctx.files = [...new Set(found.files)];
  return Object.keys(ctx).length ? ctx : undefined;
}
