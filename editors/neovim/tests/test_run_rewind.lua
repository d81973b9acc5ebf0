-- Run a task with :MiniCode run, see the buffer change, find the session and its edit group in
-- the panel, preview the rewind as a diff, accept it, and see the text restored.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(120000)

local ws = H.workspace({ ["a.py"] = { "x = 1", "print(x)" } }, { permissionMode = "auto" })
H.setup()
local diff = require("minicode.diff")

local progress = {}
vim.api.nvim_create_autocmd("LspProgress", {
  callback = function(args)
    local value = args.data.params and args.data.params.value or {}
    progress[#progress + 1] = value.kind
  end,
})
local rec = H.record_events()

vim.cmd.edit(vim.fn.fnameescape(ws .. "/a.py"))
local buf = vim.api.nvim_get_current_buf()
local client = H.wait_client(buf)
if not H.check(client ~= nil, "minicode client initialized and attached") then
  return H.finish()
end
H.check(client.config.init_options ~= nil, "settings sent as initializationOptions")
H.check(H.wait(10000, function()
  return require("minicode.status").readiness() ~= nil
end), "minicode/readiness received")
H.out("  statusline:", require("minicode.status").statusline())
H.check(require("minicode.status").statusline():find("● ready", 1, true), "statusline shows readiness",
  require("minicode.status").statusline())

-- 1. run a task
vim.cmd("MiniCode run change x to 2")
local finished = H.wait(30000, function()
  return rec.finished ~= nil
end)
H.check(finished, "turn.finished received", H.event_types(rec))
H.out("  events:", table.concat(H.event_types(rec), ","))
H.check(rec.finished and rec.finished.data.stopReason == "done", "stop reason done", rec.finished and rec.finished.data)
H.check(vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == "x = 2", "buffer shows the agent's edit",
  vim.api.nvim_buf_get_lines(buf, 0, -1, false))
H.wait(5000, function() return vim.tbl_contains(progress, "end") end)
H.check(H.wait(5000, function() return not require("minicode.status").statusline():find("⟳", 1, true) end),
  "statusline shows no running turn after it finished", require("minicode.status").statusline())
H.check(vim.tbl_contains(progress, "begin") and vim.tbl_contains(progress, "end"), "$/progress begin and end seen (LspProgress)", progress)
local transcript = table.concat(require("minicode.transcript").lines(), "\n")
H.out("  transcript:\n    " .. transcript:gsub("\n", "\n    "))
H.check(transcript:find("Done.", 1, true) and transcript:find("edit_file", 1, true), "transcript streamed the turn", transcript)
local session_id = rec.finished and rec.finished.sessionId
local read_summary
for _, e in ipairs(rec.events) do
  if e.type == "tool.finished" and e.data.name == "read_file" then
    read_summary = e.data.summary
  end
end
-- the agent reads the open buffer: its read_file right after its own edit must see x = 2
-- (Neovim sends the didChange echo of an applied edit after a 150 ms debounce)
H.check(read_summary and read_summary:find("x = 2", 1, true), "the agent's read_file after its edit sees the edited buffer", read_summary)
-- the buffer had no unsaved changes: the plugin wrote it, so the agent's commands see the edit
H.check(not vim.bo[buf].modified and vim.fn.readfile(ws .. "/a.py")[1] == vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1],
  "a clean buffer the agent edited is written to disk", vim.fn.readfile(ws .. "/a.py")[1])

