// Event rendering for the transcript (pure: no vscode import). Folds `minicode/event`
// notifications (or a replayed timeline) into turns and renders them as markdown.

import { EventTypes } from '../protocol';
import type { EventData, MinicodeEvent, ReplayEvent, Usage } from '../protocol';
import { displayPath, stopReasonLabel, truncate } from './format';
import { usageText } from './sessions';

export type Part =
  | { kind: 'text'; text: string }
  | { kind: 'tool'; callId?: string; name: string; args: string; status: 'running' | 'ok' | 'failed'; summary?: string }
  | { kind: 'files'; uris: string[]; groupId?: string }
  | { kind: 'note'; text: string }
  | { kind: 'error'; text: string };

export interface TurnTranscript {
  turnId: string;
  prompt?: string;
  parts: Part[];
  stopReason?: string;
  usage?: Usage;
  finished: boolean;
  /** Highest `seq` folded in (events are deduplicated per turn). */
  lastSeq: number;
}

export interface SessionTranscript {
  sessionId: string;
  title?: string;
  turns: TurnTranscript[];
}

export function newTranscript(sessionId: string, title?: string): SessionTranscript {
  return { sessionId, title, turns: [] };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function argsText(args: unknown): string {
  if (args === undefined || args === null) return '';
  if (typeof args === 'string') return truncate(args, 120);
  if (typeof args === 'object') {
    const obj = args as Record<string, unknown>;
    // the arguments that say what a tool did, in the order a reader wants them
    for (const key of ['path', 'command', 'pattern']) {
      if (typeof obj[key] === 'string') return truncate(obj[key] as string, 120);
    }
    return truncate(JSON.stringify(obj), 120);
  }
  return truncate(String(args), 120);
}

function turnFor(t: SessionTranscript, turnId: string): TurnTranscript {
  let turn = t.turns.find((x) => x.turnId === turnId);
  if (!turn) {
    turn = { turnId, parts: [], finished: false, lastSeq: -1 };
    t.turns.push(turn);
  }
  return turn;
}

/** Record a turn this client started, before its first event arrives. */
export function startTurn(t: SessionTranscript, turnId: string, prompt: string): TurnTranscript {
  const turn = turnFor(t, turnId);
  turn.prompt ??= prompt;
  return turn;
}

/** Turns whose last text came from an earlier model request (a `context.usage` since). */
const newRequest = new WeakSet<TurnTranscript>();

/** Fold one event into the transcript. Events of a turn at or below its last seen `seq` are ignored. */
export function applyEvent(t: SessionTranscript, ev: MinicodeEvent | ReplayEvent): SessionTranscript {
  const turn = turnFor(t, ev.turnId ?? ''); // mode.changed: no turn
  if (typeof ev.seq === 'number') {
    if (ev.seq <= turn.lastSeq) return t;
    turn.lastSeq = ev.seq;
  }
  // each event type's data is as protocol.ts says (EventData)
  const data = <K extends keyof EventData>(_type: K) => ev.data as unknown as EventData[K];
  switch (ev.type) {
    case EventTypes.turnStarted: {
      turn.prompt = str(data(EventTypes.turnStarted).prompt) ?? turn.prompt;
      break;
    }
    case EventTypes.textDelta: {
      const text = str(data(EventTypes.textDelta).text) ?? '';
      const last = turn.parts[turn.parts.length - 1];
      if (!text) break;
      // text from a new model request is a paragraph of its own
      if (last && last.kind === 'text' && !newRequest.has(turn)) last.text += text;
      else turn.parts.push({ kind: 'text', text });
      newRequest.delete(turn);
      break;
    }
    case EventTypes.toolStarted: {
      const d = data(EventTypes.toolStarted);
      turn.parts.push({ kind: 'tool', callId: str(d.toolCallId), name: str(d.name) ?? 'tool', args: argsText(d.arguments), status: 'running' });
      break;
    }
    case EventTypes.toolFinished: {
      const d = data(EventTypes.toolFinished);
      const callId = str(d.toolCallId);
      const name = str(d.name);
      const tools = turn.parts.filter((p): p is Extract<Part, { kind: 'tool' }> => p.kind === 'tool');
      let part =
        (callId && tools.find((p) => p.callId === callId)) ||
        [...tools].reverse().find((p) => p.status === 'running' && (!name || p.name === name));
      if (!part) {
        part = { kind: 'tool', callId, name: name ?? 'tool', args: '', status: 'running' };
        turn.parts.push(part);
      }
      part.status = d.isError === true ? 'failed' : 'ok';
      const summary = str(d.summary) || str(d.output);
      if (summary) part.summary = truncate(summary, 160);
      break;
    }
    case EventTypes.filesChanged: {
      const d = data(EventTypes.filesChanged);
      turn.parts.push({ kind: 'files', uris: d.uris ?? [], groupId: str(d.groupId) });
      break;
    }
    case EventTypes.approvalRequested: {
      const d = data(EventTypes.approvalRequested);
      const what = argsText(d.command ?? d.path) || str(d.name) || 'an action';
      turn.parts.push({ kind: 'note', text: `approval requested: ${what}` });
      break;
    }
    case EventTypes.providerFallback: {
      const d = data(EventTypes.providerFallback);
      const from = str(d.fromProvider) ?? '?';
      const to = str(d.toProvider) ?? '?';
      const why = str(d.reason);
      turn.parts.push({ kind: 'note', text: `provider fallback: ${from} → ${to}${why ? ` (${truncate(why, 100)})` : ''}` });
      break;
    }
    case EventTypes.contextCompacted: {
      turn.parts.push({ kind: 'note', text: 'context compacted' });
      break;
    }
    case EventTypes.error: {
      const d = data(EventTypes.error);
      const message = str(d.message) ?? 'error';
      const hint = str(d.hint);
      // the hint once: a message may already carry it
      turn.parts.push({ kind: 'error', text: hint && !message.includes(hint) ? `${message} (${hint})` : message });
      break;
    }
    case EventTypes.turnFinished: {
      turn.finished = true;
      const d = data(EventTypes.turnFinished);
      turn.stopReason = str(d.stopReason) ?? turn.stopReason;
      if (d.usage) turn.usage = d.usage;
      for (const p of turn.parts) if (p.kind === 'tool' && p.status === 'running') p.status = 'failed';
      break;
    }
    case EventTypes.contextUsage: {
      // sent before each model request: the text after it does not continue the last answer
      if (turn.parts[turn.parts.length - 1]?.kind === 'text') newRequest.add(turn);
      break;
    }
    default:
      break; // memory.injected and future types: not shown
  }
  return t;
}

// plain symbols (not emoji): they render in any editor font
const TOOL_ICON = { running: '…', ok: '✓', failed: '✗' } as const;

export function renderTurn(turn: TurnTranscript, index: number, roots: string[] = []): string {
  const out: string[] = [];
  out.push(`## Turn ${index + 1}${turn.prompt ? `: ${truncate(turn.prompt, 100)}` : ''}`);
  out.push('');
  if (turn.prompt) {
    out.push(...turn.prompt.split('\n').map((l) => `> ${l}`));
    out.push('');
  }
  for (const p of turn.parts) {
    switch (p.kind) {
      case 'text':
        out.push(p.text.trim(), '');
        break;
      case 'tool':
        out.push(`- ${TOOL_ICON[p.status]} \`${p.name}\`${p.args ? ` ${p.args}` : ''} — ${p.status}${p.summary && p.status === 'failed' ? `: ${p.summary}` : ''}`, '');
        break;
      case 'files':
        out.push(`- ✎ files changed: ${p.uris.map((u) => `\`${displayPath(u, roots)}\``).join(', ') || '(none)'}${p.groupId ? ` (edit group ${p.groupId.slice(0, 8)})` : ''}`, '');
        break;
      case 'note':
        out.push(`- ℹ ${p.text}`, '');
        break;
      case 'error':
        out.push(`- ⚠ error: ${p.text}`, '');
        break;
    }
  }
  if (turn.finished) {
    const usage = usageText(turn.usage);
    // the label only when it says more than the reason itself (not "done (done)")
    const label = stopReasonLabel(turn.stopReason);
    const extra = turn.stopReason && label && label !== turn.stopReason ? ` (${label})` : '';
    out.push(`**Stop reason: ${turn.stopReason ?? 'unknown'}**${extra}${usage ? ` — ${usage}` : ''}`, '');
  } else {
    out.push('_running…_', '');
  }
  return out.join('\n');
}

export function renderTranscript(t: SessionTranscript | undefined, roots: string[] = []): string {
  if (!t) return '# MiniCode transcript\n\nNo task has run in this window yet. Run **MiniCode: Run Task…** to start one.\n';
  const head = `# MiniCode: ${t.title ? truncate(t.title, 80) : 'session'}\n\n_session ${t.sessionId}_\n`;
  return [head, ...t.turns.map((turn, i) => renderTurn(turn, i, roots))].join('\n');
}

/** A transcript rebuilt from `minicode.session.replay`. */
export function transcriptFromReplay(sessionId: string, events: ReplayEvent[], title?: string): SessionTranscript {
  const t = newTranscript(sessionId, title);
  for (const ev of [...events].sort((a, b) => a.seq - b.seq)) applyEvent(t, ev);
  return t;
}
