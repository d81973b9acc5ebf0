---@mod minicode.chat The chat buffer: the conversation above, a prompt area at the bottom
---
--- `:MiniCode chat` opens `minicode://chat`, a markdown buffer. Everything above the line
--- `──── prompt ...` is the conversation; what you type below it is the next prompt. `<CR>`
--- in Normal mode or `<C-s>` (Normal and Insert) sends it, in the session shown (a follow-up).
--- `:MiniCode run` turns stream here too. The answer streams above the prompt area without
--- moving your cursor (unless it sits at the end of the conversation, then it follows).
---
--- Each tool call is a fold (`za`) holding its output and exit code; failures are highlighted
--- (a call the user declined shows `✗ declined`, not as a failure).
--- An edit shows `+n -m` (`gd` on it opens the diff); a checkpoint line before each step's
--- changes (`gp` previews a rewind to there). The turn ends with its stop reason and tokens.
--- `#buffer` (the file buffer you came from) and `#file:path` in a prompt add that text.

local protocol = require("minicode.protocol")
local state = require("minicode.state")
local ui = require("minicode.ui")

local M = {}

local T = protocol.event_types
local NAME = "minicode://chat"
local SEPARATOR = "──── prompt · <CR>/<C-s> send · ? help ────"
local CONTEXT_MARK = "\n\n---\nContext from the editor:"
local ns = vim.api.nvim_create_namespace("minicode.chat")

---@class minicode.ChatItem
---@field kind "edit"|"checkpoint"
---@field path? string
---@field uri? string
---@field before? string[]
---@field after? string[]
---@field groupId? string
---@field sessionId? string

---@class minicode.ChatState
---@field bufnr? integer
---@field session? string the session shown (a prompt continues it)
---@field in_text boolean the last thing written was streamed text
---@field in_thought boolean the last thing written was streamed reasoning (a folded section)
---@field waiting_mark? integer the "waiting for the model" line (virtual, above the prompt)
---@field tools table<string, {header: integer, stop: integer, name: string, path?: string, before?: string[]|false, done?: boolean}> done: finished, or its change shown
---@field items table<integer, minicode.ChatItem> extmark id -> item
---@field last_file_buf? integer the file buffer the user was in before the chat
local S = { bufnr = nil, session = nil, in_text = false, in_thought = false, tools = {}, items = {} }

-- ------------------------------------------------------------------ buffer

local function valid()
  return S.bufnr and vim.api.nvim_buf_is_valid(S.bufnr)
end

--- The 0-based row of the separator line (re-created at the end when it was deleted).
---@return integer
local function sep_row()
  local b = S.bufnr
  local mark = vim.api.nvim_buf_get_extmark_by_id(b, ns, S.sep_mark or -1, {})
  if mark[1] and vim.api.nvim_buf_get_lines(b, mark[1], mark[1] + 1, false)[1] == SEPARATOR then
    return mark[1]
  end
  local lines = vim.api.nvim_buf_get_lines(b, 0, -1, false)
  for i = #lines, 1, -1 do
    if lines[i] == SEPARATOR then
      S.sep_mark = vim.api.nvim_buf_set_extmark(b, ns, i - 1, 0, { id = S.sep_mark })
      return i - 1
    end
  end
  local n = #lines
  vim.api.nvim_buf_set_lines(b, n, n, false, { SEPARATOR, "" })
  S.sep_mark = vim.api.nvim_buf_set_extmark(b, ns, n, 0, { id = S.sep_mark, line_hl_group = "MiniCodePrompt" })
  return n
end

---@return {[1]: string, [2]: string}[]
local function help_keys()
  local keys = require("minicode.config").options.chat.keys
  return {
    { "<CR>", "send the prompt (Normal mode)" },
    { keys.send, "send the prompt (Normal and Insert mode)" },
    { keys.diff, "diff of the edit under the cursor" },
    { keys.rewind, "preview a rewind to the checkpoint under the cursor" },
    { keys.cancel, "cancel the running turn" },
    { keys.new, "new chat (a new session)" },
    { "za", "open/close a tool call's output" },
    { "q", "close the window" },
    { "#buffer", "in a prompt: add the text of the buffer you came from" },
    { "#file:PATH", "in a prompt: add the text of a file" },
  }
