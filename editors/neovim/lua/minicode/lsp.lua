---@mod minicode.lsp Starting the server and talking to it

local protocol = require("minicode.protocol")

local M = {}

--- The client name, as `vim.lsp.get_clients({ name = ... })` sees it.
M.name = "minicode"

local has_011 = vim.fn.has("nvim-0.11") == 1

---@param client vim.lsp.Client
---@param method string
---@param params table
---@param handler fun(err: lsp.ResponseError?, result: any)
---@param bufnr? integer
local function client_request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

---@param client vim.lsp.Client
---@param method string
---@param params table
---@param timeout integer
---@param bufnr? integer
local function client_request_sync(client, method, params, timeout, bufnr)
  if has_011 then
    return client:request_sync(method, params, timeout, bufnr)
  end
  return client.request_sync(method, params, timeout, bufnr)
end

--- The handlers this client uses instead of the global ones.
---@return table<string, function>
function M.handlers()
  local n = protocol.notifications
  return {
    ["workspace/applyEdit"] = function(...)
      return require("minicode.diff").handle_apply_edit(...)
    end,
    ["window/showMessageRequest"] = function(...)
      return M.show_message_request(...)
    end,
    [n.event] = function(_, params)
      require("minicode.transcript").on_event(params)
    end,
    [n.readiness] = function(_, params)
      require("minicode.status").on_readiness(params)
    end,
    [n.sessions] = function(_, params)
      require("minicode.panel").on_sessions_changed(params)
    end,
  }
end

--- `window/showMessageRequest` (the server's questions, e.g. "MiniCode wants to run: ...") through
--- `vim.ui.select`, so dressing/snacks/telescope pickers render it; asked only in Normal mode
--- (a question waits while the user types). Cancelling the picker answers null (= Deny).
---@param params lsp.ShowMessageRequestParams
---@return lsp.MessageActionItem|vim.NIL
function M.show_message_request(_, params)
  local actions = type(params) == "table" and params.actions or {}
  local co, is_main = coroutine.running()
  if #actions == 0 or not co or is_main then
    if #actions > 0 then
      require("minicode.ui").notify(tostring(params.message))
    end
    return vim.NIL
  end
  local message = tostring(params.message or "MiniCode asks")
  local ui = require("minicode.ui")
  ui.when_idle(function()
    -- Neovim's own vim.ui.select is a blocking number prompt: a float picker instead
    local select = ui.builtin_select() and ui.select_float or vim.ui.select
    select(actions, {
      prompt = message,
      kind = "minicode.approval",
      format_item = function(item)
        return item.title
      end,
    }, function(choice)
      vim.schedule(function()
        coroutine.resume(co, choice)
      end)
    end)
  end, "Question (" .. message .. ")")
  local choice = coroutine.yield()
  return choice or vim.NIL
end

--- Commands run on the client when a code action carries them (instead of being sent to the
--- server): a rewind preview opens the diff view rather than a document.
---@return table<string, fun(command: lsp.Command, ctx: table)>
function M.client_commands()
  return {
    [protocol.commands.rewind_preview] = function(command)
      local args = vim.deepcopy((command.arguments or {})[1] or {})
      args.showDocument = nil
      require("minicode.actions").rewind_preview(args)
    end,
  }
end

--- Client capabilities: Neovim's own, plus change annotations (the plugin renders edits that
--- need confirmation as a diff and asks before applying them).
---@return lsp.ClientCapabilities
function M.capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.workspace = caps.workspace or {}
  caps.workspace.workspaceEdit = caps.workspace.workspaceEdit or {}
  caps.workspace.workspaceEdit.changeAnnotationSupport = { groupsOnLabel = false }
  caps.experimental = vim.tbl_extend("force", caps.experimental or {}, {
    minicode = { diffPreview = true, events = true },
  })
  return caps
end

--- The server's log file (option `log_file`; nil when logging to stderr, i.e. the LSP log).
---@return string?
function M.log_file()
  local f = require("minicode.config").options.log_file
  if type(f) ~= "string" or f == "" then
    return nil
  end
  return vim.fs.normalize(f)
end

--- The server command, with `--log-file` added for `minicode-lsp` (unless already given):
--- the server then logs to its own file (|:MiniCode-log|) and not twice into the LSP log.
---@return string[]
function M.server_cmd()
  local cmd = vim.deepcopy(require("minicode.config").options.cmd)
  local log = M.log_file()
  if log and vim.fs.basename(cmd[1] or ""):match("^minicode%-lsp") and not vim.tbl_contains(cmd, "--log-file") then
    vim.fn.mkdir(vim.fs.dirname(log), "p")
    table.insert(cmd, 2, "--log-file")
    table.insert(cmd, 3, log)
  end
  return cmd
end

--- The client configuration built from the plugin options.
---@return vim.lsp.Config
function M.client_config()
  local opts = require("minicode.config").options
  local settings = vim.deepcopy(opts.settings or {})
  return {
    name = M.name,
    cmd = M.server_cmd(),
    cmd_env = opts.cmd_env,
    filetypes = opts.filetypes,
    root_markers = opts.root_markers,
    init_options = next(settings) and settings or vim.empty_dict(),
    settings = { minicode = next(settings) and settings or vim.empty_dict() },
    capabilities = M.capabilities(),
    handlers = M.handlers(),
    commands = M.client_commands(),
  }
