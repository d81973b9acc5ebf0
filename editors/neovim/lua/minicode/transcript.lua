---@mod minicode.transcript A buffer that streams the running turn's events
---
--- `minicode/event` notifications are rendered as markdown into `minicode://transcript`:
--- the prompt, the model's text as it streams, tool calls, changed files and the stop
--- reason. `:MiniCode replay {id}` renders a recorded session the same way.

local protocol = require("minicode.protocol")
local state = require("minicode.state")

local M = {}

local T = protocol.event_types
local NAME = "minicode://transcript"

---@type integer?
local bufnr = nil
--- whether the last thing written was streamed text (deltas continue it)
local in_text = false

---@return integer
function M.buffer()
  if bufnr and vim.api.nvim_buf_is_valid(bufnr) then
    return bufnr
  end
  bufnr = vim.api.nvim_create_buf(false, true)
  pcall(vim.api.nvim_buf_set_name, bufnr, NAME)
  vim.bo[bufnr].buftype = "nofile"
  vim.bo[bufnr].bufhidden = "hide"
  vim.bo[bufnr].swapfile = false
  vim.bo[bufnr].filetype = "markdown"
  vim.bo[bufnr].modifiable = false
  vim.keymap.set("n", "q", "<cmd>close<cr>", { buffer = bufnr, silent = true, desc = "MiniCode: close" })
  return bufnr
end

--- The transcript's lines (for tests).
---@return string[]
function M.lines()
  return vim.api.nvim_buf_get_lines(M.buffer(), 0, -1, false)
end

---@param b integer
---@param fn fun()
local function modify(b, fn)
  vim.bo[b].modifiable = true
  fn()
  vim.bo[b].modifiable = false
  for _, win in ipairs(vim.fn.win_findbuf(b)) do
    local last = vim.api.nvim_buf_line_count(b)
    pcall(vim.api.nvim_win_set_cursor, win, { last, 0 })
  end
end

--- Append lines (a leading "" on an empty buffer is dropped).
---@param lines string[]
function M.append(lines)
  local b = M.buffer()
  modify(b, function()
    local count = vim.api.nvim_buf_line_count(b)
    local first = vim.api.nvim_buf_get_lines(b, 0, 1, false)[1]
    if count == 1 and first == "" then
      vim.api.nvim_buf_set_lines(b, 0, 1, false, lines)
    else
      vim.api.nvim_buf_set_lines(b, count, count, false, lines)
    end
  end)
end

--- Append streamed text to the last line.
---@param text string
local function append_text(text)
  local b = M.buffer()
  modify(b, function()
    local count = vim.api.nvim_buf_line_count(b)
    local last = vim.api.nvim_buf_get_lines(b, count - 1, count, false)[1] or ""
    local parts = vim.split(last .. text, "\n", { plain = true })
    vim.api.nvim_buf_set_lines(b, count - 1, count, false, parts)
  end)
end

function M.clear()
  in_text = false
  local b = M.buffer()
  modify(b, function()
    vim.api.nvim_buf_set_lines(b, 0, -1, false, {})
  end)
end

--- Open the transcript in a split at the bottom (or focus it).
function M.open()
  local b = M.buffer()
  local wins = vim.fn.win_findbuf(b)
  if #wins > 0 then
    return wins[1]
  end
  local prev = vim.api.nvim_get_current_win()
  local height = require("minicode.config").options.transcript.height
  vim.cmd(("botright %dsplit"):format(height))
  local win = vim.api.nvim_get_current_win()
  vim.api.nvim_win_set_buf(win, b)
  vim.wo[win].wrap = true
  vim.wo[win].number = false
  vim.api.nvim_set_current_win(prev)
  return win
end

---@param value any
---@return string
local function short(value)
  if value == nil or value == vim.NIL then
    return ""
  end
  local s = type(value) == "string" and value or vim.json.encode(value)
  s = s:gsub("\n", " ")
  if #s > 120 then
    s = s:sub(1, 117) .. "..."
  end
  return s
end

--- Lines for one event (text deltas are handled separately).
---@param ev minicode.Event
---@return string[]?
function M.render(ev)
  local d = type(ev.data) == "table" and ev.data or {}
  local t = ev.type
  if t == T.turn_started then
    return { "", ("## Turn %s"):format(short(ev.turnId):sub(1, 12)), "", "> " .. short(d.prompt) }
  elseif t == T.tool_started then
    return { "", ("- `%s` %s"):format(short(d.name or d.tool), short(d.arguments or d.args)) }
  elseif t == T.tool_finished then
    local status = d.error and d.error ~= vim.NIL and ("error: " .. short(d.error)) or short(d.status or d.summary or "ok")
    return { ("  - %s %s"):format(short(d.name or d.tool), status) }
  elseif t == T.files_changed then
    local names = {}
    for _, uri in ipairs(d.uris or {}) do
      names[#names + 1] = vim.fn.fnamemodify(vim.uri_to_fname(uri), ":~:.")
    end
    return { ("  - files changed: %s (group %s)"):format(table.concat(names, ", "), short(d.groupId)) }
  elseif t == T.approval_requested then
    return { ("  - approval requested: %s"):format(short(d.command or d.kind)) }
  elseif t == T.provider_fallback then
    return { ("  - provider fallback: %s -> %s (%s)"):format(short(d["from"]), short(d.to), short(d.reason)) }
  elseif t == T.turn_finished then
    local usage = type(d.usage) == "table" and d.usage or {}
    local tokens = (usage.inputTokens or usage.input_tokens or 0) + (usage.outputTokens or usage.output_tokens or 0)
    return { "", ("**%s** (%s tokens)"):format(short(d.stopReason), tokens), "" }
  elseif t == T.error then
    return { "", "**error**: " .. short(d.message) }
  elseif t == T.context_compacted then
    return { "  - context compacted" }
  end
  return nil
end

--- Render one event into the transcript.
---@param ev minicode.Event
function M.render_event(ev)
  if ev.type == T.text_delta then
    local d = type(ev.data) == "table" and ev.data or {}
    local text = d.text or d.delta
    if type(text) == "string" then
      if not in_text then
        M.append({ "", "" }) -- a blank line, then the text
        in_text = true
      end
      append_text(text)
    end
    return
  end
  local lines = M.render(ev)
  if lines then
    M.append(lines)
    in_text = false
  end
end

--- Handle a `minicode/event` notification.
---@param ev minicode.Event
function M.on_event(ev)
  if type(ev) ~= "table" then
    return
  end
  if ev.type == T.turn_started then
    state.running[ev.sessionId] = ev.turnId
    state.last_session = ev.sessionId
    if require("minicode.config").options.transcript.auto_open then
      M.open()
    end
  elseif ev.type == T.turn_finished then
    state.finished[ev.turnId] = true
    if state.running[ev.sessionId] == ev.turnId then
      state.running[ev.sessionId] = nil
    end
    local d = type(ev.data) == "table" and ev.data or {}
    require("minicode.diff").end_turn(ev.sessionId, tostring(d.stopReason or "finished"))
  end
  M.render_event(ev)
  vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodeEvent", data = ev, modeline = false })
end

--- Render a recorded timeline (the result of minicode.session.replay).
---@param session_id string
---@param events minicode.Event[]
function M.replay(session_id, events)
  M.clear()
  M.append({ "# Session " .. session_id })
  for _, ev in ipairs(events) do
    ev.sessionId = ev.sessionId or session_id
    M.render_event(ev)
  end
  M.open()
end

return M
