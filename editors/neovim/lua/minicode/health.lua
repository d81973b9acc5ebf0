---@mod minicode.health `:checkhealth minicode`

local M = {}

local health = vim.health

function M.check()
  health.start("minicode: Neovim")
  local v = vim.version()
  local version = ("%d.%d.%d"):format(v.major, v.minor, v.patch)
  if vim.fn.has("nvim-0.10") == 1 then
    health.ok("Neovim " .. version .. (vim.fn.has("nvim-0.11") == 1 and " (vim.lsp.config/enable)" or " (vim.lsp.start)"))
  else
    health.error("Neovim " .. version .. " is too old", { "Install Neovim 0.10 or newer" })
  end

  health.start("minicode: server")
  local options = require("minicode.config").options
  local exe = options.cmd[1]
  local path = vim.fn.exepath(exe)
  if path ~= "" then
    health.ok(("server executable: %s (%s)"):format(exe, path))
  else
    health.error(("server executable %q not found"):format(exe), {
      "install the server: pipx install . in your clone of minicode-lsp (or pip install . in a virtualenv)",
      "or set cmd in require('minicode').setup({ cmd = { '/path/to/minicode-lsp', 'serve' } })",
    })
  end
  health.info("command: " .. table.concat(options.cmd, " "))

  local lsp = require("minicode.lsp")
  local client = lsp.get_client()
  if not client then
    health.warn("no minicode client is running", { "open a file in a workspace, or run :MiniCode readiness" })
  else
    local folders = client.workspace_folders or (client.config and client.config.workspace_folders) or {}
    local root = client.root_dir or (client.config and client.config.root_dir)
      or (folders[1] and folders[1].uri and vim.uri_to_fname(folders[1].uri))
    if type(root) == "string" and root ~= "" then
      health.ok(("client %d running, root %s"):format(client.id, root))
    else
      -- no root marker above the file: Neovim sends the server no workspace folder, and the
      -- server works in its own working directory (Neovim's when it started the server)
      health.ok(("client %d running, no root marker (%s) found: the server works in the folder Neovim was in when it started"
        .. " the server (the workspace line under readiness names it)"):format(client.id,
        table.concat(options.root_markers or {}, ", ")))
    end
  end

  health.start("minicode: readiness")
  local report, err = nil, nil
  if client then
    report, err = lsp.execute_sync(require("minicode.protocol").commands.readiness, { probe = false }, 5000)
    if type(report) == "table" and report.state then
      require("minicode.status").on_readiness(report)
    else
      report = require("minicode.status").readiness()
    end
  end
  if not report then
    health.warn("no readiness report" .. (err and (": " .. err) or ""), { "start the server (open a file) and run :checkhealth minicode again" })
  else
    local line = "readiness: " .. report.state
    if report.state == "ready" then
      health.ok(line)
    elseif report.state == "degraded" then
      health.warn(line)
    else
      health.error(line)
    end
    for _, check in ipairs(report.checks or {}) do
      local text = ("%s: %s"):format(check.name, check.detail or "")
      local fix = (check.fix and check.fix ~= "") and { check.fix } or nil
      if check.status == "ok" then
        health.ok(text)
      elseif check.status == "warn" then
        health.warn(text, fix)
      else
        health.error(text, fix)
      end
    end
  end

  health.start("minicode: logs")
  health.info("LSP log (server messages via window/logMessage): " .. vim.lsp.get_log_path())
  health.info("open it with :MiniCode log")
end

return M
