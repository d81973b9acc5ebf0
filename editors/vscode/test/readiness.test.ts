import { describe, expect, it } from 'vitest';
import { problems, providerLabel, reportMarkdown, statusText, tooltipMarkdown } from '../src/model/readiness';
import type { ReadinessReport } from '../src/protocol';

const degraded: ReadinessReport = {
  state: 'degraded',
  checks: [
    { name: 'store', status: 'ok', detail: 'writable' },
    { name: 'testCommand', status: 'warn', detail: 'not set', fix: 'set agent.testCommand' },
    { name: 'provider local', status: 'fail', detail: 'connection refused', fix: 'start Ollama' },
  ],
  providers: [{ name: 'local', kind: 'openai', model: 'qwen', baseUrl: 'http://127.0.0.1:11434/v1', status: 'fail', detail: 'refused' }],
  fallback: ['local', 'cloud'],
};

describe('readiness', () => {
  it('shows the state in the status text', () => {
    expect(statusText({ state: 'ready', checks: [] })).toBe('$(check) MiniCode: ready');
    expect(statusText(degraded)).toBe('$(warning) MiniCode: degraded');
    expect(statusText({ state: 'blocked', checks: [] })).toBe('$(error) MiniCode: blocked');
    expect(statusText(undefined, 'failed')).toBe('$(error) MiniCode: server failed');
    expect(statusText(undefined)).toContain('checking');
  });
  it('puts failing checks first, with their fix, in the tooltip', () => {
    expect(problems(degraded).map((c) => c.name)).toEqual(['provider local', 'testCommand']);
    const tip = tooltipMarkdown(degraded);
    expect(tip).toContain('**provider local**: connection refused');
    expect(tip).toContain('*Fix:* start Ollama');
    expect(tip.indexOf('provider local')).toBeLessThan(tip.indexOf('testCommand'));
    expect(tooltipMarkdown({ state: 'ready', checks: [{ name: 'x', status: 'ok' }] })).toContain('All checks passed');
  });
  it('renders the full report', () => {
    const md = reportMarkdown(degraded);
    expect(md).toContain('# MiniCode readiness: degraded');
    expect(md).toContain('- ✗ **provider local** — connection refused\n  - Fix: start Ollama');
    expect(md).toContain('- ✗ **local** (openai, model `qwen`) at http://127.0.0.1:11434/v1 — refused');
    expect(md).toContain('## Providers');
    expect(md).toContain('Fallback chain: local → cloud');
  });
});

describe('the chat header\'s provider', () => {
  it('names the provider and its model, once when they are the same', () => {
    expect(providerLabel({ name: 'scripted', model: 'scripted' })).toBe('scripted');
    expect(providerLabel({ name: 'Local', model: 'local ' })).toBe('Local');
    expect(providerLabel({ name: 'openai', model: 'gpt-4o-mini' })).toBe('openai · gpt-4o-mini');
    expect(providerLabel({ name: 'ollama', model: '' })).toBe('ollama');
    expect(providerLabel(undefined)).toBe('');
  });
});
