-- The chat in ask mode: an agent edit from a chat turn is reviewed hunk by hunk, its command
-- approved through vim.ui.select, the chat shows what landed (the kept hunk only) and the
-- diff of it; a follow-up's edit rejected whole is shown declined and changes nothing.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(120000)

local ws = H.workspace({ ["a.py"] = { "a = 1", "", "", "", "b = 2" } }, { permissionMode = "ask" })
H.setup()
local rec = H.record_events()
local chat = require("minicode.chat")
local diff = require("minicode.diff")

local function finished_count()
  return #vim.tbl_filter(function(e) return e.type == "turn.finished" end, rec.events)
end

local function send(text)
  local win = chat.window()
  vim.api.nvim_set_current_win(win)
  local b = vim.api.nvim_win_get_buf(win)
  local last = vim.api.nvim_buf_line_count(b)
  vim.api.nvim_buf_set_lines(b, last - 1, last, false, { text })
  vim.api.nvim_win_set_cursor(win, { last, 0 })
  vim.cmd("normal \r")
end

H.async(function()
  vim.cmd.edit(vim.fn.fnameescape(ws .. "/a.py"))
  local abuf = vim.api.nvim_get_current_buf()
  if not H.check(H.wait_client(abuf) ~= nil, "minicode client attached") then
    return H.finish()
  end
  local asked
  vim.ui.select = function(items, opts, on_choice)
    asked = opts.prompt
    on_choice(items[1]) -- Allow once
  end
  vim.o.columns, vim.o.lines = 160, 50
  vim.cmd("MiniCode chat")
  send("fix a and b")
  H.check(H.poll(20000, function() return diff.current() and diff.current().shown end), "the chat turn's edit opens a review")
  local cur = diff.current()
  H.check(cur and cur.kind == "edit" and #cur.files[1].hunks == 2, "a review of 2 hunks", cur and cur.files)
  vim.api.nvim_set_current_win(cur.wins[2])
  vim.api.nvim_win_set_cursor(0, { 5, 0 })
  vim.cmd("normal gH")
  vim.cmd("normal ga")
  H.check(H.poll(20000, function() return finished_count() == 1 end), "turn 1 finished", H.event_types(rec))
  H.check(asked and asked:find("cat a.py", 1, true), "the command was approved through vim.ui.select", asked)
  H.check(H.read_bytes(ws .. "/a.py") == "a = 10\n\n\n\nb = 2\n", "a.py holds the kept hunk only, saved",
    H.read_bytes(ws .. "/a.py"))
  local text = table.concat(chat.transcript_lines(), "\n")
  H.out("  chat:\n    " .. table.concat(chat.lines(), "\n    "))
  H.check(text:find("✎ edited a.py  +1 -1", 1, true), "the chat counts what landed (+1 -1), not the proposal", text)
  H.check(text:find("applied only in part", 1, true), "the chat shows the edit was applied in part")
  H.check(text:find("a = 10\n    b = 2", 1, true) or text:find("    a = 10\n    \n    \n    \n    b = 2", 1, true),
    "the command read the kept text", text)
  -- gd on the edit line: the diff of what landed
  H.chat_key("✎ edited a.py", "gd")
  H.check(H.poll(5000, function() return diff.current() and diff.current().shown end), "gd opens the edit's diff")
  cur = diff.current()
  H.check(cur and cur.kind == "view" and cur.files[1].proposed[1] == "a = 10" and cur.files[1].proposed[5] == "b = 2",
    "it shows the kept hunk only", cur and cur.files)
  vim.cmd("normal q")

  -- a follow-up from the chat, its edit rejected whole
  send("put a back")
  H.check(H.poll(20000, function() return diff.current() and diff.current().shown end), "the follow-up's edit opens a review")
  vim.cmd("normal gr")
  H.check(H.poll(20000, function() return finished_count() == 2 end), "turn 2 finished")
  H.check(rec.finished.sessionId == rec.events[1].sessionId, "the follow-up ran in the same session")
  text = table.concat(chat.transcript_lines(), "\n")
  H.check(text:find("⚙ edit_file `a.py`  ✗ declined\n    the user declined this edit", 1, true),
    "the chat shows the edit declined ('✗ declined', not '✗ failed')", text)
  H.check(table.concat(vim.api.nvim_buf_get_lines(abuf, 0, -1, false), "|") == "a = 10||||b = 2", "the buffer is unchanged",
    vim.api.nvim_buf_get_lines(abuf, 0, -1, false))
  H.finish()
end)
