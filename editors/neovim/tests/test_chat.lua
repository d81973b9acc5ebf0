-- The chat buffer: send from the prompt area, the answer streams above without moving the
-- cursor, tool calls are folds with output and exit code, edits show +n -m and open a diff,
-- checkpoints preview a rewind, the turn ends with stop reason and tokens, a follow-up typed
-- below continues the same session, #file adds context.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(100000)

local ws = H.workspace({ ["a.py"] = { "x = 1" }, ["b.py"] = { "REFERENCED = True" } }, { permissionMode = "auto" })
H.setup()
local rec = H.record_events()
local chat = require("minicode.chat")
local diff = require("minicode.diff")

local function finished_count()
  return #vim.tbl_filter(function(e) return e.type == "turn.finished" end, rec.events)
end

H.async(function()
  vim.cmd.edit(vim.fn.fnameescape(ws .. "/a.py"))
  local client = H.wait_client(vim.api.nvim_get_current_buf())
  if not H.check(client ~= nil, "minicode client initialized and attached") then
    return H.finish()
  end
  vim.o.columns, vim.o.lines = 160, 50
  vim.cmd("MiniCode chat")
  local win = chat.window()
  H.check(win ~= nil and vim.api.nvim_get_current_win() == win, ":MiniCode chat opens the chat and focuses it")
  H.check(vim.bo.filetype == "markdown", "the chat is a markdown buffer")
  local b = vim.api.nvim_get_current_buf()
  local last = vim.api.nvim_buf_line_count(b)
  vim.api.nvim_buf_set_lines(b, last - 1, last, false, { "tidy a.py, see #file:b.py" })
  vim.api.nvim_win_set_cursor(win, { last, 0 })
  vim.cmd("normal \r") -- <CR> in Normal mode sends
  H.check(H.poll(30000, function() return finished_count() == 1 end), "turn 1 finished", H.event_types(rec))
  local text = table.concat(chat.transcript_lines(), "\n")
  H.out("  chat after turn 1:\n    " .. table.concat(chat.lines(), "\n    "))
  H.check(text:find("## You\n\ntidy a.py, see #file:b.py\n(context: b.py)", 1, true), "the prompt shows, with its context", text)
  local reqs = vim.tbl_filter(function(r) return r.wire ~= "" end, H.model_requests())
  local first = vim.json.encode(reqs[1] and reqs[1].body or {})
  H.check(first:find("REFERENCED = True", 1, true), "#file:b.py sent b.py's text to the model", #reqs)
  H.check(text:find("⚙ run_command `echo boom; exit 3`  ✗ exit 3\n    $ echo boom; exit 3\n    boom\n    [exit code 3]", 1, true),
    "the command is a section with its output and exit code", text)
  H.check(text:find("⚙ read_file `a.py`  ✓", 1, true), "the read is a section marked ok")
  H.check(text:find("Done tidying.\n\nThis is checked now.", 1, true), "consecutive assistant texts are separate paragraphs")
  H.check(text:find("✎ edited a.py  +2 -1 · gd: diff", 1, true), "the edit shows +2 -1")
  H.check(text:find("◆ checkpoint %w+ · gp: preview a rewind to before this step"), "a checkpoint line precedes the step's changes")
  H.check(text:find("■ done · %d+ tokens"), "the turn ends with its stop reason and tokens")
  -- the failed command's header is highlighted as a failure
  local lines = chat.lines()
  local cmd_row
  for i, l in ipairs(lines) do
    if l:find("⚙ run_command", 1, true) then
      cmd_row = i - 1
    end
  end
  local marks = cmd_row and vim.api.nvim_buf_get_extmarks(b, -1, { cmd_row, 0 }, { cmd_row, -1 }, { details = true }) or {}
  local failed_hl = false
  for _, m in ipairs(marks) do
    failed_hl = failed_hl or m[4].line_hl_group == "MiniCodeToolFailed"
  end
  H.check(failed_hl, "the failed command is highlighted (MiniCodeToolFailed)", marks)
  -- the tool output folds
  vim.api.nvim_set_current_win(win)
  H.check(cmd_row and vim.fn.foldlevel(cmd_row + 2) == 1 and vim.fn.foldlevel(cmd_row) == 0, "the tool call is a fold",
    cmd_row and { vim.fn.foldlevel(cmd_row), vim.fn.foldlevel(cmd_row + 1), vim.fn.foldlevel(cmd_row + 2) })

  -- gd on the edit line opens its diff (read-only view)
  H.chat_key("✎ edited a.py", "gd")
  H.check(H.poll(5000, function() return diff.current() and diff.current().shown end), "gd opens the edit's diff")
  local v = diff.current()
  H.check(v and v.kind == "view" and v.files[1].current[1] == "x = 1" and v.files[1].proposed[2] == "y = 3",
    "it shows the text before and after the edit", v and v.files)
  vim.cmd("normal q")
  H.check(diff.current() == nil, "q closes it")
  H.chat_key("◆ checkpoint", "gp")
  H.check(H.poll(10000, function() return diff.current() and diff.current().shown end), "gp previews a rewind to the checkpoint")
  v = diff.current()
  H.check(v and v.kind == "rewind" and v.files[1].proposed[1] == "x = 1", "the preview restores x = 1", v and v.files)
  diff.reject()
  H.check(H.read_bytes(ws .. "/a.py") == "x = 2\ny = 3\n", "closing the preview changed nothing")

  -- a follow-up typed below continues the session; the cursor in the prompt area stays put
  vim.api.nvim_set_current_win(win)
  local session = chat.session()
  last = vim.api.nvim_buf_line_count(b)
  vim.api.nvim_buf_set_lines(b, last - 1, last, false, { "and now?" })
  vim.api.nvim_win_set_cursor(win, { last, 0 })
  vim.api.nvim_feedkeys(vim.keycode("A<C-s>"), "mt", false) -- <C-s> from Insert mode sends
  H.check(H.poll(10000, function()
    return table.concat(chat.transcript_lines(), "\n"):find("Still fine", 1, true)
  end), "the answer streams")
  -- type the next prompt while the answer streams
  vim.api.nvim_buf_set_lines(b, -2, -1, false, { "draft" })
  vim.api.nvim_win_set_cursor(win, { vim.api.nvim_buf_line_count(b), 3 })
  H.check(H.poll(30000, function() return finished_count() == 2 end), "turn 2 finished")
  H.check(rec.finished.sessionId == session, "the follow-up ran in the same session", { session, rec.finished.sessionId })
  local cur = vim.api.nvim_win_get_cursor(win)
  H.check(vim.api.nvim_buf_get_lines(b, cur[1] - 1, cur[1], false)[1] == "draft" and cur[2] == 3,
    "the cursor stayed on the draft while the answer streamed above", cur)
  text = table.concat(chat.transcript_lines(), "\n")
  H.check(text:find("Still fine: the follow-up continues the same session, streamed in small pieces.", 1, true),
    "the streamed answer is whole", text)
  reqs = vim.tbl_filter(function(r) return r.wire ~= "" end, H.model_requests())
  local last_req = vim.json.encode(reqs[#reqs].body)
  H.check(last_req:find("tidy a.py", 1, true) and last_req:find("and now?", 1, true), "the model saw the earlier turn")
  -- a slow model: "waiting for the model" shows above the prompt, then goes; its reasoning is
  -- a folded section, never part of the answer
  last = vim.api.nvim_buf_line_count(b)
  vim.api.nvim_buf_set_lines(b, last - 1, last, false, { "think first" })
  vim.api.nvim_set_current_win(win)
  vim.api.nvim_win_set_cursor(win, { last, 0 })
  vim.cmd("normal \r")
  H.check(H.poll(15000, function() return chat.waiting() end), "model.waiting shows in the chat while the model is silent",
    H.event_types(rec))
  H.check((chat.waiting() or ""):find("waiting for the model: %d+ s, scripted"), "it says how long and which provider",
    chat.waiting())
  H.check(H.poll(30000, function() return finished_count() == 3 end), "turn 3 finished")
  H.check(chat.waiting() == nil, "the waiting line is gone once the model answered")
  lines = chat.lines()
  local thought_row
  for i, l in ipairs(lines) do
    if l:find("∴ thinking", 1, true) then
      thought_row = i
    end
  end
  H.check(thought_row and lines[thought_row + 1] == "    The user asks for a short answer."
    and lines[thought_row + 2] == "    One line will do.", "the reasoning is a section of its own", lines)
  H.check(thought_row and vim.fn.foldclosed(thought_row + 1) == thought_row, "folded by default",
    thought_row and vim.fn.foldclosed(thought_row + 1))
  text = table.concat(chat.transcript_lines(), "\n")
  H.check(text:find("One line will do.\n\nShort answer.", 1, true), "the answer follows as its own paragraph", text)

  -- the script ends right after an edit: the scripted model answers "done" twice without
  -- checking it; the turn ends "not verified", with why and what to do
  last = vim.api.nvim_buf_line_count(b)
  vim.api.nvim_buf_set_lines(b, last - 1, last, false, { "one more edit" })
  vim.api.nvim_set_current_win(win)
  vim.api.nvim_win_set_cursor(win, { last, 0 })
  vim.cmd("normal \r")
  H.check(H.poll(30000, function() return finished_count() == 4 end), "turn 4 finished")
  text = table.concat(chat.transcript_lines(), "\n")
  H.check(rec.finished.data.stopReason == "verification_failed" and text:find("■ not verified · %d+ tokens")
    and text:find("never checked the result", 1, true), "an unchecked edit ends 'not verified', saying why", text)

  -- ? opens help
  vim.api.nvim_set_current_win(win)
  vim.cmd("normal ?")
  local help = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  H.check(vim.api.nvim_win_get_config(0).relative ~= "" and table.concat(help, "\n"):find("#file:PATH", 1, true), "? shows the chat's keys")
  vim.cmd("normal q")
  H.out("  chat screen:\n    " .. table.concat(chat.lines(), "\n    "))
  H.finish()
end)
