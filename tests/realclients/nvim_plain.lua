-- Neovim's built-in LSP client with no plugin: only vim.lsp.config / vim.lsp.enable, as
-- docs/editors/other.md shows. env: MC_WS (workspace), MC_PY (python with minicode_lsp), MC_OUT.
local ws, py, outf = os.getenv('MC_WS'), os.getenv('MC_PY'), os.getenv('MC_OUT')
local result = {}
local function finish()
  vim.fn.writefile({ vim.json.encode(result) }, outf)
  vim.cmd('qall!')
end
vim.defer_fn(function() result.error = 'timeout'; finish() end, 100000)  -- never hang CI

vim.lsp.config('minicode', { cmd = { py, '-m', 'minicode_lsp', 'serve' }, filetypes = { 'python' },
                             root_markers = { '.git' } })
vim.lsp.enable('minicode')

local finished = {}
vim.lsp.handlers['minicode/event'] = function(_, params)
  if params.type == 'turn.finished' then finished[params.turnId] = params.data.stopReason end
end
local messages = {}
local default_msg = vim.lsp.handlers['window/showMessage']
vim.lsp.handlers['window/showMessage'] = function(err, params, ctx, cfg)
  table.insert(messages, params.message)
  return default_msg(err, params, ctx, cfg)
end
local shown = {}
local default_show = vim.lsp.handlers['window/showDocument']
vim.lsp.handlers['window/showDocument'] = function(err, params, ctx, cfg)
  table.insert(shown, params.uri)
  return default_show(err, params, ctx, cfg)
end

-- Neovim answers window/showMessageRequest through vim.ui.select (what UI plugins replace);
-- the "user" picks Apply / Allow once after a moment. At the second prompt they first type a
-- line at the top of a.py.
local prompts = {}
vim.ui.select = function(items, opts, on_choice)
  table.insert(prompts, opts.prompt)
  local function answer()
    for _, item in ipairs(items) do
      if item.title == 'Apply' or item.title == 'Allow once' then return on_choice(item) end
    end
    on_choice(nil)
  end
  if #prompts == 2 then
    vim.api.nvim_buf_set_lines(vim.fn.bufnr(ws .. '/a.py'), 0, 0, false, { '# typed while the prompt was open' })
    vim.defer_fn(answer, 600)
  else
    vim.defer_fn(answer, 100)
  end
end

vim.cmd('filetype on')  -- -u NONE skips it; every user config has it
vim.cmd('edit ' .. ws .. '/a.py')
local abuf = vim.api.nvim_get_current_buf()
vim.wait(30000, function() return #vim.lsp.get_clients({ name = 'minicode', bufnr = abuf }) > 0 end, 50)
local client = vim.lsp.get_clients({ name = 'minicode' })[1]
if not client then result.error = 'no client'; return finish() end
vim.wait(30000, function() return client.initialized end, 50)

local function run(args)
  local res
  client:request('workspace/executeCommand', { command = 'minicode.task.run', arguments = { args } },
    function(err, r) res = { err = err, r = r } end, abuf)
  vim.wait(60000, function() return res ~= nil end, 20)
  if not res or res.err then error('task.run failed: ' .. vim.inspect(res and res.err)) end
  return res.r
end
local function wait_turn(id)
  vim.wait(120000, function() return finished[id] ~= nil end, 20)
  return finished[id]
end

local ok, err = pcall(function()
  local ids = run({ prompt = 'edit a.py twice and b.py once' })
  result.stop = wait_turn(ids.turnId)
  vim.wait(500)
  result.a_buffer = table.concat(vim.api.nvim_buf_get_lines(abuf, 0, -1, false), '\n') .. '\n'
  result.b_buffer_loaded = vim.fn.bufloaded(ws .. '/b.py') == 1
  local explain = run({ prompt = 'explain a.py', showResult = true, permissionMode = 'plan' })
  result.explain = wait_turn(explain.turnId)
  local follow = run({ prompt = 'and then?', sessionId = explain.sessionId })
  result.followup = wait_turn(follow.turnId)
  result.prompts = prompts
  result.shown = shown
  result.messages = messages
end)
if not ok then result.error = tostring(err) end
finish()
