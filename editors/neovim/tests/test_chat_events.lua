-- The chat fed events directly (no server, no model): what it makes of declined tool calls.
-- A declined edit shows "✗ declined" (not a failure); a declined or failed edit never lends
-- its before-text to a later change of the same file (the trial's "+0 -0" and empty gd diff).
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(30000)

local ws = assert(vim.env.MINICODE_WS)
vim.cmd.cd(vim.fn.fnameescape(ws))
local path = ws .. "/calc.py"
local uri = vim.uri_from_fname(path)
local chat = require("minicode.chat")
local diff = require("minicode.diff")
local DECLINED = "the user declined this edit; nothing was changed"

local function feed(type, data)
  chat.on_event({ type = type, sessionId = "s1", turnId = "t1", data = data })
end
local function edit_started(id)
  feed("tool.started", { toolCallId = id, name = "edit_file", arguments = { path = "calc.py", old = "x", new = "y" } })
end
local function changed(group, action)
  feed("files.changed", { groupId = group, uris = { uri }, files = { { uri = uri, action = action or "modify" } } })
end
local function hl_of(row)
  for _, m in ipairs(vim.api.nvim_buf_get_extmarks(chat.buffer(), -1, { row, 0 }, { row, -1 }, { details = true })) do
    if m[4].line_hl_group then
      return m[4].line_hl_group
    end
  end
end
local function row_of(text)
  local row
  for i, l in ipairs(chat.lines()) do
    if l:find(text, 1, true) then
      row = i - 1
    end
  end
  return row
end

H.async(function()
  vim.o.columns, vim.o.lines = 160, 50
  vim.fn.writefile({ "def add(a, b):", "    return a - b" }, path)
  feed("turn.started", { prompt = "fix add" })
  chat.open(true)
  -- 1. an edit approved: a - b -> a + b
  edit_started("e1")
  vim.fn.writefile({ "def add(a, b):", "    return a + b" }, path)
  changed("g1")
  feed("tool.finished", { toolCallId = "e1", name = "edit_file", isError = false, summary = "edited calc.py", output = "edited calc.py" })
  -- 2. an edit declined (the file reads a + b now)
  edit_started("e2")
  feed("tool.finished", { toolCallId = "e2", name = "edit_file", isError = true, summary = DECLINED, output = DECLINED })
  -- 3. a failed edit (not declined)
  edit_started("e3")
  feed("tool.finished", { toolCallId = "e3", name = "edit_file", isError = true, summary = "edit_file failed: no such text",
    output = "edit_file failed: no such text" })
  feed("turn.finished", { stopReason = "await_user", usage = { inputTokens = 10, outputTokens = 2 } })

  local text = table.concat(chat.transcript_lines(), "\n")
  H.check(text:find("⚙ edit_file `calc.py`  ✗ declined\n    " .. DECLINED, 1, true), "a declined edit shows '✗ declined'", text)
  H.check(not text:find("✗ failed\n    " .. DECLINED, 1, true), "... not '✗ failed'", text)
  local drow = row_of("✗ declined")
  H.check(drow and hl_of(drow) == "MiniCodeToolDeclined", "... highlighted MiniCodeToolDeclined, not as a failure",
    drow and hl_of(drow))
  local frow = row_of("✗ failed")
  H.check(frow and hl_of(frow) == "MiniCodeToolFailed", "a failed edit still shows '✗ failed' (MiniCodeToolFailed)", text)

  -- 4. the file changes outside the agent (a rewind): back to a - b
  vim.fn.writefile({ "def add(a, b):", "    return a - b" }, path)
  -- 5. a follow-up: the same edit again, approved (the trial's steps)
  feed("turn.started", { prompt = "fix it again" })
  edit_started("e4")
  vim.fn.writefile({ "def add(a, b):", "    return a + b" }, path)
  changed("g2")
  feed("tool.finished", { toolCallId = "e4", name = "edit_file", isError = false, summary = "edited calc.py", output = "edited calc.py" })
  feed("turn.finished", { stopReason = "done", usage = { inputTokens = 10, outputTokens = 2 } })
  local lines = vim.tbl_filter(function(l) return l:find("✎ edited calc.py", 1, true) end, chat.transcript_lines())
  H.check(lines[1] == "✎ edited calc.py  +1 -1 · gd: diff" and lines[2] == "✎ edited calc.py  +1 -1 · gd: diff",
    "the edits before and after the decline both show +1 -1", lines)
  H.chat_key("✎ edited calc.py", "gd")
  H.check(H.poll(5000, function() return diff.current() and diff.current().shown end), "gd opens the last edit's diff")
  local v = diff.current()
  H.check(v and v.files[1].current[2] == "    return a - b" and v.files[1].proposed[2] == "    return a + b",
    "it shows a - b -> a + b, not an empty diff", v and v.files)
  vim.cmd("normal q")
  -- 6. decline again (the file reads a + b), the file goes back to a - b, then a command changes
  -- it: the chat does not know its before-text ("changed"; gd asks the checkpoint)
  feed("turn.started", { prompt = "once more" })
  edit_started("e5")
  -- told by the `declined` field alone (the summary's words are the server's, not a contract)
  feed("tool.finished", { toolCallId = "e5", name = "edit_file", isError = true, declined = true,
    summary = "not applied", output = "not applied" })
  vim.fn.writefile({ "def add(a, b):", "    return a - b" }, path)
  feed("tool.started", { toolCallId = "c1", name = "run_command", arguments = { command = "sed -i s/-/+/ calc.py" } })
  vim.fn.writefile({ "def add(a, b):", "    return a + b" }, path)
  changed("g3")
  feed("tool.finished", { toolCallId = "c1", name = "run_command", isError = false, summary = "$ sed", output = "$ sed\n[exit code 0]" })
  feed("turn.finished", { stopReason = "done", usage = { inputTokens = 10, outputTokens = 2 } })
  text = table.concat(chat.transcript_lines(), "\n")
  H.check(text:find("⚙ edit_file `calc.py`  ✗ declined\n    not applied", 1, true),
    "a call whose tool.finished says declined = true shows '✗ declined', whatever its summary says", text)
  H.check(text:find("✎ edited calc.py  changed · gd: diff", 1, true),
    "a command's change after a declined edit is 'changed' (no stale before-text from the declined edit)", text)
  H.out("  chat:\n    " .. table.concat(chat.lines(), "\n    "))
  H.finish()
end)
