---@mod minicode.config Options of the Neovim plugin
---
--- One table with a default for every field. `require("minicode").setup(opts)` deep-merges
--- `opts` (and `vim.g.minicode`, when set) over these defaults. Unknown keys are reported
--- once and ignored; invalid values keep their default. Nothing here is fatal.

local M = {}

---@class minicode.PanelKeys
---@field toggle string|string[] expand or collapse the item under the cursor
---@field resume string continue the session (asks for a prompt)
---@field replay string show the session's recorded events in the transcript
---@field preview string preview a rewind of the item under the cursor as a diff
---@field rewind string rewind the item under the cursor (asks through the diff view)
---@field diff string open the diff of the file under the cursor
---@field open string open the file under the cursor
---@field refresh string reload the list
---@field close string close the panel

---@class minicode.DiffKeys
---@field accept string apply the proposed edit
---@field reject string decline it
---@field next_file string show the next file of the edit
---@field prev_file string show the previous file of the edit
---@field accept_hunk string keep the hunk under the cursor (per-hunk review of an agent edit)
---@field reject_hunk string leave the hunk under the cursor out

---@class minicode.ChatKeys
---@field send string send the prompt (Normal and Insert mode; <CR> sends in Normal mode too)
---@field diff string open the diff of the edit under the cursor
---@field rewind string preview a rewind to the checkpoint under the cursor
---@field cancel string cancel the running turn
---@field new string start a new chat (a new session)

---@class minicode.ChatOptions
---@field auto_open boolean open the chat (without focus) when a turn starts
---@field position "right"|"left"|"bottom"
---@field width integer columns (right/left)
---@field height integer lines (bottom)
---@field fold_tools boolean tool calls start folded (their output hidden until za)
---@field keys minicode.ChatKeys

---@class minicode.Config
---@field cmd string[] the server command
---@field log_file string the server's log file (passed as --log-file to minicode-lsp; "" logs to the LSP log)
---@field cmd_env? table<string,string> extra environment for the server
---@field root_markers string[] files that mark a workspace root
---@field filetypes? string[] attach only to these filetypes (nil: every file buffer)
---@field autostart boolean start the server when a file buffer opens (after setup())
---@field settings table the server's settings tree (sent as initializationOptions and as settings.minicode)
---@field panel {position: "left"|"right", width: integer, keys: minicode.PanelKeys}
---@field transcript {auto_open: boolean, height: integer} (older names of chat.auto_open, chat.height)
---@field chat minicode.ChatOptions
---@field diff {layout: "split"|"unified", placement: "tab"|"split"|"inline", keys: minicode.DiffKeys}
---@field notify {readiness: boolean}

---@type minicode.Config
M.defaults = {
  cmd = { "minicode-lsp", "serve" },
  log_file = vim.fn.stdpath("log") .. "/minicode-lsp.log",
  cmd_env = nil,
  root_markers = { ".minicode.toml", "AGENTS.md", ".git" },
  filetypes = nil,
  autostart = true,
  settings = {},
  panel = {
    position = "left",
    width = 48,
    keys = {
      toggle = { "<CR>", "o" },
      resume = "r",
      replay = "p",
      preview = "v",
      rewind = "X",
      diff = "d",
      open = "gf",
      refresh = "R",
      close = "q",
    },
  },
  transcript = { auto_open = true, height = 12 },
  chat = {
    auto_open = true,
    position = "right",
    width = 80,
    height = 15,
    fold_tools = false,
    keys = { send = "<C-s>", diff = "gd", rewind = "gp", cancel = "<C-c>", new = "gn" },
  },
  diff = {
    layout = "split",
    placement = "tab",
    keys = { accept = "ga", reject = "gr", next_file = "]f", prev_file = "[f", accept_hunk = "gh", reject_hunk = "gH" },
  },
  notify = { readiness = true },
}

---@type minicode.Config
M.options = vim.deepcopy(M.defaults)

--- Keys whose value is an open table (not checked key by key).
local open_tables = { settings = true, cmd_env = true }

---@param defaults table
---@param given table
---@param prefix string
---@param problems string[]
---@return table
local function merge(defaults, given, prefix, problems)
  local out = vim.deepcopy(defaults)
  for key, value in pairs(given) do
    local path = prefix .. tostring(key)
    local default = defaults[key]
    if default == nil and not (prefix == "" and (key == "filetypes" or key == "cmd_env")) then
      problems[#problems + 1] = ("unknown option %s, ignored"):format(path)
    elseif open_tables[key] or default == nil then
      out[key] = value
    elseif type(default) == "table" and not vim.islist(default) and type(value) == "table" then
      out[key] = merge(default, value, path .. ".", problems)
    elseif type(value) ~= type(default) and not (type(default) == "table" and type(value) == "string") then
      problems[#problems + 1] = ("invalid %s (%s expected, got %s): keeping the default"):format(path, type(default), type(value))
    else
      out[key] = value
    end
  end
  return out
end

--- Merge user options over the defaults.
---@param opts? table
---@return minicode.Config config
---@return string[] problems
function M.resolve(opts)
  local problems = {}
  local g = vim.g.minicode
  local merged = M.defaults
  if type(g) == "table" then
    merged = merge(merged, g, "", problems)
  end
  merged = merge(merged, opts or {}, "", problems)
  if type(merged.cmd) == "string" then
    merged.cmd = { merged.cmd }
  end
  -- the older transcript options still work
  local given_t = type(opts) == "table" and type(opts.transcript) == "table" and opts.transcript or {}
  if given_t.auto_open ~= nil and (type(opts.chat) ~= "table" or opts.chat.auto_open == nil) then
    merged.chat.auto_open = merged.transcript.auto_open
  end
  if merged.diff.layout ~= "split" and merged.diff.layout ~= "unified" then
    problems[#problems + 1] = ("invalid diff.layout %q: using \"split\""):format(tostring(merged.diff.layout))
    merged.diff.layout = "split"
  end
  if not vim.tbl_contains({ "tab", "split", "inline" }, merged.diff.placement) then
    problems[#problems + 1] = ("invalid diff.placement %q: using \"tab\""):format(tostring(merged.diff.placement))
    merged.diff.placement = "tab"
  end
  return merged, problems
end

--- Set the options (used by setup()).
---@param opts? table
---@return string[] problems
function M.set(opts)
  local problems
  M.options, problems = M.resolve(opts)
  for _, p in ipairs(problems) do
    require("minicode.ui").notify(p, vim.log.levels.WARN)
  end
  return problems
end

return M
