// Starting, stopping and talking to the minicode-lsp server (vscode-languageclient).
import * as vscode from 'vscode';
import { withRewindSaves } from './autosave';
import * as readline from 'node:readline';
import {
  CancellationToken,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  ShowMessageRequest,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';
import { errorMessage, log, logChannel, showError } from './logger';
import { stderrLevel } from './model/serverLog';
import { effectiveValue, findExecutable, openSettingsCommand, serverLaunch, settingsTree } from './model/settings';
import { restrictTask } from './model/trust';
import { Notifications } from './protocol';
import type { CommandId, CommandTypes, MinicodeEvent, ReadinessReport, SessionsChanged } from './protocol';

export type ServerState = 'starting' | 'running' | 'stopped' | 'failed';

/** Who answers the approvals the server asks for (the chat view). */
export interface ApprovalHandlers {
  applyEdit(
    params: { edit: object; label?: string },
    next: (p: { edit: object; label?: string }) => Promise<{ applied: boolean; failureReason?: string }>,
  ): Promise<{ applied: boolean; failureReason?: string }>;
  messageRequest(params: { type: number; message: string; actions?: { title: string }[] | null }, token?: vscode.CancellationToken): Promise<{ title: string } | null>;
}

/** The `minicode` settings the user set explicitly, as the server's settings tree. */
export function serverSettings(settingKeys: readonly string[]): Record<string, unknown> {
  const cfg = vscode.workspace.getConfiguration();
  const trusted = vscode.workspace.isTrusted;
  return settingsTree(settingKeys.map((key): [string, unknown] => [key, effectiveValue(key, cfg.inspect(key), trusted)]));
}

/** The Settings editor on the tab where `key` applies (Remote in a remote window), else the User tab. */
export async function openSettings(key: string): Promise<void> {
  const [command, arg] = openSettingsCommand(key, vscode.env.remoteName);
  try {
    await vscode.commands.executeCommand(command, arg);
  } catch (err) {
    log.warn(`${command}: ${errorMessage(err)}; opening the User settings`);
    await vscode.commands.executeCommand('workbench.action.openSettings', key);
  }
}

/** A client-side setting (`server.*`): in Restricted Mode the workspace's value is not used. */
function clientSetting<T>(key: string): T | undefined {
  const cfg = vscode.workspace.getConfiguration();
  if (vscode.workspace.isTrusted) return cfg.get<T>(key);
  const inspected = cfg.inspect<T>(key);
  return (effectiveValue(key, inspected, false) as T | undefined) ?? inspected?.defaultValue;
}

export class ServerManager implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private traceChannel: vscode.LogOutputChannel | undefined;
  private _state: ServerState = 'stopped';
  private restartPending = false;
  private readonly disposables: vscode.Disposable[] = [];
  /**
   * Server commands this client renders itself when they come from the server's code actions
   * (return undefined to let the server run them as sent).
   */
  readonly interceptors = new Map<string, (args: Record<string, unknown>) => Promise<unknown> | undefined>();
  /** Set by the chat view before start. */
  approvals: ApprovalHandlers | undefined;

  private readonly eventEmitter = new vscode.EventEmitter<MinicodeEvent>();
  private readonly readinessEmitter = new vscode.EventEmitter<ReadinessReport>();
  private readonly sessionsEmitter = new vscode.EventEmitter<SessionsChanged>();
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  readonly onEvent = this.eventEmitter.event;
  readonly onReadiness = this.readinessEmitter.event;
  readonly onSessions = this.sessionsEmitter.event;
  readonly onState = this.stateEmitter.event;

  /** @param settingKeys every setting the extension contributes (from package.json) */
  constructor(private readonly settingKeys: readonly string[]) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('minicode.server')) {
          this.restartPending = true; // the new server gets the settings at initialize
          log.info('minicode.server.* changed: restarting the server');
          void this.restart();
        }
      }),
      // trusted now: the server starts again with the workspace's settings and workspaceTrusted
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.restartPending = true;
        log.info('the workspace is trusted now: restarting the server');
        void this.restart();
      }),
    );
  }

  get state(): ServerState {
    return this._state;
  }

  get running(): boolean {
    return this._state === 'running' && this.client !== undefined;
  }

  private setState(state: ServerState): void {
    if (this._state !== state) {
      this._state = state;
      this.stateEmitter.fire(state);
    }
  }

  /** Start, stop and restart run one at a time, in the order asked. */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  start(): Promise<void> {
    return this.serialize(() => this.doStart());
  }

  stop(): Promise<void> {
    return this.serialize(() => this.doStop());
  }

  restart(): Promise<void> {
    return this.serialize(async () => {
      await this.doStop();
      await this.doStart();
    });
  }

  private async doStart(): Promise<void> {
    this.restartPending = false;
    if (this.client) return;
    const launch = serverLaunch(clientSetting('minicode.server.command'), clientSetting('minicode.server.args'));
    const extraEnv = (clientSetting<Record<string, string>>('minicode.server.env') ?? {}) as Record<string, string>;
    const env = { ...process.env, ...extraEnv };
    const resolved = findExecutable(launch.command, env.PATH);
    if (!resolved) {
      this.setState('failed');
      // not awaited: the toast stays until dismissed, and a restart queued behind this start
      // (the user fixing the setting) must not wait for that
      void showError(
        `MiniCode: the server command "${launch.command}" was not found. Install it from your clone of the minicode-lsp repository (pipx install .) or set "minicode.server.command".`,
        'Open Settings',
      ).then((choice) => {
        if (choice === 'Open Settings') void openSettings('minicode.server.command');
      });
      return;
    }
    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    log.info(`starting the server: ${[resolved, ...launch.args].join(' ')}${cwd ? ` (cwd ${cwd})` : ''}`);
    const serverOptions: ServerOptions = {
      command: resolved,
      args: launch.args,
      transport: TransportKind.stdio,
      options: { env, cwd },
    };
    this.traceChannel ??= vscode.window.createOutputChannel('MiniCode Trace', { log: true });
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
      outputChannel: logChannel(),
      traceOutputChannel: this.traceChannel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      stdioOptions: {
        stdout: (input, channel) => readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', (l) => channel.info(l)),
        // the server's log records also arrive as window/logMessage: once in the log, not twice
        stderr: (input, channel) => readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', (l) => channel[stderrLevel(l)](l)),
      },
      // VS Code's Workspace Trust: an untrusted workspace only ever makes the server stricter
      initializationOptions: { ...serverSettings(this.settingKeys), workspaceTrusted: vscode.workspace.isTrusted },
      synchronize: { configurationSection: 'minicode' },
      middleware: {
        executeCommand: (command, args, next) => {
          const arg = (Array.isArray(args) && args[0] && typeof args[0] === 'object' ? args[0] : {}) as Record<string, unknown>;
          const handled = this.interceptors.get(command)?.(arg);
          if (handled) return handled;
          // a code action's task in Restricted Mode: plan mode, whatever it asked for
          const sent = Array.isArray(args) && args[0] && typeof args[0] === 'object' ? [restrictTask(command, args[0] as object, vscode.workspace.isTrusted), ...args.slice(1)] : args;
          return withRewindSaves(command, async () => next(command, sent));
        },
        workspace: {
          // the agent's edits in ask mode are approved in the chat view (see chatView.ts)
          handleApplyEdit: async (params, next) => {
            const approvals = this.approvals;
            if (!approvals) return next(params, CancellationToken.None);
            return approvals.applyEdit(params, async (p) => (await next(p as typeof params, CancellationToken.None)) as { applied: boolean });
          },
          // Send only what the user set (not VS Code's defaults), so .minicode.toml still counts.
          // (A stopped client would start itself to send it: only a running one sends.)
          didChangeConfiguration: async () => {
            const running = this.client;
            if (this.restartPending || !running?.isRunning()) return;
            try {
              await running.sendNotification(DidChangeConfigurationNotification.type, { settings: { minicode: serverSettings(this.settingKeys) } });
            } catch (err) {
              log.warn(`could not send the settings to the server: ${errorMessage(err)}`);
            }
          },
        },
      },
      initializationFailedHandler: (error) => {
        void showError(`MiniCode: the server failed to initialize: ${errorMessage(error)}`);
        return false;
      },
    };
    // the client id 'minicode' makes vscode-languageclient read minicode.trace.server
    const client = new LanguageClient('minicode', 'MiniCode', serverOptions, clientOptions);
    client.onRequest(ShowMessageRequest.type, async (params, token) => {
      if (this.approvals) return this.approvals.messageRequest(params, token);
      const picked = await vscode.window.showInformationMessage(params.message, ...(params.actions ?? []).map((a) => a.title));
      return (params.actions ?? []).find((a) => a.title === picked) ?? null;
    });
    client.onNotification(Notifications.event, (p: MinicodeEvent) => this.eventEmitter.fire(p));
    client.onNotification(Notifications.readiness, (p: ReadinessReport) => this.readinessEmitter.fire(p));
    client.onNotification(Notifications.sessions, (p: SessionsChanged) => this.sessionsEmitter.fire(p));
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) this.setState('running');
      else if (e.newState === State.Starting) this.setState('starting');
      else if (this.client === client) this.setState('stopped');
    });
    this.client = client;
    this.setState('starting');
    try {
      await client.start();
      this.setState('running');
      log.info('server started');
    } catch (err) {
      this.client = undefined;
      this.setState('failed');
      void showError(`MiniCode: the server did not start: ${errorMessage(err)}`);
      try {
        await client.dispose();
      } catch {
        // already gone
      }
    }
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      if (client.isRunning()) await client.stop(5000);
    } catch (err) {
      log.warn(`stopping the server: ${errorMessage(err)}`);
    } finally {
      await client.dispose().catch(() => undefined);
      this.setState('stopped');
    }
  }

  /** Run one server command with its single argument object. */
  async execute<C extends CommandId>(command: C, args: CommandTypes[C]['args']): Promise<CommandTypes[C]['result']> {
    const client = this.client;
    if (!client || !this.running) throw new Error('the MiniCode server is not running (see MiniCode: Show Logs)');
    args = restrictTask(command, args, vscode.workspace.isTrusted);
    log.debug(`-> ${command} ${JSON.stringify(args)}`);
    return withRewindSaves(command, async () =>
      (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] })) as CommandTypes[C]['result']);
  }

  /** Convert a VS Code diagnostic to its LSP shape (for task context). */
  diagnosticToLsp(d: vscode.Diagnostic): Record<string, unknown> {
    return (this.client?.code2ProtocolConverter.asDiagnostic(d) as unknown as Record<string, unknown>) ?? { message: d.message };
  }

  dispose(): void {
    void this.stop();
    this.disposables.forEach((d) => d.dispose());
    this.traceChannel?.dispose();
  }
}
