---@mod minicode.panel The sessions panel
---
--- A side split listing sessions (`minicode.session.list`). A session expands into its turns,
--- each turn into its edit groups with their files, then the groups outside any turn (all from
--- `minicode.session.show`). `minicode/sessions` notifications refresh it.

local protocol = require("minicode.protocol")
local lsp = require("minicode.lsp")

local M = {}

local C = protocol.commands
local NAME = "minicode://sessions"

---@class minicode.PanelItem
---@field kind "session"|"turn"|"group"|"file"
---@field session table
---@field turn? table
---@field group? table
---@field file? table

---@class minicode.PanelState
---@field bufnr? integer
---@field sessions minicode.SessionSummary[]
---@field expanded table<string, boolean>
---@field details table<string, minicode.SessionDetail> `minicode.session.show`: the whole tree
---@field items table<integer, minicode.PanelItem> line number -> item
local S = { bufnr = nil, sessions = {}, expanded = {}, details = {}, items = {}, collapsed_turns = {} }

local function short_id(id)
  return type(id) == "string" and id:sub(1, 8) or "?"
end

local function str(v)
  if v == nil or v == vim.NIL then
    return ""
  end
  return tostring(v)
end

--- Room for a label: the panel's text width (panel.width, or the window's less its number
--- and sign columns) less the rest of the line.
---@param used integer|string columns the rest of the line takes, or that rest itself
---@return integer
local function room(used)
  local win = S.bufnr and vim.fn.win_findbuf(S.bufnr)[1]
  local width = require("minicode.config").options.panel.width
  if win then
    local info = vim.fn.getwininfo(win)[1]
    width = vim.api.nvim_win_get_width(win) - (info and info.textoff or 0)
  end
  return math.max(3, width - (type(used) == "string" and vim.fn.strdisplaywidth(used) or used))
end

---@param text string
---@param max? integer
---@return string
local function one_line(text, max)
  text = str(text):gsub("%s+", " ")
  max = max or 60
  if vim.fn.strchars(text) > max then
    text = vim.fn.strcharpart(text, 0, max - 1) .. "…"
  end
  return text
end

--- `before .. label .. after` with the label cut to the room left: what comes after it (a
--- stop reason, an id) is never cut.
---@param before string
---@param label string
---@param after string
---@return string
local function fit(before, label, after)
  return before .. one_line(label, room(before .. after)) .. after
end

local action_marks = { create = "+", modify = "~", delete = "-" }

