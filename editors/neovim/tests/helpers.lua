-- Test helpers: checks, waits, a watchdog, and a workspace wired to the scripted model server.
local H = { passes = 0, failures = 0, notes = {}, t0 = vim.uv.hrtime() }

local function elapsed()
  return ("%5.2fs"):format((vim.uv.hrtime() - H.t0) / 1e9)
end

function H.out(...)
  local parts = {}
  for _, v in ipairs({ ... }) do
    parts[#parts + 1] = type(v) == "string" and v or vim.inspect(v, { newline = " ", indent = "" })
  end
  io.stdout:write(table.concat(parts, " ") .. "\n")
  io.stdout:flush()
end

-- every result also goes to a file run.sh counts (stdout mixes in Neovim's own messages)
local results = vim.env.MINICODE_TEST_DIR and (vim.env.MINICODE_TEST_DIR .. "/results") or nil
local function record(line)
  if results then
    local f = io.open(results, "a")
    if f then
      f:write(line:gsub("\n", " ") .. "\n")
      f:close()
    end
  end
end

---@param cond any
---@param msg string
---@param detail? any shown when the check fails
function H.check(cond, msg, detail)
  if cond then
    H.passes = H.passes + 1
    H.out("PASS", msg, elapsed())
    record("PASS " .. msg)
  else
    H.failures = H.failures + 1
    H.out("FAIL", msg, elapsed(), detail ~= nil and detail or "")
    record("FAIL " .. msg)
  end
  return cond
end

--- Wait until pred() is true (processing events meanwhile).
---@param ms integer
---@param pred fun(): any
---@return boolean
function H.wait(ms, pred)
  return vim.wait(ms, function()
    local ok, v = pcall(pred)
    return ok and v and true or false
  end, 10) == true
end

function H.finish()
  H.out("  finished at " .. elapsed())
  vim.api.nvim_create_autocmd("VimLeave", {
    callback = function()
      io.stdout:write(("  exit at %s\n"):format(elapsed()))
    end,
  })
  H.out(("%s: %d checks passed, %d failed"):format(H.failures == 0 and "SUMMARY ok" or "SUMMARY failed", H.passes, H.failures))
  vim.cmd(H.failures == 0 and "qall!" or "cquit! 1")
end

--- Exit non-zero if the test is still running after ms.
function H.watchdog(ms)
  vim.defer_fn(function()
    H.out("FAIL watchdog: test still running after " .. ms .. " ms")
    record("FAIL watchdog")
    for _, n in ipairs(H.notes) do
      H.out("  notify:", n)
    end
    vim.cmd("cquit! 2")
  end, ms)
end

-- record notifications (and echo them, for the log)
vim.notify = function(msg, level)
  H.notes[#H.notes + 1] = tostring(msg)
  H.out(("  notify[%s] %s"):format(tostring(level or ""), tostring(msg):gsub("\n", " | ")))
end

--- Write a workspace: files (name -> lines) and a .minicode.toml for the scripted provider.
---@param files table<string, string[]>
---@param agent? table<string, string> [agent] keys
---@return string dir
function H.workspace(files, agent)
  local dir = assert(vim.env.MINICODE_WS, "MINICODE_WS not set")
  for name, lines in pairs(files) do
    vim.fn.mkdir(vim.fs.dirname(dir .. "/" .. name), "p")
    vim.fn.writefile(lines, dir .. "/" .. name)
  end
  local toml = {}
  local url = vim.env.MINICODE_MODEL_URL
  if url and url ~= "" then
    vim.list_extend(toml, {
      "[[providers]]",
      'name = "scripted"',
      'kind = "openai"',
      ('baseUrl = "%s/v1"'):format(url),
      'model = "scripted"',
      "timeoutS = 20",
      "",
      -- a fallback entry (the same scripted server): with one provider readiness is "degraded"
      "[[providers]]",
      'name = "scripted-fallback"',
      'kind = "openai"',
      ('baseUrl = "%s/v1"'):format(url),
      'model = "scripted"',
      "timeoutS = 20",
      "",
    })
  end
  toml[#toml + 1] = "[agent]"
  for k, v in pairs(agent or {}) do
    toml[#toml + 1] = ("%s = %q"):format(k, v)
  end
  vim.fn.writefile(toml, dir .. "/.minicode.toml")
  -- a workspace's .minicode.toml counts only once the user allowed its exact content
  -- (`minicode-lsp trust`; the trust file lives in this test's private XDG_STATE_HOME)
  local server = vim.env.MINICODE_SERVER
  if server then
    local res = vim.system({ server, "trust", "--workspace", dir, "--yes" }, { text = true }):wait(30000)
    if res.code ~= 0 then
      H.out("  minicode-lsp trust failed:", res.stderr or "")
    end
  end
  vim.cmd.cd(vim.fn.fnameescape(dir))
  return dir
end

--- require("minicode").setup with the server under test.
---@param opts? table
function H.setup(opts)
  local server = assert(vim.env.MINICODE_SERVER, "MINICODE_SERVER not set")
  require("minicode").setup(vim.tbl_deep_extend("force", { cmd = { server, "serve" } }, opts or {}))
end

--- Wait for the minicode client to be initialized and attached to bufnr.
---@param bufnr integer
---@return vim.lsp.Client?
function H.wait_client(bufnr)
  local client
  H.wait(40000, function() -- a cold server start is slow on a loaded machine
    client = vim.lsp.get_clients({ name = "minicode", bufnr = bufnr })[1]
    return client and client.initialized
  end)
  return client
end

--- Record minicode/event notifications (through the plugin's User autocmd).
---@return {events: table[], finished: table?}
function H.record_events()
  local rec = { events = {}, finished = nil }
  vim.api.nvim_create_autocmd("User", {
    pattern = "MiniCodeEvent",
    callback = function(args)
      local ev = args.data
      rec.events[#rec.events + 1] = ev
      if ev.type == "turn.finished" then
        rec.finished = ev
      end
    end,
  })
  return rec
end

---@param rec {events: table[]}
---@return string[]
function H.event_types(rec)
  return vim.tbl_map(function(e)
    return e.type
  end, rec.events)
end

--- The requests the scripted model server received (its /_control/requests endpoint).
---@return table[]
function H.model_requests()
  local url = vim.env.MINICODE_MODEL_URL .. "/_control/requests"
  local code = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())"
  local res = vim.system({ vim.env.MINICODE_PYTHON, "-c", code, url }, { text = true }):wait(10000)
  local ok, decoded = pcall(vim.json.decode, res.stdout or "")
  if not ok then
    return {}
  end
  return decoded.requests or decoded
end

--- Wait for the next turn.finished after `count` finished turns.
---@param rec table
---@param count integer
---@param ms? integer
function H.wait_finished(rec, count, ms)
  return H.wait(ms or 30000, function()
    local n = 0
    for _, e in ipairs(rec.events) do
      if e.type == "turn.finished" then
        n = n + 1
      end
    end
    return n >= count
  end)
end

--- Run `fn` as a coroutine driven by timers, so Neovim's main loop (typeahead from
--- nvim_feedkeys, mode changes, autocmds) runs between its steps; H.finish() at its end.
---@param fn fun()
function H.async(fn)
  local co = coroutine.create(function()
    local ok, err = xpcall(fn, debug.traceback)
    if not ok then
      H.check(false, "error in the test: " .. tostring(err))
      H.finish()
    end
  end)
  H.co = co
  vim.schedule(function()
    assert(coroutine.resume(co))
  end)
end

--- In an H.async test: give the main loop `ms` (keys typed with feedkeys are processed).
---@param ms integer
function H.sleep(ms)
  local co = assert(coroutine.running())
  vim.defer_fn(function()
    assert(coroutine.resume(co))
  end, ms)
  coroutine.yield()
end

--- In an H.async test: wait until pred() is true, letting the main loop run (keys included).
---@param ms integer
---@param pred fun(): any
---@return boolean
function H.poll(ms, pred)
  local deadline = vim.uv.now() + ms
  while true do
    local ok, v = pcall(pred)
    if ok and v then
      return true
    end
    if vim.uv.now() > deadline then
      return false
    end
    H.sleep(20)
  end
end

--- In the chat window: the cursor on the last line holding `text`, then the Normal-mode `keys`.
---@param text string
---@param keys string
function H.chat_key(text, keys)
  local chat = require("minicode.chat")
  local win = chat.window()
  vim.api.nvim_set_current_win(win)
  for i, l in ipairs(chat.lines()) do
    if l:find(text, 1, true) then
      vim.api.nvim_win_set_cursor(win, { i, 0 })
    end
  end
  vim.cmd("normal " .. keys)
end

--- Read a file's bytes (nil when absent).
---@param path string
---@return string?
function H.read_bytes(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local data = f:read("*a")
  f:close()
  return data
end

return H
