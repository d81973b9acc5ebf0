// The wire contract, mirrored from minicode_lsp/protocol.py (see docs/protocol.md).
// tests/contract checks that the string literals here equal the Python ones: keep every
// command id, notification method and event type a plain string literal in this file.

export const Commands = {
  taskRun: 'minicode.task.run',
  taskCancel: 'minicode.task.cancel',
  sessionList: 'minicode.session.list',
  sessionShow: 'minicode.session.show',
  sessionReplay: 'minicode.session.replay',
  sessionSummarize: 'minicode.session.summarize',
  sessionExport: 'minicode.session.export',
  sessionDelete: 'minicode.session.delete',
  checkpointList: 'minicode.checkpoint.list',
  rewindPreview: 'minicode.rewind.preview',
  rewindApply: 'minicode.rewind.apply',
  rewindUndo: 'minicode.rewind.undo',
  readiness: 'minicode.readiness',
  memoryShow: 'minicode.memory.show',
  memoryAdd: 'minicode.memory.add',
  memoryRemove: 'minicode.memory.remove',
  memoryAccept: 'minicode.memory.accept',
  workspaceTrust: 'minicode.workspace.trust',
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Notifications = {
  event: 'minicode/event',
  readiness: 'minicode/readiness',
  sessions: 'minicode/sessions',
} as const;

export const EventTypes = {
  turnStarted: 'turn.started',
  textDelta: 'text.delta',
  toolStarted: 'tool.started',
  toolFinished: 'tool.finished',
  filesChanged: 'files.changed',
  approvalRequested: 'approval.requested',
  providerFallback: 'provider.fallback',
  turnFinished: 'turn.finished',
  error: 'error',
  contextUsage: 'context.usage',
  contextCompacted: 'context.compacted',
  memoryInjected: 'memory.injected',
  modeChanged: 'mode.changed',
  thoughtDelta: 'thought.delta',
  modelWaiting: 'model.waiting',
} as const;
export type EventType = (typeof EventTypes)[keyof typeof EventTypes];

export const StopReasons = [
  'done',
  'max_steps',
  'cancelled',
  'await_user',
  'blocked',
  'provider_error',
  'verification_failed',
  'context_exhausted',
  'interrupted',
] as const;
export type StopReason = (typeof StopReasons)[number];

export type Profile = 'single' | 'single-deep';
export type PermissionMode = 'ask' | 'auto' | 'plan';
export type ReadinessState = 'ready' | 'degraded' | 'blocked';
export type CheckStatus = 'ok' | 'warn' | 'fail';
export type GroupKind = 'edit' | 'shell' | 'rewind';
export type FileAction = 'create' | 'modify' | 'delete';
export type RewindAction = 'restore' | 'delete' | 'recreate';
export type RewindStatus = 'clean' | 'merged' | 'conflict' | 'skipped';
export type SessionChange = 'created' | 'updated' | 'deleted';
export type MemoryScope = 'project' | 'user';
export type ExportFormat = 'markdown' | 'jsonl';

/** JSON-RPC error codes the server uses. */
export const ErrorCodes = {
  invalidParams: -32602,
  unknownSession: -32001,
  ambiguousId: -32002,
  stalePreview: -32003,
  busy: -32004,
  notFound: -32005,
  outsideWorkspace: -32006,
  notReady: -32007,
} as const;

// ------------------------------------------------------------------------- arguments
export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}

export interface TaskContext {
  uri?: string;
  range?: Range;
  diagnostics?: unknown[];
  selectionText?: string;
}

export interface TaskRunArgs {
  prompt: string;
  sessionId?: string;
  context?: TaskContext;
  profile?: Profile;
  permissionMode?: PermissionMode;
}

export interface SessionIdArgs {
  sessionId: string;
}

export interface SessionListArgs {
  limit?: number;
  cursor?: string;
  query?: string;
}

export interface SessionReplayArgs extends SessionIdArgs {
  fromSeq?: number;
}

export interface SessionShowArgs extends SessionIdArgs {
  openDocument?: boolean;
}

export interface SessionExportArgs extends SessionIdArgs {
  format: ExportFormat;
}

export interface CheckpointListArgs {
  sessionId?: string;
  uri?: string;
  limit?: number;
}

/** Exactly one field is set. */
export type RewindTarget =
  | { latest: true }
  | { steps: number }
  | { groupId: string }
  | { turnId: string }
  | { session: true };