--- Render the panel from the state.
local function render()
  local b = S.bufnr
  if not b or not vim.api.nvim_buf_is_valid(b) then
    return
  end
  local keys = require("minicode.config").options.panel.keys
  local function k(v)
    return type(v) == "table" and v[1] or v
  end
  local lines = { "MiniCode sessions" }
  -- the key hints, wrapped to the panel's width (none cut off)
  local width = room(0)
  local line = ""
  for _, h in ipairs({ k(keys.toggle) .. " expand", keys.resume .. " resume", keys.replay .. " replay",
    keys.refresh .. " refresh", keys.preview .. " preview rewind", keys.rewind .. " rewind", keys.diff .. " diff",
    keys.open .. " open", "? help" }) do
    if line ~= "" and vim.fn.strdisplaywidth(line .. "  " .. h) > width then
      lines[#lines + 1] = line
      line = h
    else
      line = line == "" and h or (line .. "  " .. h)
    end
  end
  lines[#lines + 1] = line
  lines[#lines + 1] = ""
  local items = {}
  local function add(line, item)
    lines[#lines + 1] = line
    items[#lines] = item
  end
  if #S.sessions == 0 then
    lines[#lines + 1] = "  (no sessions yet: :MiniCode run {prompt})"
  end
  for _, s in ipairs(S.sessions) do
    local open = S.expanded[s.id]
    local turns = s.turnCount
    add(fit(("%s %s  "):format(open and "▾" or "▸", short_id(s.id)), s.title,
      ("  · %d turn%s · %s"):format(turns, turns == 1 and "" or "s", require("minicode.ui").stop_label(s.lastStopReason))), { kind = "session", session = s })
    local d = open and S.details[s.id]
    if open and not d then
      lines[#lines + 1] = "    loading…"
    elseif d then
      local function add_group(g, t, indent)
        add(fit(("%s%s %s  "):format(indent, g.rewound and "↶" or "●", str(g.kind)), g.label,
          ("%s  [%s]"):format(g.rewound and " (rewound)" or "", short_id(g.id))), { kind = "group", session = s, turn = t, group = g })
        for _, f in ipairs(g.files) do
          local path = f.path
          add(("%s    %s %s"):format(indent, action_marks[f.action] or "?", vim.fn.fnamemodify(path, ":~:.")),
            { kind = "file", session = s, turn = t, group = g, file = f })
        end
      end
      for i, t in ipairs(d.turns) do
        local folded = S.collapsed_turns[str(t.id)]
        local groups = t.groups
        add(fit(("    %s turn %d  "):format(#groups == 0 and " " or (folded and "▸" or "▾"), i), t.prompt,
          ("  [%s]"):format(require("minicode.ui").stop_label(t.stopReason))), { kind = "turn", session = s, turn = t })
        if not folded then
          for _, g in ipairs(groups) do
            add_group(g, t, "      ")
          end
        end
      end
      -- groups outside any turn: the safety groups rewinds leave (themselves rewindable)
      for _, g in ipairs(d.safetyGroups) do
        add_group(g, nil, "    ")
      end
    end
  end
  S.items = items
  vim.bo[b].modifiable = true
  vim.api.nvim_buf_set_lines(b, 0, -1, false, lines)
  vim.bo[b].modifiable = false
  vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodePanel", modeline = false })
end

--- Load a session's tree (`minicode.session.show` carries its turns, their edit groups and
--- the groups outside any turn).
---@param session_id string
---@param done? fun()
local function load_details(session_id, done)
  lsp.execute(C.session_show, { sessionId = session_id }, function(err, result)
    if err then
      require("minicode.ui").notify(lsp.error_message(err), vim.log.levels.WARN)
    elseif type(result) == "table" then
      S.details[session_id] = result
    end
    render()
    if done then
      done()
    end
  end)
end

--- Reload the session list (and the details of expanded sessions).
---@param done? fun()
function M.refresh(done)
  lsp.execute(C.session_list, { limit = 100 }, function(err, result)
    if err then
      require("minicode.ui").notify(lsp.error_message(err), vim.log.levels.WARN)
      if done then
        done()
      end
      return
    end
    S.sessions = type(result) == "table" and (result.sessions or {}) or {}
    local pending = 1
    local function finish()
      pending = pending - 1
      if pending == 0 then
        render()
        if done then
          done()
        end
      end
    end
    for _, s in ipairs(S.sessions) do
      if S.expanded[s.id] then
        pending = pending + 1
        load_details(s.id, finish)
      end
    end
    finish()
  end)
end

---@return minicode.PanelItem?
function M.item_at_cursor()
  if not S.bufnr or vim.api.nvim_get_current_buf() ~= S.bufnr then
    return nil
  end
  return S.items[vim.api.nvim_win_get_cursor(0)[1]]
end

--- Expand or collapse the session under the cursor (or the one with this id).
---@param session_id? string
---@param done? fun()
function M.toggle(session_id, done)
  if not session_id then
    local item = M.item_at_cursor()
    if not item then
      return
    end
    if item.kind == "file" then
      return M.open_file()
    end
    if item.kind == "turn" then -- turns fold their edit groups
      local tid = str(item.turn.id)
      S.collapsed_turns[tid] = not S.collapsed_turns[tid] or nil
      render()
      if done then
        done()
      end
      return
    end
    session_id = item.session.id
  end
  if S.expanded[session_id] then
    S.expanded[session_id] = nil
    render()
    if done then
      done()
    end
  else
    S.expanded[session_id] = true
    render()
    load_details(session_id, done)
  end
end

--- The rewind target of the item under the cursor.
---@param item minicode.PanelItem
---@return minicode.RewindTarget target
---@return string[]? uris
local function target_of(item)
  if item.kind == "file" then
    return { groupId = item.group.id }, { item.file.uri }
  elseif item.kind == "group" then
    return { groupId = item.group.id }, nil
  elseif item.kind == "turn" then
    return { turnId = item.turn.id }, nil
  end
  return { session = true }, nil
end

local function with_item(fn)
  return function()
    local item = M.item_at_cursor()
    if item then
      fn(item)
    end
  end
end

local actions = function()
  return require("minicode.actions")
end

M.resume = with_item(function(item)
  actions().resume(item.session.id)
end)

M.replay = with_item(function(item)
  actions().replay(item.session.id)
end)

M.preview = with_item(function(item)
  local target, uris = target_of(item)
  actions().rewind_preview({ sessionId = item.session.id, target = target, uris = uris })
end)

M.rewind = with_item(function(item)
  local target, uris = target_of(item)
  actions().rewind({ sessionId = item.session.id, target = target, uris = uris })
end)

-- what the agent changed in that group (or file): the group's own change, read-only
M.diff = with_item(function(item)
  if item.kind ~= "file" and item.kind ~= "group" then
    return
  end
  local target, uris = target_of(item)
  lsp.execute(C.rewind_preview, { sessionId = item.session.id, target = target, uris = uris }, function(err, preview)
    if err or type(preview) ~= "table" then
      require("minicode.ui").notify("no diff: " .. (err and lsp.error_message(err) or "nothing recorded"), vim.log.levels.WARN)
      return
    end
    require("minicode.diff").show_preview(preview, nil, "Agent changes: " .. one_line(item.group.label, 40), { changes = true })
  end)
end)

function M.open_file()
  local item = M.item_at_cursor()
  if not item or item.kind ~= "file" then
    return
  end
  local path = item.file.path or vim.uri_to_fname(item.file.uri)
  vim.cmd("wincmd p")
  vim.cmd.edit(vim.fn.fnameescape(path))
end

local function setup_buffer(b)
  vim.bo[b].buftype = "nofile"
  vim.bo[b].bufhidden = "hide"
  vim.bo[b].swapfile = false
  vim.bo[b].filetype = "minicode-sessions"
  vim.bo[b].modifiable = false
  local keys = require("minicode.config").options.panel.keys
  local function map(lhs, fn, desc)
    for _, l in ipairs(type(lhs) == "table" and lhs or { lhs }) do
      vim.keymap.set("n", l, fn, { buffer = b, nowait = true, silent = true, desc = "MiniCode: " .. desc })
    end
  end
  map(keys.toggle, function()
    M.toggle()
  end, "expand/collapse")
  map(keys.resume, M.resume, "resume session")
  map(keys.replay, M.replay, "replay session")
  map(keys.preview, M.preview, "preview rewind")
  map(keys.rewind, M.rewind, "rewind")
  map(keys.diff, M.diff, "diff of file")
  map(keys.open, M.open_file, "open file")
  map(keys.refresh, function()
    M.refresh()
  end, "refresh")
  map(keys.close, M.close, "close")
  require("minicode.ui").map_help(b, "MiniCode sessions", function()
    local function k(v)
      return type(v) == "table" and table.concat(v, " ") or v
    end
    return {
      { k(keys.toggle), "expand/collapse a session or a turn; on a file: open it" },
      { keys.resume, "resume: continue the session (asks for a prompt)" },
      { keys.replay, "replay the session into the chat" },
      { keys.preview, "preview a rewind of the item under the cursor" },
      { keys.rewind, "rewind it (through the diff view)" },
      { keys.diff, "what the agent changed there (read-only diff)" },
      { keys.open, "open the file" },
      { keys.refresh, "refresh" },
      { keys.close, "close the panel" },
      { "?", "this help" },
    }
  end)
end

---@return integer?
function M.window()
  if not S.bufnr or not vim.api.nvim_buf_is_valid(S.bufnr) then
    return nil
  end
  return vim.fn.win_findbuf(S.bufnr)[1]
end

--- Open the panel (and load the list).
---@param done? fun()
function M.open(done)
  if not S.bufnr or not vim.api.nvim_buf_is_valid(S.bufnr) then
    S.bufnr = vim.api.nvim_create_buf(false, true)
    pcall(vim.api.nvim_buf_set_name, S.bufnr, NAME)
    setup_buffer(S.bufnr)
  end
  local win = M.window()
  if not win then
    local opts = require("minicode.config").options.panel
    vim.cmd(("%s %dvsplit"):format(opts.position == "right" and "botright" or "topleft", opts.width))
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, S.bufnr)
    vim.wo[win].number = false
    vim.wo[win].relativenumber = false
    vim.wo[win].wrap = false
    vim.wo[win].winfixwidth = true
    vim.wo[win].cursorline = true
  end
  vim.api.nvim_set_current_win(win)
  render()
  M.refresh(done)
end

function M.close()
  local win = M.window()
  if win then
    pcall(vim.api.nvim_win_close, win, true)
  end
end

--- Open or close the panel.
function M.toggle_panel()
  if M.window() then
    M.close()
  else
    M.open()
  end
end

--- The panel's lines and items (for tests).
---@return string[] lines
---@return table<integer, minicode.PanelItem> items
function M.contents()
  if not S.bufnr or not vim.api.nvim_buf_is_valid(S.bufnr) then
    return {}, {}
  end
  return vim.api.nvim_buf_get_lines(S.bufnr, 0, -1, false), S.items
end

local refresh_timer = nil

--- Handle `minicode/sessions`: refresh the panel when it is open (debounced).
---@param params minicode.SessionsChanged
function M.on_sessions_changed(params)
  if type(params) == "table" and params.sessionId and params.change ~= "deleted" then
    S.details[params.sessionId] = S.expanded[params.sessionId] and S.details[params.sessionId] or nil
  end
  vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodeSessions", data = params, modeline = false })
  if not M.window() then
    return
  end
  if refresh_timer then
    refresh_timer:stop()
  end
  refresh_timer = vim.defer_fn(function()
    refresh_timer = nil
    M.refresh()
  end, 100)
end

return M
