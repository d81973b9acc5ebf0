-- The other :MiniCode subcommands against the real server: a range as context, resume,
-- checkpoints, rewind-preview declined, rewind accepted through the diff, replay, export, cancel.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(140000)

-- (in ask mode: every flow here works the same when edits and commands ask first)
local ws = H.workspace({ ["a.py"] = { "x = 1", "print(x)" } }, { permissionMode = "ask" })
H.setup()
local rec = H.record_events()
local sessions_notes = 0
vim.api.nvim_create_autocmd("User", { pattern = "MiniCodeSessions", callback = function() sessions_notes = sessions_notes + 1 end })

vim.cmd.edit(vim.fn.fnameescape(ws .. "/a.py"))
local buf = vim.api.nvim_get_current_buf()
if not H.check(H.wait_client(buf) ~= nil, "minicode client initialized and attached") then
  return H.finish()
end
local function line1()
  return vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1]
end

-- 0. the sessions panel, open before any session exists
local panel = require("minicode.panel")
vim.cmd("MiniCode sessions")
H.check(H.wait(10000, function()
  return table.concat((panel.contents()), "\n"):find("no sessions yet", 1, true)
end), "the panel opens with no sessions", (panel.contents()))
vim.cmd("wincmd p")

-- 1. a range sends the selection as context
vim.cmd("1MiniCode run explain this line")
H.check(H.wait_finished(rec, 1), "turn 1 finished")
local session_id = rec.finished and rec.finished.sessionId
H.check(H.wait(5000, function()
  local _, items = panel.contents()
  for _, item in pairs(items) do
    if item.kind == "session" and item.session.id == session_id then
      return true
    end
  end
end), "minicode/sessions refreshed the open panel with the new session", (panel.contents()))
panel.close()
local bodies = {}
for _, r in ipairs(H.model_requests()) do
  if r.wire == "openai" then
    bodies[#bodies + 1] = vim.json.encode(r.body)
  end
end
H.check(bodies[1] and bodies[1]:find("x = 1", 1, true) and bodies[1]:find("a.py", 1, true),
  "the model saw the selected text and its file", bodies[1])
H.check(sessions_notes > 0, "minicode/sessions notifications arrive")

-- 2. resume the session (the prompt asked with vim.ui.input): the second turn is in the same session
local input_prompt
vim.ui.input = function(opts, on_confirm)
  input_prompt = opts.prompt
  on_confirm("set x to 3")
end
vim.cmd("MiniCode resume " .. session_id:sub(1, 10))
H.check(input_prompt and input_prompt:find(session_id:sub(1, 8), 1, true), "resume asks for the prompt", input_prompt)
local diff = require("minicode.diff")
H.check(H.wait(20000, function() return diff.current() and diff.current().shown end), "ask mode: the edit is reviewed first")
vim.cmd("normal ga")
H.check(H.wait_finished(rec, 2), "turn 2 finished")
H.check(rec.finished.sessionId == session_id, "resume continues the same session", rec.finished.sessionId)
H.check(line1() == "x = 3", "turn 2 edited the buffer", line1())

-- 3. checkpoints in the quickfix list
vim.cmd("MiniCode checkpoints")
H.check(H.wait(10000, function() return #vim.fn.getqflist() > 0 end), "checkpoints fill the quickfix list")
local qf = vim.fn.getqflist()
H.check(qf[1] and vim.api.nvim_buf_get_name(qf[1].bufnr):match("a%.py$"), "the quickfix entry is a.py", qf[1])
vim.cmd("cclose")

-- 4. rewind-preview, declined: nothing changes
vim.cmd("MiniCode rewind-preview")
H.check(H.wait(10000, function() return diff.current() ~= nil end), "rewind-preview opens the diff", H.notes)
H.check(diff.current() and diff.current().files[1].status == "clean", "preview status clean", diff.current() and diff.current().files)
diff.reject()
vim.wait(500)
H.check(line1() == "x = 3", "declined preview changed nothing", line1())

-- 5. rewind (no preview): the server's confirmed edit is shown as a diff, accepted with ga
vim.cmd("MiniCode rewind")
local confirm_view = H.wait(10000, function() return diff.current() ~= nil end)
if confirm_view then
  H.check(diff.current().kind == "edit", "rewind asks through the diff view")
  vim.cmd("normal ga")
else
  H.out("  (the server applied the rewind without asking for confirmation)")
end
H.check(H.wait(10000, function() return line1() == "x = 1" end), ":MiniCode rewind restores the text", line1())

-- 6. replay into the transcript
vim.cmd("MiniCode replay " .. session_id)
local transcript = require("minicode.transcript")
H.check(H.wait(10000, function()
  local t = table.concat(transcript.lines(), "\n")
  return t:find("# Session", 1, true) and t:find("set x to 3", 1, true) and t:find("explain this line", 1, true)
end), "replay shows both turns in the transcript", transcript.lines())

-- 7. export as markdown
local tabs = #vim.api.nvim_list_tabpages()
vim.cmd("MiniCode export " .. session_id)
H.check(H.wait(10000, function() return #vim.api.nvim_list_tabpages() > tabs end), "export opens a tab")
local exported = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
H.check(vim.bo.filetype == "markdown" and exported:find("set x to 3", 1, true), "export is the session's markdown", exported:sub(1, 200))
vim.cmd("tabclose")

-- 8. cancel a slow turn
vim.cmd.buffer(buf)
vim.cmd("MiniCode run a slow one")
H.check(H.wait(20000, function() return rec.events[#rec.events].type ~= "turn.finished" and next(require("minicode.state").running) ~= nil end), "turn 3 started")
vim.wait(300)
vim.cmd("MiniCode cancel")
H.check(H.wait_finished(rec, 3, 20000), "turn 3 finished after cancel")
H.check(rec.finished.data.stopReason == "cancelled", "stop reason cancelled", rec.finished.data.stopReason)
H.wait(5000, function() return require("minicode.status").progress() == nil end)
H.check(require("minicode.status").progress() == nil, "no progress left in the statusline", require("minicode.status").progress())

H.finish()