end

---@param bufnr integer
---@return boolean
local function is_file_buffer(bufnr)
  return vim.api.nvim_buf_is_valid(bufnr) and vim.bo[bufnr].buftype == "" and vim.api.nvim_buf_get_name(bufnr) ~= ""
end

---@param bufnr integer
---@return string
local function root_for(bufnr)
  local markers = require("minicode.config").options.root_markers
  local root = vim.fs.root(bufnr, markers)
  return root or vim.fn.getcwd()
end

local augroup = vim.api.nvim_create_augroup("minicode.lsp", { clear = true })

--- Start the server automatically for file buffers (vim.lsp.enable on 0.11+, an autocmd
--- around vim.lsp.start on 0.10).
function M.enable()
  local cfg = M.client_config()
  if has_011 then
    vim.lsp.config(M.name, cfg)
    vim.lsp.enable(M.name)
    return
  end
  vim.api.nvim_clear_autocmds({ group = augroup })
  local function attach(bufnr)
    if not is_file_buffer(bufnr) then
      return
    end
    if cfg.filetypes and not vim.tbl_contains(cfg.filetypes, vim.bo[bufnr].filetype) then
      return
    end
    local start_cfg = vim.deepcopy(cfg)
    start_cfg.root_dir = root_for(bufnr)
    vim.lsp.start(start_cfg, { bufnr = bufnr })
  end
  vim.api.nvim_create_autocmd("FileType", {
    group = augroup,
    callback = function(args)
      attach(args.buf)
    end,
  })
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) and vim.bo[bufnr].filetype ~= "" then
      attach(bufnr)
    end
  end
end

--- The minicode client for a buffer (or any minicode client when none is attached to it).
---@param bufnr? integer
---@return vim.lsp.Client?
function M.get_client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local attached = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })
  if attached[1] then
    return attached[1]
  end
  return vim.lsp.get_clients({ name = M.name })[1]
end

--- Call `cb(client)` once a minicode client is running and initialized, starting one for the
--- current buffer (or the current directory) when there is none. `cb(nil, message)` on failure.
---@param cb fun(client: vim.lsp.Client?, err: string?)
function M.ensure(cb)
  local client = M.get_client()
  if not client then
    local cfg = M.client_config()
    if vim.fn.executable(cfg.cmd[1]) == 0 then
      cb(nil, ("server command %q not found (see :checkhealth minicode)"):format(cfg.cmd[1]))
      return
    end
    local bufnr = vim.api.nvim_get_current_buf()
    cfg.root_dir = root_for(bufnr)
    local id
    if is_file_buffer(bufnr) then
      id = vim.lsp.start(cfg, { bufnr = bufnr })
    elseif has_011 then
      id = vim.lsp.start(cfg, { attach = false })
    else
      id = vim.lsp.start_client(cfg)
    end
    client = id and vim.lsp.get_client_by_id(id) or nil
    if not client then
      cb(nil, "could not start the server")
      return
    end
  end
  local deadline = vim.uv.now() + 30000
  local function poll()
    if client.initialized then
      cb(client)
    elseif vim.lsp.get_client_by_id(client.id) == nil or vim.uv.now() > deadline then
      cb(nil, "the server did not initialize (see :MiniCode log)")
    else
      vim.defer_fn(poll, 20)
    end
  end
  poll()
end

---@param err lsp.ResponseError|string
---@return string
function M.error_message(err)
  if type(err) == "table" then
    return tostring(err.message or vim.inspect(err))
  end
  return tostring(err)
end

--- Run a server command with one argument object.
--- Without `cb`, errors are shown with vim.notify.
---@param command string a value of require("minicode.protocol").commands
---@param args? table the argument object (nil: an empty object)
---@param cb? fun(err: lsp.ResponseError|string|nil, result: any)
function M.execute(command, args, cb)
  M.ensure(function(client, start_err)
    if not client then
      if cb then
        cb(start_err)
      else
        require("minicode.ui").notify(tostring(start_err), vim.log.levels.ERROR)
      end
      return
    end
    local params = { command = command, arguments = { args or vim.empty_dict() } }
    client_request(client, "workspace/executeCommand", params, function(err, result)
      if cb then
        cb(err, result)
      elseif err then
        require("minicode.ui").notify(("%s failed: %s"):format(command, M.error_message(err)), vim.log.levels.ERROR)
      end
    end)
  end)
end

--- Run a server command and wait for its result (for :checkhealth). Needs a running client.
---@param command string
---@param args? table
---@param timeout? integer milliseconds
---@return any result
---@return string? err
function M.execute_sync(command, args, timeout)
  local client = M.get_client()
  if not client or not client.initialized then
    return nil, "no running minicode client"
  end
  local params = { command = command, arguments = { args or vim.empty_dict() } }
  local resp, err = client_request_sync(client, "workspace/executeCommand", params, timeout or 3000)
  if not resp then
    return nil, tostring(err or "timeout")
  end
  if resp.err then
    return nil, M.error_message(resp.err)
  end
  return resp.result
end

--- Send a notification to the server (e.g. window/workDoneProgress/cancel).
---@param method string
---@param params table
function M.notify(method, params)
  local client = M.get_client()
  if client then
    if has_011 then
      client:notify(method, params)
    else
      client.notify(method, params)
    end
  end
end

return M