end

local function setup_buffer(b)
  vim.bo[b].buftype = "nofile"
  vim.bo[b].bufhidden = "hide"
  vim.bo[b].swapfile = false
  vim.bo[b].filetype = "markdown"
  local keys = require("minicode.config").options.chat.keys
  local function map(modes, lhs, fn, desc)
    vim.keymap.set(modes, lhs, fn, { buffer = b, silent = true, nowait = true, desc = "MiniCode: " .. desc })
  end
  map("n", "<CR>", M.send, "send the prompt")
  map({ "n", "i" }, keys.send, function()
    if vim.api.nvim_get_mode().mode:sub(1, 1) == "i" then
      vim.cmd("stopinsert")
    end
    vim.schedule(M.send)
  end, "send the prompt")
  map("n", keys.diff, M.open_diff, "diff of the edit")
  map("n", keys.rewind, M.preview_rewind, "preview a rewind to the checkpoint")
  map("n", keys.cancel, function()
    require("minicode.actions").cancel(S.session)
  end, "cancel the turn")
  map("n", keys.new, M.new, "new chat")
  map("n", "q", "<cmd>close<cr>", "close")
  ui.map_help(b, "MiniCode chat", help_keys)
  vim.api.nvim_buf_set_lines(b, 0, -1, false, { "# MiniCode chat" })
  vim.api.nvim_buf_set_extmark(b, ns, 0, 0, { line_hl_group = "MiniCodeTitle" })
  S.sep_mark = nil
  sep_row()
end

---@return integer
function M.buffer()
  if valid() then
    return S.bufnr --[[@as integer]]
  end
  ui.define_highlights()
  S.bufnr = vim.api.nvim_create_buf(false, true)
  pcall(vim.api.nvim_buf_set_name, S.bufnr, NAME)
  S.tools, S.items, S.in_text = {}, {}, false
  setup_buffer(S.bufnr)
  return S.bufnr
end

--- The buffer's lines (for tests and dumps).
---@return string[]
function M.lines()
  return vim.api.nvim_buf_get_lines(M.buffer(), 0, -1, false)
end

--- The conversation's lines (above the prompt area).
---@return string[]
function M.transcript_lines()
  local b = M.buffer()
  return vim.api.nvim_buf_get_lines(b, 0, sep_row(), false)
end

--- The prompt area's text.
---@return string
function M.prompt_text()
  local b = M.buffer()
  return vim.trim(table.concat(vim.api.nvim_buf_get_lines(b, sep_row() + 1, -1, false), "\n"))
end

