---@mod minicode.actions What the `:MiniCode` subcommands, the panel and code actions do

local protocol = require("minicode.protocol")
local lsp = require("minicode.lsp")
local state = require("minicode.state")

local M = {}

local C = protocol.commands

---@param msg string
---@param level? integer
local function notify(msg, level)
  require("minicode.ui").notify(msg, level)
end

--- A callback that reports errors and passes results on.
---@param fn fun(result: any)
---@return fun(err: any, result: any)
local function ok_or_notify(fn)
  return function(err, result)
    if err then
      notify(lsp.error_message(err), vim.log.levels.ERROR)
      return
    end
    fn(result)
  end
end

--- Parse a rewind target: `latest` (default), `N` or `steps=N`, `session`, `group:ID`, `turn:ID`.
---@param text? string
---@return minicode.RewindTarget?
---@return string? err
function M.parse_target(text)
  text = vim.trim(text or "")
  if text == "" or text == "latest" then
    return { latest = true }
  end
  if text == "session" then
    return { session = true }
  end
  local n = tonumber(text) or tonumber(text:match("^steps?[=:](%d+)$") or "")
  if n then
    return { steps = n }
  end
  local kind, id = text:match("^(%a+)[=:](.+)$")
  if kind == "group" or kind == "groupId" then
    return { groupId = id }
  elseif kind == "turn" or kind == "turnId" then
    return { turnId = id }
  end
  return nil, ("unknown rewind target %q (latest, N, steps=N, session, group:ID, turn:ID)"):format(text)
end

