// Readiness rendering (pure: no vscode import).

import type { ReadinessCheck, ReadinessReport } from '../protocol';

const ICON: Record<string, string> = { ready: '$(check)', degraded: '$(warning)', blocked: '$(error)' };
const MARK: Record<string, string> = { ok: '✓', warn: '⚠', fail: '✗' };

/** Status bar text, e.g. `$(check) MiniCode: ready`. */
export function statusText(report: ReadinessReport | undefined, serverState: 'starting' | 'running' | 'stopped' | 'failed' = 'running'): string {
  if (serverState === 'starting') return '$(sync~spin) MiniCode: starting';
  if (serverState === 'failed') return '$(error) MiniCode: server failed';
  if (serverState === 'stopped') return '$(circle-slash) MiniCode: stopped';
  if (!report) return '$(sync~spin) MiniCode: checking';
  return `${ICON[report.state] ?? '$(question)'} MiniCode: ${report.state}`;
}

/** The checks that are not ok, worst first. */
/** The chat header's provider: its name and model, once when they are the same ("scripted", not "scripted · scripted"). */
export function providerLabel(p: { name: string; model?: string | null } | undefined): string {
  if (!p) return '';
  const model = p.model?.trim();
  return !model || model.toLowerCase() === p.name.trim().toLowerCase() ? p.name : `${p.name} · ${model}`;
}

export function problems(report: ReadinessReport | undefined): ReadinessCheck[] {
  const rank: Record<string, number> = { fail: 0, warn: 1 };
  return (report?.checks ?? []).filter((c) => c.status !== 'ok').sort((a, b) => (rank[a.status] ?? 2) - (rank[b.status] ?? 2));
}

/** Tooltip markdown: the state and the failing checks with their fixes. */
export function tooltipMarkdown(report: ReadinessReport | undefined): string {
  if (!report) return 'MiniCode: waiting for the server\'s readiness report';
  const lines = [`**MiniCode: ${report.state}**`, ''];
  const bad = problems(report);
  if (bad.length === 0) lines.push('All checks passed.');
  for (const c of bad) {
    lines.push(`${MARK[c.status] ?? ''} **${c.name}**: ${c.detail ?? ''}`);
    if (c.fix) lines.push(`  *Fix:* ${c.fix}`);
    lines.push('');
  }
  lines.push('', '_Click for the full report._');
  return lines.join('\n');
}

/** The full report as a markdown document (a list, readable raw or rendered). */
export function reportMarkdown(report: ReadinessReport | undefined): string {
  if (!report) return '# MiniCode readiness\n\nThe server has not sent a readiness report yet.\n';
  const one = (s: string | undefined) => (s ?? '').replace(/\s*\n\s*/g, ' ').trim();
  const out = [`# MiniCode readiness: ${report.state}`, '', '## Checks', ''];
  for (const c of report.checks ?? []) {
    out.push(`- ${MARK[c.status] ?? c.status} **${one(c.name)}**${c.detail ? ` — ${one(c.detail)}` : ''}`);
    if (c.fix) out.push(`  - Fix: ${one(c.fix)}`);
  }
  if (report.providers?.length) {
    out.push('', '## Providers', '');
    for (const p of report.providers) {
      out.push(`- ${MARK[p.status] ?? p.status} **${one(p.name)}** (${one(p.kind)}, model \`${one(p.model)}\`) at ${one(p.baseUrl)}${p.detail ? ` — ${one(p.detail)}` : ''}`);
    }
  }
  if (report.fallback?.length) out.push('', `Fallback chain: ${report.fallback.join(' → ')}`);
  return out.join('\n') + '\n';
}
