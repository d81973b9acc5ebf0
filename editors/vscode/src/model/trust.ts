// VS Code's Workspace Trust (pure: no vscode import). In Restricted Mode MiniCode has limited
// support (package.json `capabilities.untrustedWorkspaces`): every task runs in plan mode (the
// agent reads, it does not edit or run commands), and the workspace's values of the settings
// that choose what runs or where data goes are not used (the user's are). Trusting the
// workspace restarts the server with everything on.

/**
 * Settings whose workspace values are ignored in Restricted Mode: the server's command line
 * and environment (they run a program), providers (where your code and keys go), the store,
 * the test command, looser permission modes, the rewind confirmation. Listed in package.json's
 * `restrictedConfigurations` too (package.test.ts keeps the two equal).
 */
export const RESTRICTED_SETTINGS = [
  'minicode.server.command',
  'minicode.server.args',
  'minicode.server.env',
  'minicode.providers',
  'minicode.agent.permissionMode',
  'minicode.agent.testCommand',
  'minicode.agent.keepRunning',
  'minicode.store.path',
  'minicode.rewind.confirm',
] as const;

export const RESTRICTED_NOTE = 'Restricted Mode: MiniCode only reads (plan mode). Trust this workspace to let it edit files and run commands.';

/** A `minicode.task.run` argument object as sent: in Restricted Mode always plan mode. */
export function restrictTask<T extends object>(command: string, args: T, trusted: boolean): T {
  if (trusted || command !== 'minicode.task.run') return args;
  return { ...args, permissionMode: 'plan' };
}