--- Change the conversation: `fn(row)` gets the separator's row (insert before it). Windows whose
--- cursor sat at the end of the conversation follow it; others keep their place.
---@param fn fun(row: integer)
local function modify(fn)
  local b = M.buffer()
  local before = sep_row()
  local follow = {}
  for _, win in ipairs(vim.fn.win_findbuf(b)) do
    local row = vim.api.nvim_win_get_cursor(win)[1]
    if row == before then -- the last line of the conversation (1-based row == separator's 0-based)
      follow[#follow + 1] = win
    end
  end
  fn(before)
  local after = sep_row()
  for _, win in ipairs(follow) do
    pcall(vim.api.nvim_win_set_cursor, win, { after, 0 })
  end
end

--- Append lines to the conversation; returns the 0-based row of the first.
---@param lines string[]
---@param hl? string a highlight group for the first line
---@return integer row
local function append(lines, hl)
  local first
  modify(function(row)
    vim.api.nvim_buf_set_lines(S.bufnr, row, row, false, lines)
    first = row
    if hl then
      vim.api.nvim_buf_set_extmark(S.bufnr, ns, row, 0, { line_hl_group = hl })
    end
  end)
  S.in_text = false
  return first
end

--- Append streamed text to the last line of the conversation.
---@param text string
local function append_text(text)
  modify(function(row)
    local last = vim.api.nvim_buf_get_lines(S.bufnr, row - 1, row, false)[1] or ""
    local parts = vim.split(last .. text, "\n", { plain = true })
    vim.api.nvim_buf_set_lines(S.bufnr, row - 1, row, false, parts)
  end)
end

-- ------------------------------------------------------------------ folds

--- Fold levels (foldexpr): a tool call's header ("⚙ ...") starts a fold that holds the
--- indented output lines right after it. Local to each line, so Neovim's incremental fold
--- updates stay right while the chat grows.
---@param lnum integer
---@return string
function M.foldexpr(lnum)
  local line = vim.fn.getline(lnum)
  if vim.startswith(line, "⚙ ") or vim.startswith(line, "∴ ") then
    return ">1"
  end
  if vim.startswith(line, "    ") then
    return "="
  end
  return "0"
end

-- ------------------------------------------------------------------ rendering

---@param value any
---@param max? integer
---@return string
local function short(value, max)
  if value == nil or value == vim.NIL then
    return ""
  end
  local s = type(value) == "string" and value or vim.json.encode(value)
  s = s:gsub("%s*\n%s*", " ")
  max = max or 100
  if #s > max then
    s = s:sub(1, max - 3) .. "..."
  end
  return s
end

---@param name string
---@param args any
---@return string
local function tool_args(name, args)
  if type(args) ~= "table" then
    return short(args)
  end
  local main = args.command or args.path or args.pattern or args.query
  if main then
    return "`" .. short(main, 80) .. "`"
  end
  return short(args, 80)
end

---@param path string
---@return string[]?
local function file_lines(path)
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and vim.api.nvim_buf_get_name(b) == path then
      return vim.api.nvim_buf_get_lines(b, 0, -1, false)
    end
  end
  if vim.fn.filereadable(path) == 1 then
    return vim.fn.readfile(path)
  end
  return nil
end

---@param a? string[]
---@param b? string[]
---@return integer added
---@return integer removed
local function count_changes(a, b)
  local ta = a and (table.concat(a, "\n") .. "\n") or ""
  local tb = b and (table.concat(b, "\n") .. "\n") or ""
  local fn = (vim.text and vim.text.diff) or vim.diff
  local added, removed = 0, 0
  for _, h in ipairs(fn(ta, tb, { result_type = "indices" }) --[[@as integer[][] ]]) do
    removed = removed + h[2]
    added = added + h[4]
  end
  return added, removed
end

local edit_tools = { edit_file = true, write_file = true, delete_file = true }

---@param prompt string
---@return string shown
---@return string? context the names of the added context
local function split_prompt(prompt)
  local at = prompt:find(CONTEXT_MARK, 1, true)
  if not at then
    return prompt
  end
  local names = {}
  for name in prompt:sub(at):gmatch("\n### ([^\n]+)") do
    names[#names + 1] = name
  end
  return prompt:sub(1, at - 1), table.concat(names, ", ")
end

---@param ev minicode.Event
local function on_tool_started(ev, d)
  local name = short(d.name or d.tool)
  local id = tostring(d.toolCallId or name)
  local row = append({ "", ("⚙ %s %s …"):format(name, tool_args(name, d.arguments)) }, nil) + 1
  vim.api.nvim_buf_set_extmark(S.bufnr, ns, row, 0, { line_hl_group = "MiniCodeTool" })
  local header = vim.api.nvim_buf_set_extmark(S.bufnr, ns, row, 0, {})
  local stop = vim.api.nvim_buf_set_extmark(S.bufnr, ns, row, 0, {})
  local t = { header = header, stop = stop, name = name }
  local args = type(d.arguments) == "table" and d.arguments or {}
  if edit_tools[name] and type(args.path) == "string" and not S.replaying then
    local root = vim.fn.getcwd()
    local client = require("minicode.lsp").get_client()
    if client and client.root_dir then
      root = client.root_dir
    end
    local path = args.path:sub(1, 1) == "/" and args.path or vim.fs.normalize(root .. "/" .. args.path)
    t.path = path
    t.before = file_lines(path) or false
  end
  S.tools[id] = t
end

--- The user declined the call (an edit or a command, ask mode): the user's choice, not a
--- failure. tool.finished says so in `declined`; a session recorded before that field was sent
--- says it only in its summary, the server's fixed sentence (agent/tools/registry.py
--- DECLINED_EDIT, agent/prompts.py COMMAND_REFUSED).
---@return boolean
local function declined_result(d)
  if d.declined == true then
    return true
  end
  local said = type(d.summary) == "string" and d.summary or ""
  return d.isError == true and (vim.startswith(said, "the user declined ") or vim.startswith(said, "the user refused "))
end

---@param ev minicode.Event
local function on_tool_finished(ev, d)
  local id = tostring(d.toolCallId or d.name)
  local t = S.tools[id]
  if not t then
    on_tool_started(ev, d)
    t = S.tools[id]
  end
  -- a tool's files.changed comes before its tool.finished: whatever this call did not change,
  -- it never will (declined, failed); its before-text must not count for a later change
  t.done = true
  local output = type(d.output) == "string" and d.output or (type(d.summary) == "string" and d.summary or "")
  local exit = tonumber(output:match("%[exit code (%-?%d+)%]%s*$") or "")
  local declined = declined_result(d)
  local failed = not declined and (d.isError == true or (exit ~= nil and exit ~= 0))
  local status = declined and "✗ declined"
    or (failed and (exit and ("✗ exit " .. exit) or "✗ failed") or (exit and ("✓ exit " .. exit) or "✓"))
  local b = S.bufnr
  local hrow = vim.api.nvim_buf_get_extmark_by_id(b, ns, t.header, {})[1]
  local srow = vim.api.nvim_buf_get_extmark_by_id(b, ns, t.stop, {})[1]
  if not hrow or not srow then
    return
  end
  local header = vim.api.nvim_buf_get_lines(b, hrow, hrow + 1, false)[1] or ""
  header = header:gsub(" …$", "") .. "  " .. status
  local unsaved = type(d.unsavedFiles) == "table" and #d.unsavedFiles > 0
  if unsaved then
    -- the command read the disk while the agent's edit was unsaved in a buffer
    header = header .. "  ⚠ unsaved: " .. table.concat(d.unsavedFiles, ", ")
  end
  local body = {}
  for _, l in ipairs(vim.split(output:gsub("\n+$", ""), "\n", { plain = true })) do
    body[#body + 1] = "    " .. l
  end
  if #body == 0 or (#body == 1 and body[1] == "    ") then
    body = { "    (no output)" }
  end
  modify(function()
    vim.api.nvim_buf_set_lines(b, hrow, hrow + 1, false, { header })
    vim.api.nvim_buf_set_extmark(b, ns, hrow, 0,
      { line_hl_group = declined and "MiniCodeToolDeclined"
        or (failed and "MiniCodeToolFailed" or (unsaved and "MiniCodeWarn" or "MiniCodeTool")) })
    vim.api.nvim_buf_set_lines(b, srow + 1, srow + 1, false, body)
    for r = srow + 1, srow + #body do
      vim.api.nvim_buf_set_extmark(b, ns, r, 0, { line_hl_group = "MiniCodeOutput" })
    end
  end)
  S.in_text = false
end

---@param ev minicode.Event
local function on_files_changed(ev, d)
  local files = type(d.files) == "table" and d.files or {}
  if #files == 0 then
    for _, u in ipairs(d.uris or {}) do
      files[#files + 1] = { uri = u, action = "modify" }
    end
  end
  local keys = require("minicode.config").options.chat.keys
  local group = d.groupId
  if group and group ~= vim.NIL then
    local row = append({ ("◆ checkpoint %s · %s: preview a rewind to before this step"):format(tostring(group):sub(1, 8), keys.rewind) },
      "MiniCodeCheckpoint")
    local mark = vim.api.nvim_buf_set_extmark(S.bufnr, ns, row, 0, {})
    S.items[mark] = { kind = "checkpoint", groupId = group, sessionId = ev.sessionId }
  end
  for _, f in ipairs(files) do
    local path = vim.uri_to_fname(f.uri)
    local before
    for _, t in pairs(S.tools) do
      if t.path == path and not t.done then
        before = t.before
        t.done = true
      end
    end
    local after = f.action ~= "delete" and file_lines(path) or nil
    local counts = ""
    if before ~= nil then
      local add, rem = count_changes(before or nil, after)
      counts = ("+%d -%d"):format(add, rem)
    else
      local add = after and #after or 0
      counts = f.action == "create" and ("+%d -0"):format(add) or "changed"
    end
    local verb = ({ create = "created", delete = "deleted", modify = "edited" })[f.action] or "changed"
    local row = append({ ("✎ %s %s  %s · %s: diff"):format(verb, vim.fn.fnamemodify(path, ":~:."), counts, keys.diff) }, "MiniCodeEdit")
    local mark = vim.api.nvim_buf_set_extmark(S.bufnr, ns, row, 0, {})
    S.items[mark] = {
      kind = "edit",
      path = path,
      uri = f.uri,
      before = before ~= nil and (before or nil) or nil,
      after = after,
      known = before ~= nil,
      groupId = group,
      sessionId = ev.sessionId,
    }
  end
end

---@param ev minicode.Event
local function on_turn_finished(ev, d)
  local usage = type(d.usage) == "table" and d.usage or {}
  local input = usage.inputTokens or usage.input_tokens or 0
  local output = usage.outputTokens or usage.output_tokens or 0
  local reason = short(d.stopReason)
  local ok = reason == "done" or reason == "await_user"
  local label = require("minicode.ui").stop_label(reason)
  local line = ("■ %s · %d tokens (%d in, %d out)"):format(label ~= "" and label or "finished", input + output, input, output)
  local lines = { "", line }
  if d.error and d.error ~= vim.NIL then
    lines[#lines + 1] = "  " .. short(d.error, 300)
  end
  append(lines)
  local row = sep_row() - (#lines - 1)
  vim.api.nvim_buf_set_extmark(S.bufnr, ns, row, 0, { line_hl_group = ok and "MiniCodeStop" or "MiniCodeError" })
end

--- Append streamed reasoning to the thought section (its lines indented: they fold under it).
---@param text string
local function append_thought(text)
  modify(function(row)
    local last = vim.api.nvim_buf_get_lines(S.bufnr, row - 1, row, false)[1] or ""
    local parts = vim.split(last .. text, "\n", { plain = true })
    for i = 2, #parts do
      parts[i] = "    " .. parts[i]
    end
    vim.api.nvim_buf_set_lines(S.bufnr, row - 1, row, false, parts)
  end)
end

--- Start a thought section: "∴ thinking" and its (indented) text, folded in every window.
local function start_thought()
  local row = append({ "", "∴ thinking (za shows it)", "    " })
  vim.api.nvim_buf_set_extmark(S.bufnr, ns, row + 1, 0, { line_hl_group = "MiniCodeThought" })
  S.in_thought = true
  S.thought_row = row + 1
end

--- Close the thought section's fold in the windows showing the chat (folded by default).
local function fold_thought()
  local row = S.thought_row
  if not row then
    return
  end
  for _, win in ipairs(vim.fn.win_findbuf(S.bufnr)) do
    pcall(vim.api.nvim_win_call, win, function()
      if vim.fn.foldclosed(row + 1) == -1 then
        vim.cmd(("silent! %dfoldclose"):format(row + 1))
      end
    end)
  end
end

--- Show (or clear, with nil) the "waiting for the model" line above the prompt: virtual, it
--- goes away as soon as the model answers.
---@param text? string
local function show_waiting(text)
  if S.waiting_mark then
    pcall(vim.api.nvim_buf_del_extmark, S.bufnr, ns, S.waiting_mark)
    S.waiting_mark = nil
  end
  if text then
    S.waiting_mark = vim.api.nvim_buf_set_extmark(S.bufnr, ns, sep_row(), 0, {
      virt_lines = { { { text, "MiniCodeWaiting" } } },
      virt_lines_above = true,
    })
  end
end

--- The "waiting for the model" line shown now (nil: none), for tests and statuslines.
---@return string?
function M.waiting()
  if not (valid() and S.waiting_mark) then
    return nil
  end
  local m = vim.api.nvim_buf_get_extmark_by_id(S.bufnr, ns, S.waiting_mark, { details = true })
  local vl = m[3] and m[3].virt_lines
  return vl and vl[1] and vl[1][1] and vl[1][1][1] or nil
end

--- Render one event into the chat.
---@param ev minicode.Event
function M.render_event(ev)
  M.buffer()
  local d = type(ev.data) == "table" and ev.data or {}
  local t = ev.type
  if t == T.model_waiting then
    local secs = tonumber(d.seconds) or 0
    local provider = type(d.provider) == "string" and d.provider ~= "" and (", " .. d.provider) or ""
    show_waiting(("⏳ waiting for the model: %d s%s"):format(secs, provider))
    return
  end
  show_waiting(nil)
  if t == T.thought_delta then
    local text = d.text or d.delta
    if type(text) == "string" and text ~= "" then
      local first = not S.in_thought
      if first then
        start_thought()
      end
      append_thought(text)
      if first then
        fold_thought() -- once: a fold the user opened stays open while the reasoning streams
      end
    end
    S.in_text = false
    return
  end
  S.in_thought = false
  if t == T.text_delta then
    local text = d.text or d.delta
    if type(text) == "string" and text ~= "" then
      if not S.in_text then
        -- a new paragraph: consecutive assistant texts never run together
        append({ "", "" })
        S.in_text = true
      end
      append_text(text)
    end
    return
  end
  -- any other event ends a streamed paragraph (context.usage marks a new model reply)
  S.in_text = false
  if t == T.turn_started then
    local shown, ctx = split_prompt(short(d.prompt, 100000) == "" and "" or tostring(d.prompt or ""))
    local lines = { "", "## You", "" }
    vim.list_extend(lines, vim.split(shown, "\n", { plain = true }))
    if ctx and ctx ~= "" then
      lines[#lines + 1] = "(context: " .. ctx .. ")"
    end
    vim.list_extend(lines, { "", "## MiniCode" })
    local row = append(lines)
    vim.api.nvim_buf_set_extmark(S.bufnr, ns, row + 1, 0, { line_hl_group = "MiniCodeUser" })
    vim.api.nvim_buf_set_extmark(S.bufnr, ns, row + #lines - 1, 0, { line_hl_group = "MiniCodeAssistant" })
  elseif t == T.tool_started then
    on_tool_started(ev, d)
  elseif t == T.tool_finished then
    on_tool_finished(ev, d)
  elseif t == T.files_changed then
    on_files_changed(ev, d)
  elseif t == T.provider_fallback then
    append({ "", ("↪ provider fallback: %s → %s (%s)"):format(short(d["from"]), short(d.to), short(d.reason)) }, nil)
  elseif t == T.turn_finished then
    on_turn_finished(ev, d)
  elseif t == T.error then
    local row = append({ "", "✗ error: " .. short(d.message, 300) })
    vim.api.nvim_buf_set_extmark(S.bufnr, ns, row + 1, 0, { line_hl_group = "MiniCodeError" })
  elseif t == T.context_compacted then
    append({ "", "… context compacted" }, nil)
  end
end

-- ------------------------------------------------------------------ windows

--- The window showing the chat, if any.
---@return integer?
function M.window()
  if not valid() then
    return nil
  end
  return vim.fn.win_findbuf(S.bufnr)[1]
end

---@param win integer
local function setup_window(win)
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  vim.wo[win].number = false
  vim.wo[win].relativenumber = false
  vim.wo[win].foldmethod = "expr"
  vim.wo[win].foldexpr = "v:lua.require'minicode.chat'.foldexpr(v:lnum)"
  vim.wo[win].foldtext = ""
  vim.wo[win].foldlevel = require("minicode.config").options.chat.fold_tools and 0 or 99
  vim.wo[win].conceallevel = 0
  -- the model's reasoning starts folded here too
  vim.api.nvim_win_call(win, function()
    for i, l in ipairs(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false)) do
      if vim.startswith(l, "∴ ") and vim.fn.foldclosed(i) == -1 then
        vim.cmd(("silent! %dfoldclose"):format(i))
      end
    end
  end)
end

--- Open the chat in a split (or return its window); `focus` moves the cursor into its prompt.
---@param focus? boolean
---@return integer win
function M.open(focus)
  local b = M.buffer()
  local win = M.window()
  local prev = vim.api.nvim_get_current_win()
  if not win then
    local opts = require("minicode.config").options.chat
    local cmd = opts.position == "bottom" and ("botright %dsplit"):format(opts.height)
      or (opts.position == "left" and ("topleft %dvsplit"):format(opts.width) or ("botright %dvsplit"):format(opts.width))
    vim.cmd(cmd)
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, b)
    setup_window(win)
    vim.api.nvim_set_current_win(prev)
  end
  if focus then
    vim.api.nvim_set_current_win(win)
    local last = vim.api.nvim_buf_line_count(b)
    vim.api.nvim_win_set_cursor(win, { last, 0 })
  end
  return win
end

--- Start a new chat (the next prompt starts a new session).
function M.new()
  if valid() then
    vim.api.nvim_buf_set_lines(S.bufnr, 0, -1, false, {})
    vim.api.nvim_buf_clear_namespace(S.bufnr, ns, 0, -1)
    S.tools, S.items, S.in_text, S.in_thought, S.waiting_mark, S.thought_row = {}, {}, false, false, nil, nil
    setup_buffer(S.bufnr)
  end
  S.session = nil
end

--- Clear the conversation (keeps the session).
function M.clear()
  local session = S.session
  M.new()
  S.session = session
end

-- ------------------------------------------------------------------ sending

local MAX_CONTEXT_BYTES = 100000

---@param prompt string
---@return string prompt with the referenced text added
---@return string? err
function M.expand_references(prompt)
  local blocks = {}
  local err
  local function add(name, lines)
    local text = table.concat(lines, "\n")
    if #text > MAX_CONTEXT_BYTES then
      text = text:sub(1, MAX_CONTEXT_BYTES) .. "\n[... cut at " .. MAX_CONTEXT_BYTES .. " bytes]"
    end
    blocks[#blocks + 1] = ("### %s\n```\n%s\n```"):format(name, text)
  end
  if prompt:find("#buffer", 1, true) then
    local b = S.last_file_buf
    if b and vim.api.nvim_buf_is_valid(b) and vim.api.nvim_buf_is_loaded(b) then
      local name = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(b), ":~:.")
      add(name .. (vim.bo[b].modified and " (unsaved buffer)" or " (buffer)"), vim.api.nvim_buf_get_lines(b, 0, -1, false))
    else
      err = "#buffer: no file buffer to add (open a file, then come back to the chat)"
    end
  end
  for path in prompt:gmatch("#file:(%S+)") do
    local full = vim.fn.fnamemodify(path, ":p")
    local lines = file_lines(full)
    if lines then
      add(vim.fn.fnamemodify(full, ":~:."), lines)
    else
      err = ("#file:%s: no such file"):format(path)
    end
  end
  if #blocks == 0 then
    return prompt, err
  end
  return prompt .. CONTEXT_MARK .. "\n\n" .. table.concat(blocks, "\n\n"), err
end

--- Send the prompt area's text: a new turn in the session shown (or a new session).
function M.send()
  local b = M.buffer()
  local prompt = M.prompt_text()
  if prompt == "" then
    ui.notify("type a prompt below the line first")
    return
  end
  if S.session and state.running[S.session] then
    ui.notify("a turn is running in this session: wait for it or cancel it", vim.log.levels.WARN)
    return
  end
  local full, err = M.expand_references(prompt)
  if err then
    ui.notify(err, vim.log.levels.WARN)
    return
  end
  vim.api.nvim_buf_set_lines(b, sep_row() + 1, -1, false, { "" })
  require("minicode.actions").run(full, { sessionId = S.session }, function(result)
    if type(result) == "table" and result.sessionId then
      S.session = result.sessionId
    end
  end)
end

-- ------------------------------------------------------------------ items under the cursor

---@return minicode.ChatItem?
local function item_at_cursor()
  if vim.api.nvim_get_current_buf() ~= S.bufnr then
    return nil
  end
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(S.bufnr, ns, { row, 0 }, { row, -1 }, {})) do
    local item = S.items[m[1]]
    if item then
      return item
    end
  end
  return nil
end

--- Open the diff of the edit under the cursor.
function M.open_diff()
  local item = item_at_cursor()
  if not item or item.kind ~= "edit" then
    ui.notify("no edit under the cursor")
    return
  end
  local name = vim.fn.fnamemodify(item.path, ":~:.")
  if item.known then
    require("minicode.diff").show_change("Agent edit of " .. name, item.path, item.before, item.after)
    return
  end
  -- a command's change: what the checkpoint recorded
  local lsp = require("minicode.lsp")
  lsp.execute(protocol.commands.rewind_preview, { sessionId = item.sessionId, target = { groupId = item.groupId }, uris = { item.uri } },
    function(err, preview)
      if err or type(preview) ~= "table" then
        ui.notify("no diff: " .. (err and lsp.error_message(err) or "nothing recorded"), vim.log.levels.WARN)
        return
      end
      require("minicode.diff").show_preview(preview, nil, "Agent change of " .. name, { changes = true })
    end)
end

--- Preview a rewind to the checkpoint under the cursor.
function M.preview_rewind()
  local item = item_at_cursor()
  if not item or not item.groupId then
    ui.notify("no checkpoint under the cursor")
    return
  end
  require("minicode.actions").rewind_preview({ sessionId = item.sessionId, target = { groupId = item.groupId } })
end

-- ------------------------------------------------------------------ events

--- Handle a `minicode/event` notification.
---@param ev minicode.Event
function M.on_event(ev)
  if type(ev) ~= "table" then
    return
  end
  if ev.type == T.turn_started then
    state.running[ev.sessionId] = ev.turnId
    state.last_session = ev.sessionId
    local d = type(ev.data) == "table" and ev.data or {}
    local shown = split_prompt(type(d.prompt) == "string" and d.prompt or "")
    state.titles[ev.sessionId] = vim.split(vim.trim(shown), "\n", { plain = true })[1]
    if S.session ~= ev.sessionId and S.session ~= nil and valid() then
      append({ "", ("---"), ("(session %s)"):format(tostring(ev.sessionId):sub(1, 8)) })
    end
    S.session = ev.sessionId
    if require("minicode.config").options.chat.auto_open and not M.window() then
      -- a new window changes the layout: not while the user types
      ui.when_idle(function()
        M.open(false)
      end, "MiniCode chat", true)
    end
  elseif ev.type == T.turn_finished then
    state.finished[ev.turnId] = true
    if state.running[ev.sessionId] == ev.turnId then
      state.running[ev.sessionId] = nil
    end
    local d = type(ev.data) == "table" and ev.data or {}
    require("minicode.diff").end_turn(ev.sessionId, tostring(d.stopReason or "finished"))
    vim.schedule(function()
      vim.cmd("redrawstatus!")
    end)
  end
  M.render_event(ev)
  vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodeEvent", data = ev, modeline = false })
end

--- Render a recorded session (the result of minicode.session.replay); a prompt continues it.
---@param session_id string
---@param events minicode.Event[]
function M.replay(session_id, events)
  M.new()
  append({ "", ("## Session %s (replayed; a prompt below continues it)"):format(session_id) })
  S.replaying = true -- the files' texts before each edit are not known now
  for _, ev in ipairs(events) do
    ev.sessionId = ev.sessionId or session_id
    local ok, err = pcall(M.render_event, ev)
    if not ok then
      ui.notify("replay: " .. tostring(err), vim.log.levels.WARN)
    end
  end
  S.replaying = false
  S.session = session_id
  M.open(false)
end

--- The session a prompt continues (nil: a new one).
---@return string?
function M.session()
  return S.session
end

-- remember the file buffer the user was in (for #buffer)
vim.api.nvim_create_autocmd("BufEnter", {
  group = vim.api.nvim_create_augroup("minicode.chat", { clear = true }),
  callback = function(args)
    if vim.bo[args.buf].buftype == "" and vim.api.nvim_buf_get_name(args.buf) ~= "" then
      S.last_file_buf = args.buf
    end
  end,
})
do
  local cur = vim.api.nvim_get_current_buf()
  if vim.bo[cur].buftype == "" and vim.api.nvim_buf_get_name(cur) ~= "" then
    S.last_file_buf = cur
  end
end

return M
