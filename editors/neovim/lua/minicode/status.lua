---@mod minicode.status Readiness and progress, for statuslines and notifications
---
--- `minicode/readiness` reports are kept here; each change of state is notified once.
--- Turn progress comes through Neovim's own LSP progress (`$/progress`, `vim.lsp.status()`,
--- the `LspProgress` autocmd): nothing to configure.
---
--- Statusline: `require("minicode.status").statusline()`, e.g. with lualine:
--- `sections = { lualine_x = { function() return require("minicode.status").statusline() end } }`

local state = require("minicode.state")

local M = {}

local icons = { ready = "●", degraded = "◐", blocked = "✗" }
local levels = { ready = vim.log.levels.INFO, degraded = vim.log.levels.WARN, blocked = vim.log.levels.ERROR }

---@type string?
local last_state = nil

--- Summary of the checks that are not ok, one line each.
---@param report minicode.ReadinessReport
---@return string[]
function M.problem_lines(report)
  local lines = {}
  for _, check in ipairs(report.checks or {}) do
    if check.status ~= "ok" then
      local line = ("%s %s: %s"):format(check.status, check.name, check.detail or "")
      if check.fix and check.fix ~= "" then
        line = line .. " (fix: " .. check.fix .. ")"
      end
      lines[#lines + 1] = line
    end
  end
  return lines
end

--- Handle a `minicode/readiness` notification (or a `minicode.readiness` result).
---@param report minicode.ReadinessReport
function M.on_readiness(report)
  if type(report) ~= "table" or not report.state then
    return
  end
  state.readiness = report
  if report.state ~= last_state then
    local first = last_state == nil
    last_state = report.state
    local opts = require("minicode.config").options
    -- at start, only news worth a popup: not "ready", and not "degraded" by warnings alone
    -- (one provider and no fallback is the common setup; the statusline still shows it)
    local quiet = first and (report.state == "ready" or (report.state == "degraded" and not M.has_failure(report)))
    if opts.notify.readiness and not quiet then
      local msg = { report.state }
      vim.list_extend(msg, M.problem_lines(report))
      -- one line, so no "Press ENTER" at startup or recovery
      require("minicode.ui").notify(table.concat(msg, " · "), levels[report.state] or vim.log.levels.INFO)
    end
  end
  vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodeReadiness", data = report, modeline = false })
  vim.cmd("redrawstatus!")
end

--- Whether any check of the report failed (not merely warned).
---@param report minicode.ReadinessReport
---@return boolean
function M.has_failure(report)
  for _, check in ipairs(report.checks or {}) do
    if check.status == "fail" then
      return true
    end
  end
  return false
end

--- The latest readiness report, or nil before the first one.
---@return minicode.ReadinessReport?
function M.readiness()
  return state.readiness
end

---@type table<string|integer, string> progress token -> latest message
local progress = {}

--- Follow this client's `$/progress` through the LspProgress autocmd.
function M.track_progress()
  vim.api.nvim_create_autocmd("LspProgress", {
    group = vim.api.nvim_create_augroup("minicode.status", { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if not client or client.name ~= require("minicode.lsp").name then
        return
      end
      local params = args.data.params or {}
      local value = params.value or {}
      if value.kind == "end" then
        progress[params.token] = nil
      else
        progress[params.token] = value.title or progress[params.token] or value.message or ""
      end
      vim.cmd("redrawstatus!") -- every window's statusline, not only the current one
    end,
  })
end

--- The running turns' progress messages (from `$/progress`), joined; nil when idle.
---@return string?
function M.progress()
  local parts = {}
  for _, msg in pairs(progress) do
    parts[#parts + 1] = msg
  end
  if #parts == 0 then
    return nil
  end
  table.sort(parts)
  return table.concat(parts, ", ")
end

---@param s string
---@param n integer
---@return string
local function cut(s, n)
  s = s:gsub("%s+", " ")
  if vim.fn.strchars(s) > n then
    return vim.fn.strcharpart(s, 0, n - 1) .. "…"
  end
  return s
end

--- A short statusline component: "MiniCode ● ready" when idle; while a turn runs only that
--- turn: "MiniCode ⟳ {short title}" (the progress title, cut to 30 characters).
---@return string
function M.statusline()
  local report = state.readiness
  local msg = M.progress()
  local session = next(state.running)
  if msg or session ~= nil then
    -- the running turn's prompt (its first line), else the progress title
    local title = session and state.titles[session] or msg
    return "MiniCode ⟳" .. (title and title ~= "" and (" " .. cut(title, 30)) or "")
  end
  if not report then
    if require("minicode.lsp").get_client() then
      return "MiniCode …"
    end
    return ""
  end
  return ("MiniCode %s %s"):format(icons[report.state] or "?", report.state)
end

return M
