---@mod minicode.commands The `:MiniCode` command: subcommands, dispatch, completion

local protocol = require("minicode.protocol")
local lsp = require("minicode.lsp")
local state = require("minicode.state")
local actions = require("minicode.actions")

local M = {}

local C = protocol.commands

---@param msg string
---@param level? integer
local function notify(msg, level)
  require("minicode.ui").notify(msg, level)
end

-- --------------------------------------------------------------------- :MiniCode

---@param arglead string
---@return string[]
local function complete_sessions(arglead)
  local result = lsp.execute_sync(C.session_list, { limit = 50 }, 500)
  local ids = {}
  for _, s in ipairs(type(result) == "table" and result.sessions or {}) do
    if vim.startswith(s.id, arglead) then
      ids[#ids + 1] = s.id
    end
  end
  return ids
end

--- Rewind targets; after `group:` / `turn:` the ids of the latest session's groups / turns.
local function complete_targets(arglead)
  local out = {}
  local session = state.last_session
  if vim.startswith(arglead, "group:") then
    local result = lsp.execute_sync(C.checkpoint_list, session and { sessionId = session } or vim.empty_dict(), 500)
    for _, g in ipairs(type(result) == "table" and (result.groups or {}) or {}) do
      out[#out + 1] = "group:" .. g.id
    end
  elseif vim.startswith(arglead, "turn:") then
    local result = session and lsp.execute_sync(C.session_show, { sessionId = session }, 500)
    for _, t in ipairs(type(result) == "table" and (result.turns or {}) or {}) do
      out[#out + 1] = "turn:" .. t.id
    end
  else
    out = { "latest", "session", "steps=", "group:", "turn:" }
  end
  return vim.tbl_filter(function(t)
    return vim.startswith(t, arglead)
  end, out)
end

---@class minicode.Subcommand
---@field impl fun(args: string[], opts: table)
---@field complete? fun(arglead: string): string[]
---@field desc string

---@type table<string, minicode.Subcommand>
M.subcommands = {
  run = {
    desc = "run {prompt}: start a turn (a range sends the selection as context)",
    impl = function(args, opts)
      local prompt = table.concat(args, " ")
      local context
      if opts.range and opts.range > 0 then
        context = actions.range_context(vim.api.nvim_get_current_buf(), opts.line1, opts.line2)
      end
      if prompt == "" then
        vim.ui.input({ prompt = "MiniCode: " }, function(input)
          if input and input ~= "" then
            actions.run(input, { context = context })
          end
        end)
        return
      end
      actions.run(prompt, { context = context })
    end,
  },
  cancel = {
    desc = "cancel [id]: cancel the running turn",
    impl = function(args)
      actions.cancel(args[1])
    end,
    complete = complete_sessions,
  },
  sessions = {
    desc = "sessions: toggle the sessions panel",
    impl = function()
      require("minicode.panel").toggle_panel()
    end,
  },
  resume = {
    desc = "resume {id} [prompt]: continue a session (asks for the prompt when none is given)",
    impl = function(args)
      if not args[1] then
        return notify("resume needs a session id", vim.log.levels.ERROR)
      end
      actions.resume(args[1], table.concat(args, " ", 2))
    end,
    complete = complete_sessions,
  },
  replay = {
    desc = "replay {id}: show a session's recorded events",
    impl = function(args)
      local id = args[1] or state.last_session
      if not id then
        return notify("replay needs a session id", vim.log.levels.ERROR)
      end
      actions.replay(id)
    end,
    complete = complete_sessions,
  },
  checkpoints = {
    desc = "checkpoints [id]: edit groups in the quickfix list",
    impl = function(args)
      actions.checkpoints(args[1])
    end,
    complete = complete_sessions,
  },
  ["rewind-preview"] = {
    desc = "rewind-preview [target]: preview a rewind as a diff",
    impl = function(args)
      local target, err = actions.parse_target(table.concat(args, " "))
      if not target then
        return notify(err, vim.log.levels.ERROR)
      end
      actions.rewind_preview({ target = target })
    end,
    complete = complete_targets,
  },
  rewind = {
    desc = "rewind[!] [target]: rewind agent edits (!: force, conflicts get markers)",
    impl = function(args, opts)
      local target, err = actions.parse_target(table.concat(args, " "))
      if not target then
        return notify(err, vim.log.levels.ERROR)
      end
      actions.rewind({ target = target, force = opts.bang or nil })
    end,
    complete = complete_targets,
  },
  ["rewind-undo"] = {
    desc = "rewind-undo: undo the latest rewind",
    impl = function()
      actions.rewind_undo()
    end,
  },
  readiness = {
    desc = "readiness: check the server, providers and store",
    impl = function()
      actions.readiness()
    end,
  },
  export = {
    desc = "export {id} [markdown|jsonl]: open a session's export",
    impl = function(args)
      local id = args[1] or state.last_session
      if not id then
        return notify("export needs a session id", vim.log.levels.ERROR)
      end
      actions.export(id, args[2])
    end,
    complete = complete_sessions,
  },
  chat = {
    desc = "chat [new]: open the chat buffer (new: start a new session)",
    impl = function(args)
      local chat = require("minicode.chat")
      if args[1] == "new" then
        chat.new()
      end
      chat.open(true)
    end,
    complete = function(arglead)
      return vim.startswith("new", arglead) and { "new" } or {}
    end,
  },
  review = {
    desc = "review: show the pending review again (after q)",
    impl = function()
      require("minicode.diff").reopen()
    end,
  },
  log = {
    desc = "log: open the LSP log",
    impl = function()
      actions.log()
    end,
  },
}

--- The `:MiniCode` command.
---@param opts table the user command's opts (fargs, range, line1, line2)
function M.dispatch(opts)
  require("minicode").ensure_setup()
  local name = opts.fargs[1]
  if not name then
    local keys = {}
    for key, sub in pairs(M.subcommands) do
      keys[#keys + 1] = { key, (sub.desc:gsub("^[^:]*:%s*", "")) }
    end
    table.sort(keys, function(a, b)
      return a[1] < b[1]
    end)
    require("minicode.ui").help(":MiniCode {subcommand}", keys)
    return
  end
  if name:sub(-1) == "!" then -- `:MiniCode rewind! ...`
    name = name:sub(1, -2)
    opts = vim.tbl_extend("force", opts, { bang = true })
  end
  local sub = M.subcommands[name]
  if not sub then
    return notify(("unknown subcommand %q"):format(name), vim.log.levels.ERROR)
  end
  sub.impl(vim.list_slice(opts.fargs, 2), opts)
end

--- Completion of `:MiniCode`.
---@param arglead string
---@param cmdline string
---@return string[]
function M.complete(arglead, cmdline)
  local words = vim.split(cmdline:gsub("^%s*%S*MiniCode!?%s*", ""), "%s+", { trimempty = false })
  if #words <= 1 then
    local names = vim.tbl_filter(function(n)
      return vim.startswith(n, arglead)
    end, vim.tbl_keys(M.subcommands))
    table.sort(names)
    return names
  end
  local sub = M.subcommands[(words[1]:gsub("!$", ""))]
  if sub and sub.complete and #words == 2 then
    return sub.complete(arglead)
  end
  if sub == M.subcommands.export and #words == 3 then
    return vim.tbl_filter(function(f)
      return vim.startswith(f, arglead)
    end, { "markdown", "jsonl" })
  end
  return {}
end

return M
