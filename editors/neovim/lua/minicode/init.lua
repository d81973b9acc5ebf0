---@mod minicode MiniCode for Neovim
---
--- A thin client of `minicode-lsp`: it starts the server, sends `:MiniCode` commands, and
--- renders what the server sends (events, readiness, sessions, edits to confirm).
--- `setup()` is optional: the first `:MiniCode` command sets up the defaults.

local M = {}

local did_setup = false

--- Configure the plugin and start the server for file buffers.
---@param opts? table see |minicode-config| (merged over `vim.g.minicode` and the defaults)
function M.setup(opts)
  local config = require("minicode.config")
  config.set(opts)
  require("minicode.ui").define_highlights()
  require("minicode.status").track_progress()
  -- a missing server is reported now, not at the first command
  local exe = config.options.cmd[1]
  if exe and vim.fn.executable(exe) == 0 then
    require("minicode.ui").notify(("server command %q not found: install minicode-lsp or set cmd (:checkhealth minicode)"):format(exe),
      vim.log.levels.ERROR)
  end
  if config.options.autostart then
    require("minicode.lsp").enable()
  end
  did_setup = true
end

--- Set up with the defaults unless setup() already ran.
function M.ensure_setup()
  if not did_setup then
    M.setup()
  end
end

--- Start a turn (what `:MiniCode run` does).
---@param prompt string
---@param opts? {context?: table, sessionId?: string, profile?: string, permissionMode?: string}
---@param cb? fun(result: {sessionId: string, turnId: string})
function M.run(prompt, opts, cb)
  M.ensure_setup()
  require("minicode.actions").run(prompt, opts, cb)
end

--- A statusline component (readiness and the running turn).
---@return string
function M.statusline()
  return require("minicode.status").statusline()
end

return M
