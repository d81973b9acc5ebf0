import * as fs from 'node:fs';
import * as path from 'node:path';
import { RESTRICTED_SETTINGS } from './trust';

// Settings mapping and server launch (no vscode import). The `minicode` settings section carries the same
// tree as config.py; only the keys the user set explicitly are sent to the server, so the
// workspace's .minicode.toml and the user's config file are not overridden by VS Code's
// defaults (initializationOptions and didChangeConfiguration rank above them on the server).

/** Settings sections that configure the client only and are never sent to the server. */
export const CLIENT_ONLY_SECTIONS = ['server', 'trace', 'approvals'] as const;

export interface ServerLaunch {
  command: string;
  args: string[];
}

/** Split a command line on whitespace, honouring simple single and double quotes. */
export function splitCommandLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (const ch of line) {
    if (quote) {
      if (ch === quote) quote = null;
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += ch;
    }
  }
  if (has || cur) out.push(cur);
  return out;
}

/** The server command from `minicode.server.command` (array or string) plus `minicode.server.args`. */
export function serverLaunch(command: unknown, extraArgs: unknown): ServerLaunch {
  let parts: string[] = [];
  if (Array.isArray(command)) parts = command.filter((p): p is string => typeof p === 'string' && p.length > 0);
  else if (typeof command === 'string') parts = splitCommandLine(command.trim());
  if (parts.length === 0) parts = ['minicode-lsp', 'serve'];
  const extra = Array.isArray(extraArgs) ? extraArgs.filter((a): a is string => typeof a === 'string') : [];
  return { command: parts[0], args: [...parts.slice(1), ...extra] };
}

export interface InspectedValue {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** The value the user set explicitly (folder over workspace over user), or undefined. */
export function explicitValue(inspected: InspectedValue | undefined): unknown {
  if (!inspected) return undefined;
  for (const v of [inspected.workspaceFolderValue, inspected.workspaceValue, inspected.globalValue]) {
    if (v !== undefined) return v;
  }
  return undefined;
}

/** The value a setting has for MiniCode: in Restricted Mode a restricted key's workspace values are ignored (see model/trust.ts). */
export function effectiveValue(key: string, inspected: InspectedValue | undefined, trusted: boolean): unknown {
  if (trusted || !(RESTRICTED_SETTINGS as readonly string[]).includes(key)) return explicitValue(inspected);
  return inspected?.globalValue;
}

/**
 * Build the server's settings tree from full keys (`minicode.agent.permissionMode`) and their
 * explicitly set values. Client-only sections and keys outside `minicode.` are dropped.
 */
export function settingsTree(entries: Iterable<[string, unknown]>, prefix = 'minicode'): Record<string, unknown> {
  const tree: Record<string, unknown> = {};
  for (const [fullKey, value] of entries) {
    if (value === undefined) continue;
    if (!fullKey.startsWith(prefix + '.')) continue;
    const path = fullKey.slice(prefix.length + 1).split('.');
    if ((CLIENT_ONLY_SECTIONS as readonly string[]).includes(path[0])) continue;
    let node = tree;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return tree;
}

/** Find an executable: a path as given, or a bare name on PATH. */
export function findExecutable(command: string, envPath: string | undefined): string | undefined {
  const isFile = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/') || command.includes(path.sep)) return isFile(command) ? command : undefined;
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (dir && isFile(path.join(dir, command))) return path.join(dir, command);
  }
  return undefined;
}

/**
 * The command that opens the Settings editor where `key` takes effect. The server settings
 * are machine-overridable: in a remote window (code-server, SSH, WSL, containers) they apply
 * from the Remote tab, and the User tab shows nothing for them.
 */
export function openSettingsCommand(key: string, remoteName: string | undefined): [string, unknown] {
  return remoteName ? ['workbench.action.openRemoteSettings', { query: key }] : ['workbench.action.openSettings', key];
}