-- 2. the server's source action "preview rewind of agent edits in this file" opens the same
-- diff view (a client-side command), not a document
vim.api.nvim_set_current_win(vim.fn.win_findbuf(buf)[1])
-- The kinds must be LSP kinds ("source.minicode.rewindPreview") for `only = { "source" }` to
-- find them. While the server sends "CodeActionKind.Source.minicode..." (an enum formatted with
-- an f-string), the check falls back to matching the title and says so.
local kinds = {}
local raw = vim.lsp.buf_request_sync(buf, "textDocument/codeAction", {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  range = { start = { line = 0, character = 0 }, ["end"] = { line = 0, character = 0 } },
  context = { diagnostics = {} },
}, 10000)
for _, r in pairs(raw or {}) do
  for _, a in ipairs(r.result or {}) do
    kinds[#kinds + 1] = a.kind
  end
end
H.out("  code action kinds:", kinds)
local valid_kinds = vim.tbl_contains(kinds, "source.minicode.rewindPreview")
if valid_kinds then
  vim.lsp.buf.code_action({
    apply = true,
    context = { only = { "source" }, diagnostics = {} }, -- what a "source action" mapping asks for
    filter = function(action)
      return action.kind == "source.minicode.rewindPreview"
    end,
  })
else
  H.out("  SKIP the only={'source'} path: the server's code action kinds are not LSP kinds", kinds)
  vim.lsp.buf.code_action({
    apply = true,
    filter = function(action)
      return action.title:find("preview rewind", 1, true) ~= nil
    end,
  })
end
H.check(H.wait(10000, function() return diff.current() ~= nil end), "source action 'preview rewind' opens the diff view",
  { kinds = kinds, notes = H.notes })
if diff.current() then
  H.check(diff.current().kind == "rewind" and diff.current().files[1].proposed[1] == "x = 1",
    "the action previews restoring x = 1", diff.current().files)
  diff.reject()
end
H.check(vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == "x = 2", "rejecting it changed nothing")


-- 3. the sessions panel
local panel = require("minicode.panel")
local loaded = false
vim.api.nvim_create_autocmd("User", { pattern = "MiniCodePanel", callback = function() loaded = true end })
vim.cmd("MiniCode sessions")
local session_line
H.wait(10000, function()
  local _, items = panel.contents()
  for lnum, item in pairs(items) do
    if item.kind == "session" and item.session.id == session_id then
      session_line = lnum
      return true
    end
  end
end)
H.check(session_line ~= nil, "panel lists the session", (panel.contents()))
if not session_line then
  return H.finish()
end
local win = panel.window()
vim.api.nvim_set_current_win(win)
vim.api.nvim_win_set_cursor(win, { session_line, 0 })
vim.cmd("normal o") -- expand
local group_line, file_line
H.wait(10000, function()
  local _, items = panel.contents()
  for lnum, item in pairs(items) do
    if item.kind == "group" then
      group_line = lnum
    elseif item.kind == "file" and item.file.uri:match("a%.py$") then
      file_line = lnum
    end
  end
  return group_line and file_line
end)
H.out("  panel:\n    " .. table.concat((panel.contents()), "\n    "))
H.check(group_line ~= nil, "panel shows the turn's edit group")
H.check(file_line ~= nil, "panel shows the group's file a.py")
-- a narrow panel cuts titles and prompts, never the stop reasons and ids after them
vim.api.nvim_win_set_width(win, 34)
local refreshed = false
panel.refresh(function() refreshed = true end)
H.wait(10000, function() return refreshed end)
do
  local lines, items = panel.contents()
  local too_wide, ends = {}, {}
  for _, line in ipairs(lines) do
    if vim.fn.strdisplaywidth(line) > 34 then
      too_wide[#too_wide + 1] = line
    end
  end
  H.check(table.concat(lines, "\n"):find("? help", 1, true), "the key hints wrap, ending with ? help", lines)
  for lnum, item in pairs(items) do
    if item.kind == "session" or item.kind == "turn" then
      ends[#ends + 1] = lines[lnum]:match(item.kind == "session" and "· done$" or "%[done%]$") ~= nil
    end
  end
  H.check(#too_wide == 0 and #ends == 2 and ends[1] and ends[2], "at 34 columns every line fits, its stop reason whole",
    { lines = lines, too_wide = too_wide })
end
vim.api.nvim_win_set_width(win, require("minicode.config").options.panel.width)
if not group_line then
  return H.finish()
end

-- 4. preview the rewind of that group as a diff (panel key), accept it
vim.api.nvim_win_set_cursor(win, { group_line, 0 })
vim.cmd("normal v")
H.check(H.wait(10000, function() return diff.current() ~= nil end), "rewind preview opens a diff view", H.notes)
local view = diff.current()
if view then
  local f = view.files[1]
  H.check(view.kind == "rewind", "the view is a rewind preview")
  H.check(f and f.current and f.current[1] == "x = 2" and f.proposed and f.proposed[1] == "x = 1",
    "diff shows current x = 2 and proposed x = 1", f)
  local wins = vim.api.nvim_tabpage_list_wins(0)
  H.check(#wins == 2 and vim.wo[wins[1]].diff and vim.wo[wins[2]].diff, "side-by-side diffthis windows")
  local rewound
  vim.api.nvim_create_autocmd("User", { pattern = "MiniCodeRewound", callback = function(a) rewound = a.data end })
  vim.cmd("normal ga")
  H.check(H.wait(10000, function()
    return vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == "x = 1"
  end), "accepting restores the buffer text", vim.api.nvim_buf_get_lines(buf, 0, -1, false))
  H.wait(5000, function() return rewound ~= nil end)
  H.check(rewound and rewound.applied == true, "minicode.rewind.apply reports applied", rewound)
  H.check(diff.current() == nil, "no second confirmation for the accepted preview", diff.current())
  H.check(H.wait(10000, function()
    return table.concat((panel.contents()), "\n"):find("(rewound)", 1, true)
  end), "the panel refreshes and marks the group rewound", (panel.contents()))
  H.check(H.wait(10000, function()
    local _, items = panel.contents()
    for _, item in pairs(items) do
      if item.kind == "group" and item.turn == nil and item.group.kind == "rewind" then
        return true
      end
    end
  end), "the panel shows the rewind's safety group after the turns (session.show's safetyGroups)", (panel.contents()))
end

-- 5. undo the rewind
vim.cmd("MiniCode rewind-undo")
H.wait(5000, function()
  if diff.current() then
    diff.accept()
  end
  return vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == "x = 2"
end)
H.check(vim.api.nvim_buf_get_lines(buf, 0, 1, false)[1] == "x = 2", "rewind-undo brings the agent's edit back",
  vim.api.nvim_buf_get_lines(buf, 0, -1, false))

H.finish()
