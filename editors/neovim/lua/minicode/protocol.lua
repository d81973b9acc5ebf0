---@mod minicode.protocol The wire contract, mirrored from minicode_lsp/protocol.py
---
--- Keep every id here a plain string literal: tests/contract extracts them from this file
--- and compares them with minicode_lsp/protocol.py.

local M = {}

---@alias minicode.CommandId string

--- Command ids for `workspace/executeCommand` (each takes ONE argument object).
---@class minicode.Commands
M.commands = {
  task_run = "minicode.task.run",
  task_cancel = "minicode.task.cancel",
  session_list = "minicode.session.list",
  session_show = "minicode.session.show",
  session_replay = "minicode.session.replay",
  session_summarize = "minicode.session.summarize",
  session_export = "minicode.session.export",
  session_delete = "minicode.session.delete",
  checkpoint_list = "minicode.checkpoint.list",
  rewind_preview = "minicode.rewind.preview",
  rewind_apply = "minicode.rewind.apply",
  rewind_undo = "minicode.rewind.undo",
  readiness = "minicode.readiness",
  memory_show = "minicode.memory.show",
  memory_add = "minicode.memory.add",
  memory_remove = "minicode.memory.remove",
  memory_accept = "minicode.memory.accept",
  workspace_trust = "minicode.workspace.trust",
}

--- Notification methods, server to client.
---@class minicode.Notifications
M.notifications = {
  event = "minicode/event",
  readiness = "minicode/readiness",
  sessions = "minicode/sessions",
}

--- Types of `minicode/event` notifications.
---@class minicode.EventTypes
M.event_types = {
  turn_started = "turn.started",
  text_delta = "text.delta",
  tool_started = "tool.started",
  tool_finished = "tool.finished",
  files_changed = "files.changed",
  approval_requested = "approval.requested",
  provider_fallback = "provider.fallback",
  turn_finished = "turn.finished",
  error = "error",
  context_usage = "context.usage",
  context_compacted = "context.compacted",
  memory_injected = "memory.injected",
  mode_changed = "mode.changed",
  thought_delta = "thought.delta",
  model_waiting = "model.waiting",
}

--- Reasons a turn stops (`turn.finished` `data.stopReason`).
M.stop_reasons = {
  "done",
  "max_steps",
  "cancelled",
  "await_user",
  "blocked",
  "provider_error",
  "verification_failed",
  "context_exhausted",
  "interrupted",
}

--- JSON-RPC error codes the server uses.
M.errors = {
  invalid_params = -32602,
  unknown_session = -32001,
  ambiguous_id = -32002,
  stale_preview = -32003,
  busy = -32004,
  not_found = -32005,
  outside_workspace = -32006,
  not_ready = -32007,
}

---@alias minicode.ReadinessState "ready"|"degraded"|"blocked"
---@alias minicode.CheckStatus "ok"|"warn"|"fail"
---@alias minicode.SessionChange "created"|"updated"|"deleted"

---@class minicode.ReadinessCheck
---@field name string
---@field status minicode.CheckStatus
---@field detail? string
---@field fix? string

---@class minicode.ReadinessReport
---@field state minicode.ReadinessState
---@field checks minicode.ReadinessCheck[]
---@field providers? table[]
---@field fallback? string[]

---@class minicode.Event
---@field sessionId string
---@field turnId string
---@field seq integer
---@field type string
---@field data table
---@field at? number

---@class minicode.SessionsChanged
---@field sessionId string
---@field change minicode.SessionChange

---@class minicode.RewindTarget
---@field latest? boolean
---@field steps? integer
---@field groupId? string
---@field turnId? string
---@field session? boolean

---@class minicode.RewindFile
---@field uri string
---@field action "restore"|"delete"|"recreate"
---@field status "clean"|"merged"|"conflict"|"skipped"
---@field diff? string

---@class minicode.RewindPreview
---@field previewId string
---@field edit lsp.WorkspaceEdit
---@field files minicode.RewindFile[]

return M