export interface RewindPreviewArgs {
  sessionId?: string;
  target: RewindTarget;
  uris?: string[];
}

export interface RewindApplyArgs {
  previewId?: string;
  sessionId?: string;
  target?: RewindTarget;
  uris?: string[];
  force?: boolean;
}

export interface RewindUndoArgs {
  sessionId?: string;
}

export interface ReadinessArgs {
  probe?: boolean;
}

export interface MemoryShowArgs {
  scope?: MemoryScope;
}
export interface MemoryAddArgs {
  text: string;
  scope?: MemoryScope;
  tags?: string[];
}
export interface MemoryRemoveArgs {
  id: string;
}
/** Accept a reflection proposal as a memory entry. */
export interface MemoryAcceptArgs {
  id: string;
}
/** Allow the workspace's .minicode.toml as it is now (sha256: only if it still has that content). */
export interface WorkspaceTrustArgs {
  sha256?: string;
}

// --------------------------------------------------------------------------- results
export interface TaskRunResult {
  sessionId: string;
  turnId: string;
}

export interface SessionSummary {
  id: string;
  title: string;
  createdAt: number | string;
  updatedAt: number | string;
  turns: number;
  lastStopReason?: StopReason | string | null;
  workspace?: string;
}

export interface SessionListResult {
  sessions: SessionSummary[];
  nextCursor?: string | null;
}

export interface ToolCallInfo {
  id?: string;
  name: string;
  arguments?: Record<string, unknown>;
  status?: string;
  ok?: boolean;
}

export interface GroupFile {
  uri: string;
  action: FileAction | string;
  [extra: string]: unknown;
}

export interface EditGroup {
  id: string;
  /** null for groups outside a turn (a rewind's safety group). */
  turnId: string | null;
  sessionId?: string;
  toolCallId?: string | null;
  kind: GroupKind | string;
  label: string;
  createdAt: number | string;
  status?: string;
  /** Whether a rewind has undone this group. */
  rewound?: boolean;
  files: GroupFile[];
}

export interface TurnInfo {
  id: string;
  prompt: string;
  stopReason?: StopReason | string | null;
  toolCalls?: ToolCallInfo[];
  groups?: (EditGroup | string)[];
  usage?: Record<string, number>;
  provider?: string | null;
  startedAt?: number | string;
  finishedAt?: number | string | null;
  status?: string;
}

export interface SessionDetail {
  id: string;
  title: string;
  createdAt: number | string;
  updatedAt: number | string;
  turns: TurnInfo[];
}

export interface ReplayEvent {
  seq: number;
  turnId: string;
  type: EventType | string;
  data: Record<string, unknown>;
  at?: number;
}

export interface SessionReplayResult {
  events: ReplayEvent[];
}

export interface RewindFile {
  uri: string;
  path?: string;
  action: RewindAction | string;
  status: RewindStatus | string;
  /** Unified diff, current -> restored. */
  diff?: string;
  /** The restored text (absent when the rewind deletes the file). */
  newText?: string;
  /** False when the file is left out (a conflict without force). */
  willApply?: boolean;
  reason?: string;
  [extra: string]: unknown;
}

export interface RewindPreviewResult {
  previewId: string;
  sessionId?: string | null;
  edit: unknown; // an LSP WorkspaceEdit with changeAnnotations (needsConfirmation)
  files: RewindFile[];
  groups?: string[];
  conflicts?: number;
}

export interface RewindApplyResult {
  applied: boolean;
  safetyGroupId?: string | null;
  files?: RewindFile[];
  reason?: string;
}

export interface RewindUndoResult {
  applied: boolean;
  restoredGroupId?: string;
  files?: RewindFile[];
}

export interface ReadinessCheck {
  name: string;
  status: CheckStatus;
  detail?: string;
  fix?: string;
}

export interface ProviderStatus {
  name: string;
  kind: string;
  model: string;
  baseUrl: string;
  status: CheckStatus;
  detail?: string;
}

export interface ReadinessReport {
  state: ReadinessState;
  checks: ReadinessCheck[];
  providers?: ProviderStatus[];
  fallback?: string[];
}

// ----------------------------------------------------------------------- notifications
/** A `minicode/event` notification. */
export interface MinicodeEvent {
  sessionId: string;
  turnId: string;
  seq: number;
  type: EventType | string;
  data: Record<string, unknown>;
  at?: number;
}

/** A `minicode/sessions` notification. */
export interface SessionsChanged {
  sessionId: string;
  change: SessionChange;
}