--- The context of a `:'<,'>MiniCode run` range: the selected text, its uri and range, and
--- the diagnostics inside it.
---@param bufnr integer
---@param line1 integer
---@param line2 integer
---@return table
function M.range_context(bufnr, line1, line2)
  local lines = vim.api.nvim_buf_get_lines(bufnr, line1 - 1, line2, false)
  local start_col, end_col = 0, #(lines[#lines] or "")
  -- a charwise visual selection on exactly these lines narrows the columns
  local vs, ve = vim.fn.getpos("'<"), vim.fn.getpos("'>")
  if vim.fn.visualmode() == "v" and vs[2] == line1 and ve[2] == line2 and #lines > 0 then
    start_col = vs[3] - 1
    end_col = math.min(ve[3], #lines[#lines])
    lines[#lines] = lines[#lines]:sub(1, end_col)
    lines[1] = lines[1]:sub(start_col + 1)
  end
  local diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.lnum >= line1 - 1 and d.lnum <= line2 - 1 then
      diagnostics[#diagnostics + 1] = {
        range = {
          start = { line = d.lnum, character = d.col },
          ["end"] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col },
        },
        message = d.message,
        severity = d.severity,
        source = d.source,
      }
    end
  end
  return {
    uri = vim.uri_from_bufnr(bufnr),
    range = {
      start = { line = line1 - 1, character = start_col },
      ["end"] = { line = line2 - 1, character = end_col },
    },
    selectionText = table.concat(lines, "\n"),
    diagnostics = diagnostics,
  }
end

--- Start a turn.
---@param prompt string
---@param opts? {context?: table, sessionId?: string, profile?: string, permissionMode?: string}
---@param cb? fun(result: {sessionId: string, turnId: string})
function M.run(prompt, opts, cb)
  opts = opts or {}
  local args = { prompt = prompt }
  args.sessionId = opts.sessionId
  args.context = opts.context
  args.profile = opts.profile
  args.permissionMode = opts.permissionMode
  lsp.execute(C.task_run, args, ok_or_notify(function(result)
    if type(result) == "table" and result.sessionId then
      state.last_session = result.sessionId
      -- a fast turn may have finished before this reply arrives
      if not state.finished[result.turnId] then
        state.running[result.sessionId] = result.turnId
      end
    end
    if cb then
      cb(result)
    end
  end))
end

--- Cancel the running turn (of `session_id`, or the one running now).
---@param session_id? string
function M.cancel(session_id)
  session_id = session_id or next(state.running) or state.last_session
  if not session_id then
    notify("no running turn", vim.log.levels.WARN)
    return
  end
  lsp.execute(C.task_cancel, { sessionId = session_id }, ok_or_notify(function(result)
    notify((result and result.cancelled) and "cancelled" or "nothing to cancel")
  end))
end

--- Continue a session: run `prompt` in it, or ask for the prompt first.
---@param session_id string
---@param prompt? string
function M.resume(session_id, prompt)
  if prompt and prompt ~= "" then
    M.run(prompt, { sessionId = session_id })
    return
  end
  vim.ui.input({ prompt = ("Continue session %s: "):format(session_id:sub(1, 8)) }, function(input)
    if input and input ~= "" then
      M.run(input, { sessionId = session_id })
    end
  end)
end

--- Show a session's recorded events in the transcript.
---@param session_id string
function M.replay(session_id)
  lsp.execute(C.session_replay, { sessionId = session_id }, ok_or_notify(function(result)
    require("minicode.transcript").replay(session_id, (result and result.events) or {})
  end))
end

--- Put the edit groups (newest first) in the quickfix list.
---@param session_id? string
function M.checkpoints(session_id)
  local args = session_id and { sessionId = session_id } or vim.empty_dict()
  lsp.execute(C.checkpoint_list, args, ok_or_notify(function(result)
    local groups = result.groups ---@type minicode.EditGroup[]
    local items = {}
    for _, g in ipairs(groups) do
      for _, f in ipairs(g.files) do
        items[#items + 1] = {
          filename = f.path,
          lnum = 1,
          text = ("[%s] %s %s: %s%s"):format(tostring(g.id):sub(1, 8), g.kind, f.action, g.label, g.rewound and " (rewound)" or ""),
        }
      end
    end
    vim.fn.setqflist({}, " ", { title = "MiniCode checkpoints", items = items })
    if #items == 0 then
      notify("no edit groups")
    else
      vim.cmd("copen")
    end
  end))
end

---@param result table
local function report_apply(result)
  if type(result) ~= "table" then
    return
  end
  local files = result.files or {}
  local skipped = 0
  for _, f in ipairs(files) do
    if f.status == "conflict" or f.status == "skipped" then
      skipped = skipped + 1
    end
  end
  if result.applied then
    notify(("rewound %s%s"):format(require("minicode.ui").plural(#files - skipped, "file"),
      skipped > 0 and (", %d left out (conflict; :MiniCode rewind! writes conflict markers)"):format(skipped) or ""))
  else
    local reason = tostring(result.reason or ""):gsub("%(force writes conflict markers%)", "(:MiniCode rewind! writes conflict markers)")
    notify("rewind not applied" .. (reason ~= "" and (": " .. reason) or ""), vim.log.levels.WARN)
  end
  vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodeRewound", data = result, modeline = false })
  local panel = require("minicode.panel")
  if panel.window() then
    panel.refresh()
  end
end

--- Preview a rewind as a diff; accepting applies it (`minicode.rewind.apply` with the previewId).
---@param args {sessionId?: string, target?: minicode.RewindTarget, uris?: string[]}
function M.rewind_preview(args)
  args = vim.deepcopy(args)
  args.target = args.target or { latest = true }
  lsp.execute(C.rewind_preview, args, ok_or_notify(function(preview)
    if type(preview) ~= "table" or not preview.previewId then
      notify("nothing to rewind")
      return
    end
    require("minicode.diff").show_preview(preview, function(p)
      -- applied by its previewId: accepting the preview was the one confirmation
      lsp.execute(C.rewind_apply, { previewId = p.previewId }, ok_or_notify(report_apply))
    end)
  end))
end

--- Rewind now; when the server asks for confirmation the edit shows as a diff first.
---@param args {sessionId?: string, target?: minicode.RewindTarget, uris?: string[], force?: boolean}
function M.rewind(args)
  args = vim.deepcopy(args)
  args.target = args.target or { latest = true }
  lsp.execute(C.rewind_apply, args, ok_or_notify(report_apply))
end

--- Undo the latest rewind (restore its safety group).
---@param session_id? string
function M.rewind_undo(session_id)
  local args = session_id and { sessionId = session_id } or vim.empty_dict()
  lsp.execute(C.rewind_undo, args, ok_or_notify(function(result)
    local applied = type(result) == "table" and (result.applied ~= false)
    notify(applied and "rewind undone" or "nothing to undo")
  end))
end

--- Ask the server for a fresh readiness report and show it.
function M.readiness()
  lsp.execute(C.readiness, { probe = true }, ok_or_notify(function(report)
    require("minicode.status").on_readiness(report)
    -- one line: the state and what is not ok (:checkhealth minicode has every check)
    local parts = { ("readiness: %s"):format(report.state) }
    local problems = require("minicode.status").problem_lines(report)
    if #problems == 0 then
      parts[1] = parts[1] .. (" (%d checks ok)"):format(#(report.checks or {}))
    end
    vim.list_extend(parts, problems)
    local levels = { ready = vim.log.levels.INFO, degraded = vim.log.levels.WARN, blocked = vim.log.levels.ERROR }
    notify(table.concat(parts, " · "), levels[report.state] or vim.log.levels.INFO)
  end))
end

--- Open a session's export in a new buffer.
---@param session_id string
---@param format? "markdown"|"jsonl"
function M.export(session_id, format)
  format = format or "markdown"
  lsp.execute(C.session_export, { sessionId = session_id, format = format }, ok_or_notify(function(result)
    local content = type(result) == "table" and result.content or ""
    vim.cmd("tabnew")
    local b = vim.api.nvim_get_current_buf()
    vim.api.nvim_buf_set_lines(b, 0, -1, false, vim.split(content, "\n", { plain = true }))
    vim.bo[b].buftype = "nofile"
    vim.bo[b].bufhidden = "wipe"
    vim.bo[b].filetype = format == "markdown" and "markdown" or "json"
    pcall(vim.api.nvim_buf_set_name, b, ("minicode://export/%s.%s"):format(session_id, format == "markdown" and "md" or "jsonl"))
    vim.keymap.set("n", "q", "<cmd>tabclose<cr>", { buffer = b, silent = true, nowait = true, desc = "MiniCode: close" })
    require("minicode.ui").map_help(b, "MiniCode export", { { "q", "close the tab" }, { ":w {file}", "save the export" } })
  end))
end

--- Open the server's log: its own file (`log_file`, passed as --log-file), else the LSP log.
function M.log()
  local path = require("minicode.lsp").log_file()
  if not path or vim.fn.filereadable(path) == 0 then
    path = vim.lsp.get_log_path()
  end
  if vim.fn.filereadable(path) == 0 then
    notify(("no log yet (%s): the server has not written one"):format(path), vim.log.levels.WARN)
    return
  end
  vim.cmd.tabnew(vim.fn.fnameescape(path))
  local b = vim.api.nvim_get_current_buf()
  vim.bo[b].readonly = true
  vim.bo[b].modifiable = false
  vim.keymap.set("n", "q", "<cmd>tabclose<cr>", { buffer = b, silent = true, nowait = true, desc = "MiniCode: close" })
  require("minicode.ui").map_help(b, "MiniCode log", { { "q", "close the tab" }, { "R", "reload (:e)" } })
  vim.keymap.set("n", "R", "<cmd>edit | normal! G<cr>", { buffer = b, silent = true, desc = "MiniCode: reload" })
  vim.cmd("normal! G")
end

return M
