-- Reviews in ask mode never take the user's keys: files created through the plugin are
-- byte-exact and rewind clean, a review waits while the user types in Insert mode (their text
-- lands in their buffer), a refused accept says why, approvals go through vim.ui.select, and
-- cancelling the turn closes its review.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(140000)

local ws = H.workspace({
  ["a.py"] = { "x = 1" },
  ["b.py"] = { "y = 1" },
  ["c.py"] = { "z = 1" },
  ["typing.txt"] = { "" },
}, { permissionMode = "ask" })
H.setup()
local rec = H.record_events()
local diff = require("minicode.diff")
local lsp = require("minicode.lsp")

H.async(function()
  vim.cmd.edit(vim.fn.fnameescape(ws .. "/typing.txt"))
  local user_buf = vim.api.nvim_get_current_buf()
  local user_win = vim.api.nvim_get_current_win()
  local client = H.wait_client(user_buf)
  if not H.check(client ~= nil, "minicode client initialized and attached") then
    return H.finish()
  end

  -- 1. files created in ask mode: accepted reviews, exact bytes on disk, and a clean rewind
  vim.cmd("MiniCode run create helpers")
  for i = 1, 2 do
    H.check(H.poll(20000, function() return diff.current() and diff.current().shown end),
      ("review %d of a created file opens (Normal mode)"):format(i), H.event_types(rec))
    local f = diff.current() and diff.current().files[1]
    if i == 1 then
      H.check(f and #f.proposed == 2, "the review of helpers.py shows its 2 lines, no extra blank one", f and f.proposed)
    end
    diff.accept()
  end
  H.check(H.poll(20000, function() return rec.finished ~= nil end), "turn 1 finished", H.event_types(rec))
  local session = rec.finished and rec.finished.sessionId
  H.check(H.read_bytes(ws .. "/helpers.py") == "def double(x):\n    return 2 * x\n",
    "helpers.py on disk is byte-exact (no extra blank line)", H.read_bytes(ws .. "/helpers.py"))
  H.check(H.read_bytes(ws .. "/notes.txt") == "no final newline", "notes.txt on disk is byte-exact (no newline added)",
    H.read_bytes(ws .. "/notes.txt"))
  local rewind
  lsp.execute("minicode.rewind.apply", { sessionId = session, target = { turnId = rec.finished.turnId } },
    function(err, result) rewind = err and { err = err } or result end)
  H.poll(20000, function()
    if diff.current() and diff.current().shown then
      diff.accept()
    end
    return rewind ~= nil
  end)
  local statuses = {}
  for _, f in ipairs(rewind and rewind.files or {}) do
    statuses[#statuses + 1] = vim.fn.fnamemodify(vim.uri_to_fname(f.uri), ":t") .. ":" .. tostring(f.status)
  end
  table.sort(statuses)
  H.check(rewind and rewind.applied and table.concat(statuses, ",") == "helpers.py:clean,notes.txt:clean",
    "the created files rewind clean (no conflict)", rewind)
  H.check(H.read_bytes(ws .. "/helpers.py") == nil and H.read_bytes(ws .. "/notes.txt") == nil,
    "the rewind removed the created files")

  -- 2. a review arrives while the user types in Insert mode: it waits, focus and keys stay
  vim.api.nvim_set_current_win(user_win)
  vim.api.nvim_set_current_buf(user_buf)
  local tabs_before = #vim.api.nvim_list_tabpages()
  vim.api.nvim_feedkeys("ihello ", "nt", false)
  H.check(H.poll(5000, function() return vim.api.nvim_get_mode().mode == "i" end), "the user is in Insert mode")
  vim.cmd("MiniCode run change x")
  H.check(H.poll(20000, function() return diff.current() ~= nil end), "the review is pending", H.event_types(rec))
  H.sleep(300)
  H.check(diff.current() and not diff.current().shown, "the review did not open while in Insert mode")
  H.check(vim.api.nvim_get_current_win() == user_win and #vim.api.nvim_list_tabpages() == tabs_before,
    "focus stayed in the user's window (no new tab)")
  H.check(vim.tbl_contains(H.notes, "Review of a.py waiting: it opens when you are back in Normal mode"),
    "a notification says the review waits", H.notes)
  vim.api.nvim_feedkeys("world", "nt", false)
  H.poll(3000, function() return vim.api.nvim_buf_get_lines(user_buf, 0, 1, false)[1] == "hello world" end)
  H.check(vim.api.nvim_buf_get_lines(user_buf, 0, 1, false)[1] == "hello world",
    "the typed text landed in the user's buffer", vim.api.nvim_buf_get_lines(user_buf, 0, -1, false))
  vim.api.nvim_feedkeys(vim.keycode("<Esc>"), "nt", false)
  H.check(H.poll(5000, function() return diff.current() and diff.current().shown end),
    "back in Normal mode, the review opens")
  H.check(diff.current() and diff.current().files[1].proposed[1] == "x = 2", "it shows x = 1 -> x = 2")
  vim.cmd("normal ga")
  H.check(H.poll(20000, function() return #vim.tbl_filter(function(e) return e.type == "turn.finished" end, rec.events) == 2 end),
    "turn 2 finished")
  H.check(H.read_bytes(ws .. "/a.py") == "x = 2\n", "a.py has the accepted edit", H.read_bytes(ws .. "/a.py"))

  -- 3. a refused accept says why: c.py changed in its buffer after the edit was made
  vim.cmd.edit(vim.fn.fnameescape(ws .. "/c.py"))
  local cbuf = vim.api.nvim_get_current_buf()
  H.wait_client(cbuf)
  vim.cmd("MiniCode run change z")
  H.check(H.poll(20000, function() return diff.current() and diff.current().shown end), "the review of c.py opens")
  vim.api.nvim_buf_set_lines(cbuf, 0, 0, false, { "# the user's line" })
  local before = #H.notes
  diff.accept()
  H.check(H.poll(5000, function()
    for i = before + 1, #H.notes do
      if H.notes[i]:find("edit not applied", 1, true) then
        return true
      end
    end
  end), "a refused accept is reported with its reason", { unpack(H.notes, before + 1) })
  -- the server makes the edit again on the changed text and asks once more: reject that one
  H.check(H.poll(10000, function() return diff.current() and diff.current().shown end),
    "the edit, made again on the user's text, is reviewed again")
  local again = diff.current() and diff.current().files[1]
  H.check(again and again.current[1] == "# the user's line" and again.proposed[2] == "z = 3",
    "the second review keeps the user's line", again)
  diff.reject()
  H.check(H.poll(20000, function() return #vim.tbl_filter(function(e) return e.type == "turn.finished" end, rec.events) == 3 end),
    "turn 3 finished")
  H.check(vim.api.nvim_buf_get_lines(cbuf, 0, -1, false)[2] == "z = 1", "c.py keeps the user's text, unchanged by the agent",
    vim.api.nvim_buf_get_lines(cbuf, 0, -1, false))

  -- 4. a command approval goes through vim.ui.select (stubbed here), "Allow once" runs it
  local asked
  vim.ui.select = function(items, opts, on_choice)
    asked = { prompt = opts.prompt, kind = opts.kind, titles = vim.tbl_map(opts.format_item, items) }
    on_choice(items[1])
  end
  vim.cmd("MiniCode run write out.txt")
  H.check(H.poll(20000, function() return #vim.tbl_filter(function(e) return e.type == "turn.finished" end, rec.events) == 4 end),
    "turn 4 finished")
  H.check(asked and asked.kind == "minicode.approval" and table.concat(asked.titles, "|") == "Allow once|Allow for this session|Deny",
    "the approval is a vim.ui.select with Allow once / Allow for this session / Deny", asked)
  H.check(asked and asked.prompt:find("echo hi > out.txt", 1, true), "the prompt names the command", asked)
  H.check(vim.fn.filereadable(ws .. "/out.txt") == 1, "the allowed command ran")

  -- 5. cancelling the turn closes its review (declined), nothing applied
  vim.cmd("MiniCode run change y")
  H.check(H.poll(20000, function() return diff.current() and diff.current().shown end), "the review of b.py opens")
  local tabs_open = #vim.api.nvim_list_tabpages()
  vim.cmd("MiniCode cancel")
  H.check(H.poll(20000, function() return #vim.tbl_filter(function(e) return e.type == "turn.finished" end, rec.events) == 5 end),
    "turn 5 finished (cancelled)")
  H.check(H.poll(5000, function() return diff.current() == nil end), "the cancelled turn's review closed itself", diff.current())
  H.check(#vim.api.nvim_list_tabpages() == tabs_open - 1, "its tab is gone")
  H.check(H.read_bytes(ws .. "/b.py") == "y = 1\n", "b.py unchanged", H.read_bytes(ws .. "/b.py"))
  H.finish()
end)
