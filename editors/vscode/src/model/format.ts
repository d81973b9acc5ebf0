// Small formatting helpers shared by the views (pure).

import { StopLabels } from '../protocol';

/** Milliseconds since the epoch from a wire timestamp: epoch seconds, epoch ms or ISO text. */
export function toEpochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e12 ? value * 1000 : value;
  if (typeof value === 'string' && value) {
    const asNum = Number(value);
    if (Number.isFinite(asNum)) return toEpochMs(asNum);
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

export function relativeTime(value: unknown, now: number = Date.now()): string {
  const ms = toEpochMs(value);
  if (ms === undefined) return '';
  const s = Math.round((now - ms) / 1000);
  if (s < 0) return 'just now';
  if (s < 45) return 'just now';
  if (s < 90) return '1 min ago';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return h === 1 ? '1 hour ago' : `${h} hours ago`;
  const d = Math.round(h / 24);
  if (d < 30) return d === 1 ? 'yesterday' : `${d} days ago`;
  return new Date(ms).toISOString().slice(0, 10);
}


export function stopReasonLabel(reason: unknown): string {
  if (typeof reason !== 'string' || !reason) return '';
  return (StopLabels as Record<string, string>)[reason] ?? reason.replace(/_/g, ' ');
}

/** A path relative to the first workspace root that contains it, else the uri's path. */
export function displayPath(uri: string, roots: string[] = []): string {
  for (const root of roots) {
    const r = root.endsWith('/') ? root : root + '/';
    if (uri.startsWith(r)) return decodeURIComponent(uri.slice(r.length));
  }
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)$/i.exec(uri);
  return decodeURIComponent(m ? m[1] : uri);
}

export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

export function truncate(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** `1 file`, `3 files` (never "file(s)"). */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/** `Rewind 1 agent change(s)` -> `Rewind 1 agent change` (labels the server writes with "(s)"). */
export function fixPlurals(text: string): string {
  return text.replace(/\b(\d+)( [\w-]+)* ([A-Za-z]+)\(s\)/g, (m: string, n: string) => {
    const word = /([A-Za-z]+)\(s\)$/.exec(m)![1];
    return m.replace(/[A-Za-z]+\(s\)$/, Number(n) === 1 ? word : `${word}s`);
  });
}
