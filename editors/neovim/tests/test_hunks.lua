-- Per-hunk review of agent edits in ask mode, in each placement: a closed file in a tab, an
-- open buffer in a split at the bottom of the current tab, and the inline overlay in the
-- file's own buffer. The server gets exactly the kept hunks (and tells the model the rest).
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(140000)

local ws = H.workspace({
  ["m.py"] = { "a = 1", "", "", "", "b = 2", "", "", "", "c = 3" },
  ["o.py"] = { "p = 1", "", "", "", "q = 2" },
  ["i.py"] = { "r = 1", "", "", "", "s = 2" },
}, { permissionMode = "ask" })
H.setup()
local rec = H.record_events()
local diff = require("minicode.diff")
local config = require("minicode.config")

local function tool_outputs()
  local out = {}
  for _, e in ipairs(rec.events) do
    if e.type == "tool.finished" then
      out[#out + 1] = e.data.output or ""
    end
  end
  return out
end

H.async(function()
  vim.cmd.edit(vim.fn.fnameescape(ws .. "/o.py"))
  local obuf = vim.api.nvim_get_current_buf()
  local owin = vim.api.nvim_get_current_win()
  if not H.check(H.wait_client(obuf) ~= nil, "minicode client attached") then
    return H.finish()
  end

  -- 1. tab placement (the default), a file not open: keep hunks 1 and 3, leave 2 out
  local tabs = #vim.api.nvim_list_tabpages()
  vim.cmd("MiniCode run change m")
  H.check(H.poll(20000, function() return diff.current() and diff.current().shown end), "the review of m.py opens",
    H.event_types(rec))
  local cur = diff.current()
  H.check(cur and cur.tab ~= nil and #vim.api.nvim_list_tabpages() == tabs + 1, "it opens in a new tab")
  local f = cur and cur.files[1]
  H.check(f and f.hunks and #f.hunks == 3, "the change has 3 hunks", f and f.hunks)
  H.check(vim.wo.winbar:find("hunks: 0 kept, 0 left out, 3 open", 1, true), "the winbar counts the hunks", vim.wo.winbar)
  -- the bar's key hints fit the window, wide or narrow: the longest that fits, at least "? help"
  local function shown_bar(win)
    return vim.api.nvim_eval_statusline(vim.wo[win].winbar, { winid = win, use_winbar = true, maxwidth = vim.api.nvim_win_get_width(win) }).str
  end
  local columns = vim.o.columns
  for _, want in ipairs({ { 400, "gh/gH hunk keep/leave out  ]f/[f files  q close  ? help" }, { 150, "ga accept  gr reject" },
    { 60, "? help" } }) do
    vim.o.columns = want[1]
    vim.cmd("redraw")
    local shown = shown_bar(cur.wins[2])
    H.check(vim.endswith(vim.trim(shown), "? help") and shown:find(want[2], 1, true),
      ("at %d columns the bar ends with its hints (%s)"):format(want[1], want[2]), shown)
  end
  vim.o.columns = columns
  vim.cmd("redraw")
  vim.api.nvim_win_set_cursor(0, { 5, 0 }) -- on hunk 2 (b = 20) in the proposed window
  vim.cmd("normal gH")
  -- both sides say the hunk is left out: the split stays aligned, line for line
  vim.cmd("redraw")
  local lrow, rrow = vim.fn.screenpos(cur.wins[1], 9, 1).row, vim.fn.screenpos(cur.wins[2], 9, 1).row
  H.check(lrow > 0 and lrow == rrow, "after a hunk is left out both sides show line 9 on the same screen row",
    { left = lrow, right = rrow })
  H.check(vim.api.nvim_buf_get_lines(0, 4, 5, false)[1] == "b = 2", "left out, hunk 2 shows the current line again",
    vim.api.nvim_buf_get_lines(0, 0, -1, false))
  H.check(#vim.api.nvim_buf_get_extmarks(0, -1, 0, -1, { details = true }) > 0, "a mark says the hunk is left out")
  vim.cmd("normal ga")
  H.check(H.wait_finished(rec, 1), "turn 1 finished")
  H.check(H.read_bytes(ws .. "/m.py") == "a = 10\n\n\n\nb = 2\n\n\n\nc = 30\n",
    "m.py on disk has hunks 1 and 3 only", H.read_bytes(ws .. "/m.py"))
  local outs = tool_outputs()
  H.check(outs[1] and outs[1]:find("applied only in part", 1, true) and outs[1]:find("-b = 20", 1, true),
    "the agent is told which hunk was left out", outs)
  H.check(#vim.api.nvim_list_tabpages() == tabs, "the review's tab is gone")

  -- 2. split placement, an open buffer: leave hunk 1 out from the current side, keep hunk 2
  config.options.diff.placement = "split"
  vim.api.nvim_set_current_win(owin)
  local wins = #vim.api.nvim_tabpage_list_wins(0)
  vim.cmd("MiniCode run change o")
  H.check(H.poll(20000, function() return diff.current() and diff.current().shown end), "the review of o.py opens")
  cur = diff.current()
  H.check(cur and cur.tab == nil and #vim.api.nvim_list_tabpages() == tabs, "no new tab: it opens in a split")
  H.check(cur and #cur.wins == 2 and vim.api.nvim_win_get_tabpage(cur.wins[1]) == vim.api.nvim_get_current_tabpage(),
    "two review windows in the current tab", cur and cur.wins)
  vim.api.nvim_set_current_win(cur.wins[1])
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  vim.cmd("normal gH")
  vim.cmd("normal gh")
  H.check(vim.wo[cur.wins[2]].winbar:find("hunks: 1 kept, 1 left out, 0 open", 1, true), "one kept, one left out",
    vim.wo[cur.wins[2]].winbar)
  -- :q in a review window hides the review (never declines); :MiniCode review shows it again,
  -- the decisions kept
  vim.cmd("quit")
  H.check(H.poll(3000, function() return diff.current() and not diff.current().shown end), ":q hides the review",
    diff.current())
  H.check(#vim.api.nvim_tabpage_list_wins(0) == wins, "both review windows are closed")
  vim.cmd("MiniCode review")
  cur = diff.current()
  H.check(cur and cur.shown and #cur.wins == 2 and vim.wo[cur.wins[2]].winbar:find("hunks: 1 kept, 1 left out", 1, true),
    ":MiniCode review shows it again with the decisions made", cur and cur.wins)
  vim.cmd("normal ga")
  H.check(H.wait_finished(rec, 2), "turn 2 finished")
  H.check(table.concat(vim.api.nvim_buf_get_lines(obuf, 0, -1, false), "|") == "p = 1||||q = 20",
    "the buffer holds the kept hunk only", vim.api.nvim_buf_get_lines(obuf, 0, -1, false))
  H.check(H.read_bytes(ws .. "/o.py") == "p = 1\n\n\n\nq = 20\n", "and is saved (it had no unsaved change)",
    H.read_bytes(ws .. "/o.py"))
  outs = tool_outputs()
  H.check(outs[4] and outs[4]:find("q = 20", 1, true) and not outs[4]:find("p = 10", 1, true),
    "the server's copy is what was kept (the agent's next read)", outs[4])
  H.check(#vim.api.nvim_tabpage_list_wins(0) == wins, "the review's windows are closed")

  -- 3. inline overlay in the file's own buffer; the user's own mapping comes back after
  config.options.diff.placement = "inline"
  vim.cmd.edit(vim.fn.fnameescape(ws .. "/i.py"))
  local ibuf = vim.api.nvim_get_current_buf()
  H.wait_client(ibuf)
  vim.keymap.set("n", "q", "<Cmd>let g:user_q = 1<CR>", { buffer = ibuf })
  wins = #vim.api.nvim_tabpage_list_wins(0)
  vim.cmd("MiniCode run change i")
  H.check(H.poll(20000, function() return diff.current() and diff.current().shown end), "the inline review of i.py opens")
  cur = diff.current()
  H.check(cur and cur.inline == ibuf and #vim.api.nvim_tabpage_list_wins(0) == wins and #vim.api.nvim_list_tabpages() == tabs,
    "inline: no window or tab opened, the overlay is in the buffer", cur)
  local marks = vim.api.nvim_buf_get_extmarks(ibuf, -1, 0, -1, { details = true })
  local added = {}
  for _, m in ipairs(marks) do
    for _, vl in ipairs(m[4].virt_lines or {}) do
      added[#added + 1] = vl[1][1]
    end
  end
  H.check(vim.tbl_contains(added, "+ r = 10") and vim.tbl_contains(added, "+ s = 20"), "the proposed lines show as virtual lines",
    added)
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  vim.cmd("normal gh")
  vim.cmd("normal gH")
  vim.cmd("normal ga")
  H.check(H.wait_finished(rec, 3), "turn 3 finished")
  H.check(table.concat(vim.api.nvim_buf_get_lines(ibuf, 0, -1, false), "|") == "r = 10||||s = 2",
    "the buffer holds hunk 1 only", vim.api.nvim_buf_get_lines(ibuf, 0, -1, false))
  H.check(#vim.api.nvim_buf_get_extmarks(ibuf, vim.api.nvim_get_namespaces()["minicode.review"], 0, -1, {}) == 0,
    "the overlay is cleared")
  local q = vim.fn.maparg("q", "n", false, true)
  H.check(type(q) == "table" and (q.rhs or ""):find("user_q", 1, true), "the user's buffer mapping of q is back", q)
  H.finish()
end)
