-- The plugin without a server: command completion, targets, config, protocol, the diff view.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(20000)

H.check(vim.fn.exists(":MiniCode") == 2, ":MiniCode exists after plugin/minicode.lua")
H.check(package.loaded["minicode.commands"] == nil, "plugin/minicode.lua loads no module eagerly")

local subs = vim.fn.getcompletion("MiniCode ", "cmdline")
local expected = { "cancel", "chat", "checkpoints", "export", "log", "readiness", "replay", "resume", "review", "rewind",
  "rewind-preview", "rewind-undo", "run", "sessions" }
H.check(vim.deep_equal(subs, expected), "completion lists the subcommands", subs)
H.check(vim.deep_equal(vim.fn.getcompletion("MiniCode rewind-preview l", "cmdline"), { "latest" }),
  "completion of rewind targets")

local cmds = require("minicode.actions")
H.check(vim.deep_equal(cmds.parse_target(""), { latest = true }), "target: default latest")
H.check(vim.deep_equal(cmds.parse_target("3"), { steps = 3 }), "target: N steps")
H.check(vim.deep_equal(cmds.parse_target("steps=2"), { steps = 2 }), "target: steps=N")
H.check(vim.deep_equal(cmds.parse_target("session"), { session = true }), "target: session")
H.check(vim.deep_equal(cmds.parse_target("group:g1"), { groupId = "g1" }), "target: group:ID")
H.check(vim.deep_equal(cmds.parse_target("turn:t1"), { turnId = "t1" }), "target: turn:ID")
H.check(cmds.parse_target("bogus") == nil, "target: unknown is an error")

-- protocol.lua mirrors protocol.py (tests/contract checks the literals; this checks the tables)
local protocol = require("minicode.protocol")
local code = "import json; from minicode_lsp import protocol as p; "
  .. "print(json.dumps([list(p.COMMANDS), p.NOTIFICATIONS, p.EVENT_TYPES, p.STOP_REASONS]))"
local res = vim.system({ vim.env.MINICODE_PYTHON, "-c", code }, { text = true }):wait(30000)
local ok_json, py = pcall(vim.json.decode, res.stdout or "")
local function sorted(t)
  local out = vim.tbl_values(t)
  table.sort(out)
  return out
end
if H.check(ok_json and type(py) == "table", "read protocol.py", res.stderr) then
  H.check(vim.deep_equal(sorted(protocol.commands), sorted(py[1])), "protocol.commands == protocol.COMMANDS", sorted(protocol.commands))
  H.check(vim.deep_equal(sorted(protocol.notifications), sorted(py[2])), "protocol.notifications == protocol.NOTIFICATIONS")
  H.check(vim.deep_equal(sorted(protocol.event_types), sorted(py[3])), "protocol.event_types == protocol.EVENT_TYPES")
  H.check(vim.deep_equal(sorted(protocol.stop_reasons), sorted(py[4])), "protocol.stop_reasons == protocol.STOP_REASONS")
end

local config = require("minicode.config")
local resolved, problems = config.resolve({ bogus = 1, diff = { layout = "x" }, panel = { width = "wide" } })
H.check(#problems == 3 and resolved.diff.layout == "split" and resolved.panel.width == 48,
  "config: unknown keys and invalid values are reported and keep defaults", problems)
vim.g.minicode = { panel = { position = "right" } }
resolved = config.resolve({ settings = { agent = { permissionMode = "auto" } } })
H.check(resolved.panel.position == "right" and resolved.settings.agent.permissionMode == "auto",
  "config: vim.g.minicode and setup opts merge")
vim.g.minicode = nil

local lspmod = require("minicode.lsp")
local caps = lspmod.capabilities()
H.check(caps.workspace.workspaceEdit.changeAnnotationSupport ~= nil, "advertises changeAnnotationSupport")

-- the diff view on a synthetic edit
local dir = vim.env.MINICODE_WS
vim.fn.writefile({ "a = 1", "b = 2" }, dir .. "/f.py")
local uri = vim.uri_from_fname(dir .. "/f.py")
local edit = {
  documentChanges = {
    { textDocument = { uri = uri }, edits = {
      { range = { start = { line = 1, character = 4 }, ["end"] = { line = 1, character = 5 } }, newText = "3", annotationId = "a" },
    } },
  },
  changeAnnotations = { a = { label = "agent edit", needsConfirmation = true } },
}
local diff = require("minicode.diff")
H.check(diff.needs_confirmation(edit), "needs_confirmation reads the annotations")
local files = diff.files_from_edit(edit, "utf-16")
H.check(#files == 1 and files[1].proposed[2] == "b = 3" and files[1].current[2] == "b = 2",
  "files_from_edit computes current and proposed text", files)

