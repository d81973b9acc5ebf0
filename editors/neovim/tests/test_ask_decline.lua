-- In `ask` permission mode an agent edit arrives as a workspace/applyEdit that needs
-- confirmation: the plugin shows it as a diff; declining it changes nothing.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(100000)

local ws = H.workspace({ ["a.py"] = { "x = 1", "print(x)" }, ["b.py"] = { "y = 1" } }, { permissionMode = "ask" })
H.setup()
local rec = H.record_events()
local edits = {}
local client_handler_seen = false

vim.cmd.edit(vim.fn.fnameescape(ws .. "/a.py"))
local buf = vim.api.nvim_get_current_buf()
local client = H.wait_client(buf)
if not H.check(client ~= nil, "minicode client initialized and attached") then
  return H.finish()
end
-- observe the edit requests the server sends (wrapping the plugin's own handler)
local plugin_handler = client.handlers["workspace/applyEdit"]
H.check(plugin_handler ~= nil, "the plugin's applyEdit handler is set on this client only")
H.check(vim.lsp.handlers["workspace/applyEdit"] ~= plugin_handler, "the global applyEdit handler is untouched")
client.handlers["workspace/applyEdit"] = function(err, params, ctx, config)
  client_handler_seen = true
  edits[#edits + 1] = params
  local result = plugin_handler(err, params, ctx, config)
  edits[#edits].result = result
  return result
end

local diff = require("minicode.diff")
vim.cmd("MiniCode run change x to 2")
H.check(H.wait(20000, function() return diff.current() ~= nil end), "the agent's edit opens a diff view", H.event_types(rec))
local view = diff.current()
if view then
  local f = view.files[1]
  H.check(view.kind == "edit", "the view is an agent edit")
  H.check(f and f.current[1] == "x = 1" and f.proposed[1] == "x = 2", "diff shows x = 1 -> x = 2", f)
  H.check(vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == "x = 1", "nothing applied while the diff is open")
  vim.cmd("normal gr")
end
H.check(H.wait(20000, function() return rec.finished ~= nil end), "turn finished", H.event_types(rec))
H.out("  events:", table.concat(H.event_types(rec), ","))
H.out("  stop reason:", rec.finished and rec.finished.data.stopReason)
H.check(client_handler_seen and edits[1] and edits[1].result and edits[1].result.applied == false,
  "the server was answered applied=false", edits[1] and edits[1].result)
local ann_ok = false
for _, a in pairs(edits[1] and edits[1].edit.changeAnnotations or {}) do
  ann_ok = ann_ok or a.needsConfirmation == true
end
H.check(ann_ok, "the edit carried needsConfirmation")
H.check(vim.api.nvim_buf_get_lines(buf, 0, -1, false)[1] == "x = 1", "buffer unchanged",
  vim.api.nvim_buf_get_lines(buf, 0, -1, false))
H.check(not vim.bo[buf].modified, "buffer not modified")
H.check(vim.fn.readfile(ws .. "/a.py")[1] == "x = 1", "file on disk unchanged")

-- the declined edit left no edit group
local groups
require("minicode.lsp").execute("minicode.checkpoint.list", { sessionId = rec.finished and rec.finished.sessionId },
  function(err, result) groups = err and { err = err } or result end)
H.wait(5000, function() return groups ~= nil end)
local n = groups and groups.groups and #groups.groups
H.check(n == 0, "no edit group recorded for the declined edit", groups)

-- a shell command in ask mode is approved through window/showMessageRequest (vim.ui.select)
local asked
vim.ui.select = function(items, opts, on_choice)
  asked = { prompt = opts.prompt, titles = vim.tbl_map(function(i) return i.title end, items) }
  for _, item in ipairs(items) do
    if item.title == "Deny" then
      return on_choice(item)
    end
  end
  on_choice(nil)
end
vim.cmd("MiniCode run write out.txt")
H.check(H.wait_finished(rec, 2), "turn 2 finished")
H.check(asked and asked.prompt:find("echo hi", 1, true), "the command was put to the user", asked)
H.check(vim.fn.filereadable(ws .. "/out.txt") == 0, "the denied command did not run")

-- an accepted edit to a file that is not open lands on disk, with no modified buffer left over
vim.cmd("MiniCode run set y to 5")
H.check(H.wait(20000, function() return diff.current() ~= nil end), "the edit of b.py opens a diff view")
local bview = diff.current()
H.check(bview and bview.files[1].path:match("b%.py$") and bview.files[1].proposed[1] == "y = 5", "diff shows b.py y = 5",
  bview and bview.files)
diff.accept()
H.check(H.wait_finished(rec, 3), "turn 3 finished")
H.check(vim.fn.readfile(ws .. "/b.py")[1] == "y = 5", "b.py on disk has the accepted edit", vim.fn.readfile(ws .. "/b.py"))
local bbuf = vim.fn.bufnr(ws .. "/b.py")
H.check(bbuf == -1 or not vim.bo[bbuf].modified, "no modified b.py buffer left behind")
H.out("  stop reason:", rec.finished and rec.finished.data.stopReason)

H.finish()
