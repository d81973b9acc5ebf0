-- A review the server stopped waiting for (nobody answered within agent.approvalTimeoutS, or
-- the turn was cancelled: the server sends $/cancelRequest) closes, declined; an accept after
-- that is refused with a message and never applied (it would have no checkpoint).
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(100000)

local ws = H.workspace({ ["a.py"] = { "x = 1", "print(x)" } }, { permissionMode = "ask", approvalTimeoutS = 2 })
H.setup()
local rec = H.record_events()
local notes = {}
local notify = vim.notify
vim.notify = function(msg, ...)
  notes[#notes + 1] = tostring(msg)
  return notify(msg, ...)
end

vim.cmd.edit(vim.fn.fnameescape(ws .. "/a.py"))
local buf = vim.api.nvim_get_current_buf()
local client = H.wait_client(buf)
if not H.check(client ~= nil, "minicode client initialized and attached") then
  return H.finish()
end
local diff = require("minicode.diff")
vim.cmd("MiniCode run set x to 2")
H.check(H.wait(20000, function() return diff.current() ~= nil end), "the edit opens a review", H.event_types(rec))
-- nobody answers: after 2 s the server withdraws the request
H.check(H.wait(15000, function() return diff.current() == nil end), "the withdrawn review closes")
H.check(vim.iter(notes):any(function(n) return n:find("server stopped waiting", 1, true) ~= nil end),
  "the user is told the review was not applied", notes)
diff.accept() -- too late: nothing pending, nothing applied
H.check(H.wait_finished(rec, 1), "turn finished")
vim.wait(500)
H.check(vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == "x = 1", "the buffer is unchanged")
H.check(vim.fn.readfile(ws .. "/a.py")[1] == "x = 1", "the file on disk is unchanged")
H.finish()