local answer
diff.show({ title = "t", kind = "edit", files = files, on_done = function(a) answer = a end })
local cur = diff.current()
H.check(cur ~= nil and #vim.api.nvim_list_tabpages() == 2, "diff view opens in a tab")
local wins = vim.api.nvim_tabpage_list_wins(0)
H.check(#wins == 2 and vim.wo[wins[1]].diff and vim.wo[wins[2]].diff, "two diffthis windows")
vim.cmd("normal gr")
H.check(answer == false and diff.current() == nil and #vim.api.nvim_list_tabpages() == 1, "gr rejects and closes the tab")

diff.show({ title = "t", kind = "edit", files = files, on_done = function(a) answer = a end })
vim.cmd("normal ga")
H.check(answer == true and diff.current() == nil, "ga accepts")

diff.show({ title = "t", kind = "edit", files = files, on_done = function(a) answer = a end })
answer = nil
vim.cmd("tabclose")
H.wait(300, function() return answer ~= nil end)
H.check(answer == nil and diff.current() ~= nil and not diff.current().shown,
  "closing the tab hides the review; it stays pending (never declines)", diff.current())
diff.reopen()
H.check(diff.current() and diff.current().shown and #vim.api.nvim_list_tabpages() == 2, "diff.reopen() shows it again")
vim.cmd("normal q")
H.check(answer == nil and diff.current() ~= nil and #vim.api.nvim_list_tabpages() == 1, "q closes it without declining")
vim.cmd("MiniCode review")
H.check(diff.current() and diff.current().shown, ":MiniCode review shows it again")
vim.cmd("normal gr")
H.check(answer == false and diff.current() == nil, "gr then rejects it")

config.options.diff.layout = "unified"
diff.show({ title = "t", kind = "edit", files = files, on_done = function(a) answer = a end })
local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
H.check(text:find("-b = 2", 1, true) and text:find("+b = 3", 1, true), "unified layout shows a unified diff", text)
diff.accept()
config.options.diff.layout = "split"

-- several files: ]f / [f move between them; a file known only by its diff shows unified
local two = {
  files[1],
  { uri = "file:///nowhere/g.py", path = "/nowhere/g.py", status = "conflict", diff = "@@ -1 +1 @@\n-old\n+new\n" },
}
diff.show({ title = "two", kind = "rewind", files = two, on_done = function(a) answer = a end })
vim.cmd("normal ]f")
local unified = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
H.check(diff.current().index == 2 and #vim.api.nvim_tabpage_list_wins(0) == 1 and unified:find("+new", 1, true),
  "]f shows the next file (unified when only its diff is known)", unified)
vim.cmd("normal [f")
wins = vim.api.nvim_tabpage_list_wins(0)
H.check(diff.current().index == 1 and #wins == 2 and vim.wo[wins[1]].diff and vim.wo[wins[2]].diff,
  "[f goes back to the side-by-side diff")
diff.reject()

-- the applyEdit handler inside a coroutine (as Neovim runs server requests)
local result
local co = coroutine.create(function()
  result = diff.handle_apply_edit(nil, { edit = edit }, { client_id = -1 })
end)
coroutine.resume(co)
H.check(result == nil and diff.current() ~= nil, "handler waits for the user")
diff.reject()
H.wait(1000, function() return result ~= nil end)
H.check(result and result.applied == false, "declined edit answers applied=false", result)
H.check(vim.fn.readfile(dir .. "/f.py")[2] == "b = 2", "declined edit changed nothing")

co = coroutine.create(function()
  result = diff.handle_apply_edit(nil, { edit = edit }, { client_id = -1 })
end)
result = nil
coroutine.resume(co)
diff.accept()
H.wait(1000, function() return result ~= nil end)
H.check(result and result.applied == true, "accepted edit answers applied=true", result)
-- the server writes a file that is not open itself once the edit is accepted (byte-exact)
H.check(vim.fn.readfile(dir .. "/f.py")[2] == "b = 2" and vim.fn.bufloaded(dir .. "/f.py") == 0,
  "accepted edit on a file not open is left to the server (no buffer loaded, disk untouched)")

H.check(require("minicode.status").statusline() == "", "statusline is empty with no client")

-- a missing server: a clear message, and checkhealth says what to do
vim.g.minicode = { cmd = { "/nonexistent/minicode-lsp", "serve" } }
vim.cmd("MiniCode readiness")
H.check(H.wait(5000, function()
  return (H.notes[#H.notes] or ""):find("not found", 1, true)
end), "a missing server executable is reported", H.notes[#H.notes])
vim.cmd("checkhealth minicode")
H.out("") -- ends the "Running healthchecks..." line Neovim prints
local health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
H.check(health:find("not found", 1, true) and health:find("pipx install", 1, true),
  "checkhealth reports the missing executable with a fix", health)
if #vim.api.nvim_list_tabpages() > 1 then -- checkhealth reuses an empty window, else opens a tab
  vim.cmd("tabclose")
end

-- the vimdoc: tags generate without errors and every |minicode...| link has a tag
local tmp = vim.fn.tempname()
vim.fn.mkdir(tmp .. "/doc", "p")
vim.fn.writefile(vim.fn.readfile(vim.env.MINICODE_PLUGIN .. "/doc/minicode.txt"), tmp .. "/doc/minicode.txt")
local ok, err = pcall(vim.cmd, "helptags " .. vim.fn.fnameescape(tmp .. "/doc"))
H.check(ok, ":helptags on doc/minicode.txt", err)
local tags = {}
for _, l in ipairs(vim.fn.readfile(tmp .. "/doc/tags")) do
  tags[l:match("^[^\t]+")] = true
end
local missing = {}
for _, l in ipairs(vim.fn.readfile(tmp .. "/doc/minicode.txt")) do
  for link in l:gmatch("|([^|%s]+)|") do
    if link:find("minicode", 1, true) and not tags[link] then
      missing[#missing + 1] = link
    end
  end
end
H.check(#missing == 0 and tags["minicode.txt"] and tags[":MiniCode"], "every |minicode| link resolves", missing)

-- readiness: the first report pops up only when blocked or a check failed; later changes always
local function notified(reports)
  package.loaded["minicode.status"] = nil
  local status = require("minicode.status")
  local shown, real = {}, vim.notify
  vim.notify = function(msg) shown[#shown + 1] = msg end
  for _, r in ipairs(reports) do
    status.on_readiness(r)
  end
  vim.notify = real
  return shown
end
local warn_only = { state = "degraded", checks = { { name = "fallback", status = "warn", detail = "no fallback" } } }
local failing = { state = "degraded", checks = { { name = "provider:b", status = "fail", detail = "key not set" } } }
local ready = { state = "ready", checks = {} }
H.check(#notified({ warn_only }) == 0, "a first degraded report with warnings only is quiet")
H.check(#notified({ ready }) == 0, "a first ready report is quiet")
H.check(#notified({ failing }) == 1, "a first report with a failed check is shown")
H.check(#notified({ { state = "blocked", checks = {} } }) == 1, "a first blocked report is shown")
H.check(#notified({ warn_only, ready, warn_only }) == 2, "later changes of state are shown")

-- native details: one-line notifications with a title, highlight groups, :help minicode,
-- :MiniCode rewind!, completion of export formats, the statusline shows only the running turn
do
  local got
  local real = vim.notify
  vim.notify = function(msg, level, opts) got = { msg = msg, level = level, opts = opts } end
  require("minicode.ui").notify("first\nsecond", vim.log.levels.WARN)
  vim.notify = real
  H.check(got and got.msg == "first; second" and got.opts and got.opts.title == "MiniCode",
    "notifications are one line with the title MiniCode", got)
  require("minicode.ui").define_highlights()
  local hl = vim.api.nvim_get_hl(0, { name = "MiniCodeToolFailed" })
  H.check(hl.link == "DiagnosticError", "MiniCode* highlight groups link to standard groups", hl)
  H.check(tags["minicode"] ~= nil, ":help minicode has its own tag (the intro)")
  local seen
  local real_rewind = cmds.rewind
  cmds.rewind = function(args) seen = args end
  vim.cmd("MiniCode rewind! latest")
  cmds.rewind = real_rewind
  H.check(seen and seen.force == true and seen.target.latest == true, ":MiniCode rewind! forces", seen)
  H.check(vim.deep_equal(vim.fn.getcompletion("MiniCode export abc m", "cmdline"), { "markdown" }),
    "completion of export formats")
  local state = require("minicode.state")
  state.running["s1"] = "t1"
  state.titles["s1"] = "fix the failing add test in calc.py please"
  local line = require("minicode.status").statusline()
  state.running["s1"] = nil
  H.check(line == "MiniCode ⟳ fix the failing add test in c…", "while a turn runs the statusline shows only it, with a short title", line)
  H.check(not require("minicode.status").statusline():find("⟳", 1, true), "once it ended, no running turn shows")
  -- an approval with Neovim's own vim.ui.select: a float picker, not the blocking number prompt
  H.check(require("minicode.ui").builtin_select(), "vim.ui.select is Neovim's own here")
  local answer_item
  local co2 = coroutine.create(function()
    answer_item = require("minicode.lsp").show_message_request(nil, {
      message = "MiniCode wants to run: make test",
      actions = { { title = "Allow once" }, { title = "Allow for this session" }, { title = "Deny" } },
    })
  end)
  coroutine.resume(co2)
  local float_lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  H.check(vim.api.nvim_win_get_config(0).relative ~= "" and table.concat(float_lines, "|") == " 1  Allow once| 2  Allow for this session| 3  Deny",
    "the approval opens a float picker", float_lines)
  vim.cmd("normal 2")
  H.wait(1000, function() return answer_item ~= nil end)
  H.check(answer_item and answer_item.title == "Allow for this session", "pressing 2 answers 'Allow for this session'", answer_item)
  got = nil
  vim.notify = function(msg, level, opts) got = { msg = msg, level = level, opts = opts } end
  require("minicode").setup({ cmd = { "/nonexistent/minicode-lsp", "serve" }, autostart = false })
  vim.notify = real
  H.check(got and got.msg:find("not found", 1, true) and got.level == vim.log.levels.ERROR,
    "a missing server is reported at setup", got)
end

H.finish()
