---@mod minicode.diff Edits that need confirmation, shown as diffs
---
--- Neovim applies annotated workspace edits silently. For this client the plugin replaces
--- the `workspace/applyEdit` handler: an edit whose change annotations say
--- `needsConfirmation` opens a diff view (a tab with the current and the proposed text in
--- `diffthis` windows, or one unified diff buffer) and is applied only when the user accepts
--- (`ga`, or `require("minicode.diff").accept()`); declining (`gr`, or
--- `require("minicode.diff").reject()`) answers `{ applied = false }`.
--- The same view shows rewind previews (`:MiniCode rewind-preview`) and, read-only, what an
--- agent edit changed (from the chat and the panel).
---
--- Reviews never take the user's keys: a review opens only while the user is in Normal mode
--- (typing in Insert or Command-line mode, it waits and says so once); `q` or closing its tab
--- only hides a review (`:MiniCode review` shows it again); a review of an agent edit closes
--- itself, declined, when its turn ends or is cancelled.

local edits = require("minicode.edits")
local hunks = require("minicode.hunks")

-- the extension field of an applyEdit answer that carries the text a per-hunk review kept
-- (minicode_lsp/protocol_ids.py APPLY_EDIT_ACCEPTED_TEXT)
local ACCEPTED_TEXT = "minicodeAcceptedText"

local M = {}

-- the edit helpers, also reachable from here
M.needs_confirmation = edits.needs_confirmation
M.files_from_edit = edits.files_from_edit
M.apply = edits.apply

---@class minicode.DiffOpts
---@field title string
---@field kind "edit"|"rewind"|"view" ("view": read-only, nothing to accept)
---@field files minicode.DiffFile[]
---@field on_done fun(accepted: boolean, partial?: table<string, {lines: string[], text: string}>)
---@field info? table extra data (the rewind preview)
---@field session? string the session whose turn asked (edits): the review ends with the turn

---@class minicode.DiffView: minicode.DiffOpts
---@field index integer the file shown
---@field tab? integer tabpage handle while shown in a tab
---@field wins integer[] the view's windows while shown (tab or split placement)
---@field inline? {buf: integer, file: minicode.DiffFile, saved: table[]} the overlay in the real buffer
---@field ranges? {[1]: integer, [2]: integer}[] where each hunk of the file shown sits in the proposed window
---@field closing? boolean the view is closing its own windows
---@field bufs integer[] buffers of the file shown
---@field resolved boolean
---@field hidden boolean closed by the user without a decision (edits stay pending)

---@type minicode.DiffView?
local view = nil
---@type minicode.DiffOpts[]
local queue = {}

local augroup = vim.api.nvim_create_augroup("minicode.diff", { clear = true })
local ns = vim.api.nvim_create_namespace("minicode.review")
local counter = 0

local ui = require("minicode.ui")

local function text_diff(a, b, opts)
  local fn = (vim.text and vim.text.diff) or vim.diff
  return fn(a, b, opts)
end

---@param file minicode.DiffFile
---@return string[]
local function unified_lines(file)
  local name = vim.fn.fnamemodify(file.path, ":~:.")
  local out = {}
  local head = ("%s%s%s"):format(name, file.status and ("  [" .. file.status .. "]") or "", file.action and ("  (" .. file.action .. ")") or "")
  out[#out + 1] = "diff " .. head
  if file.current == nil and file.proposed == nil and file.diff then
    vim.list_extend(out, vim.split(file.diff, "\n", { plain = true, trimempty = true }))
    return out
  end
  out[#out + 1] = "--- " .. (file.current and ("a/" .. name) or "/dev/null")
  out[#out + 1] = "+++ " .. (file.proposed and ("b/" .. name) or "/dev/null")
  local a = file.current and (table.concat(file.current, "\n") .. "\n") or ""
  local b = file.proposed and (table.concat(file.proposed, "\n") .. "\n") or ""
  local hunks = text_diff(a, b, { result_type = "unified", ctxlen = 3 }) --[[@as string]]
  vim.list_extend(out, vim.split(hunks, "\n", { plain = true, trimempty = true }))
  return out
end

---@param name string
---@param lines string[]
---@param filetype? string
---@return integer bufnr
local function scratch(name, lines, filetype)
  counter = counter + 1
  local bufnr = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
  pcall(vim.api.nvim_buf_set_name, bufnr, ("minicode://%s [%d]"):format(name, counter))
  vim.bo[bufnr].buftype = "nofile"
  vim.bo[bufnr].bufhidden = "hide"
  vim.bo[bufnr].swapfile = false
  vim.bo[bufnr].modifiable = false
  if filetype and filetype ~= "" then
    vim.bo[bufnr].filetype = filetype
  end
  return bufnr
end

local function hint(kind)
  local keys = require("minicode.config").options.diff.keys
  if kind == "view" then
    return ("%s/%s files  q close  ? help"):format(keys.next_file, keys.prev_file)
  end
  if kind == "edit" and require("minicode.config").options.diff.layout == "split" then
    return ("%s accept  %s reject  %s/%s hunk keep/leave out  %s/%s files  q close  ? help"):format(keys.accept,
      keys.reject, keys.accept_hunk, keys.reject_hunk, keys.next_file, keys.prev_file)
  end
  return ("%s accept  %s reject  %s/%s files  q close  ? help"):format(keys.accept, keys.reject, keys.next_file, keys.prev_file)
end

--- The key hints of a window bar, longest first: the bar shows the longest that fits its
--- window (and `? help` lists every key when none but that fits).
---@param kind string
---@return string[]
local function hints(kind)
  local keys = require("minicode.config").options.diff.keys
  local list = { hint(kind) }
  if kind == "edit" and require("minicode.config").options.diff.layout == "split" then
    list[#list + 1] = ("%s accept  %s reject  %s/%s hunk  ? help"):format(keys.accept, keys.reject, keys.accept_hunk,
      keys.reject_hunk)
  end
  if kind ~= "view" then
    list[#list + 1] = ("%s accept  %s reject  ? help"):format(keys.accept, keys.reject)
  end
  list[#list + 1] = "? help"
  return list
end

---@return {[1]: string, [2]: string}[]
local function help_keys()
  local keys = require("minicode.config").options.diff.keys
  local v = view
  local list = {}
  if v and v.kind ~= "view" then
    list[#list + 1] = { keys.accept, v.kind == "rewind" and "apply the rewind" or "accept the edit" }
    list[#list + 1] = { keys.reject, v.kind == "rewind" and "discard the preview" or "reject the edit (the agent is told)" }
  end
  if v and v.kind == "edit" then
    list[#list + 1] = { keys.accept_hunk, "keep the hunk under the cursor (then the next hunk)" }
    list[#list + 1] = { keys.reject_hunk, "leave the hunk under the cursor out (accept keeps the rest)" }
    list[#list + 1] = { "]c / [c", "next / previous hunk" }
  end
  list[#list + 1] = { keys.next_file, "next file" }
  list[#list + 1] = { keys.prev_file, "previous file" }
  list[#list + 1] = { "q", v and v.kind == "edit" and "close (the review stays pending: :MiniCode review)" or "close" }
  list[#list + 1] = { "?", "this help" }
  return list
end

local function set_keys(bufnr, kind)
  local keys = require("minicode.config").options.diff.keys
  local function map(lhs, fn, desc)
    vim.keymap.set("n", lhs, fn, { buffer = bufnr, nowait = true, silent = true, desc = desc })
  end
  if kind ~= "view" then
    map(keys.accept, M.accept, "MiniCode: accept the edit")
    map(keys.reject, M.reject, "MiniCode: reject the edit")
  end
  if kind == "edit" then
    map(keys.accept_hunk, M.accept_hunk, "MiniCode: keep the hunk under the cursor")
    map(keys.reject_hunk, M.reject_hunk, "MiniCode: leave the hunk under the cursor out")
  end
  map("q", M.close, "MiniCode: close")
  map(keys.next_file, M.next_file, "MiniCode: next file")
  map(keys.prev_file, M.prev_file, "MiniCode: previous file")
  ui.map_help(bufnr, "MiniCode review", help_keys)
end

local function wipe(bufs)
  for _, b in ipairs(bufs or {}) do
    if vim.api.nvim_buf_is_valid(b) then
      pcall(vim.api.nvim_buf_delete, b, { force = true })
    end
  end
end

local function winbar_escape(s)
  return (s:gsub("%%", "%%%%"))
end

---@param v minicode.DiffView
---@return integer[] the view's windows that are still there
local function live_wins(v)
  return vim.tbl_filter(function(w)
    return vim.api.nvim_win_is_valid(w)
  end, v.wins or {})
end

---@param v minicode.DiffView
---@return boolean
local function is_shown(v)
  return v.inline ~= nil or #live_wins(v) > 0
end

--- A per-hunk review is offered for a file of an agent edit that exists before and after.
---@param v minicode.DiffView
---@param file? minicode.DiffFile
---@return boolean
local function per_hunk(v, file)
  if v.kind ~= "edit" or not file or file.current == nil or file.proposed == nil then
    return false
  end
  file.hunks = file.hunks or hunks.of(file.current, file.proposed)
  file.decisions = file.decisions or {}
  return #file.hunks > 0
end

---@param file minicode.DiffFile
---@return string
local function hunk_status(file)
  local kept, out = 0, 0
  for i = 1, #file.hunks do
    if file.decisions[i] == true then
      kept = kept + 1
    elseif file.decisions[i] == false then
      out = out + 1
    end
  end
  return ("  hunks: %d kept, %d left out, %d open"):format(kept, out, #file.hunks - kept - out)
end

--- Marks on the hunks of `buf` (a decision per hunk), `ranges` where they sit in it. `left`:
--- the current side's buffer, which gets the same "left out" line at the hunk, so that both
--- sides of the split stay aligned.
---@param buf integer
---@param file minicode.DiffFile
---@param ranges {[1]: integer, [2]: integer}[]
---@param left? integer
local function mark_hunks(buf, file, ranges, left)
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  left = left and vim.api.nvim_buf_is_valid(left) and left or nil
  if left then
    vim.api.nvim_buf_clear_namespace(left, ns, 0, -1)
  end
  local count = vim.api.nvim_buf_line_count(buf)
  local keys = require("minicode.config").options.diff.keys
  local function left_out(b, i, first, lines)
    pcall(vim.api.nvim_buf_set_extmark, b, ns, math.min(math.max(first, 1), lines) - 1, 0, {
      virt_lines = { { { ("✗ hunk %d left out (%s keeps it)"):format(i, keys.accept_hunk), "MiniCodeHunkRejected" } } },
      virt_lines_above = first <= lines,
    })
  end
  for i, r in ipairs(ranges) do
    local d = file.decisions[i]
    local row = math.min(math.max(r[1], 1), count) - 1
    if d == false then
      left_out(buf, i, r[1], count)
      if left and file.hunks[i] then
        left_out(left, i, file.hunks[i].a, vim.api.nvim_buf_line_count(left))
      end
    elseif d == true then
      pcall(vim.api.nvim_buf_set_extmark, buf, ns, row, 0, {
        virt_text = { { ("✓ hunk %d kept"):format(i), "MiniCodeHunkKept" } },
        virt_text_pos = "eol",
      })
    end
  end
end

local bars = {} ---@type table<integer, {text: string, rest: string[]}> window -> its bar, redrawn on resize

--- A window bar: `text`, then the longest of `rest` (key hints, or the title) that fits the
--- window beside it, right-aligned; when even the last does not fit, `text` gives way (cut at
--- its start), so the key hints always show.
---@param win integer
---@param text string
---@param rest string|string[]
local function bar(win, text, rest)
  rest = type(rest) == "table" and rest or { rest or "" }
  bars[win] = { text = text, rest = rest }
  local width = vim.api.nvim_win_get_width(win)
  local pick = rest[#rest]
  for _, r in ipairs(rest) do
    if vim.fn.strdisplaywidth(text) + 2 + vim.fn.strdisplaywidth(r) <= width then
      pick = r
      break
    end
  end
  vim.wo[win].winbar = "%<" .. winbar_escape(text) .. "%=  " .. winbar_escape(pick)
end

vim.api.nvim_create_autocmd({ "WinResized", "VimResized" }, {
  group = augroup,
  desc = "MiniCode: fit the review's window bars to their new widths",
  callback = function()
    for win, b in pairs(bars) do
      if vim.api.nvim_win_is_valid(win) and vim.wo[win].winbar ~= "" then
        bar(win, b.text, b.rest)
      else
        bars[win] = nil
      end
    end
  end,
})

--- (Re)draw the proposed side of the file shown: the text that lands with the decisions made.
---@param v minicode.DiffView
local function draw_proposed(v)
  local file = v.files[v.index]
  local right = v.bufs[2]
  local win = live_wins(v)[2]
  if not file or not right or not vim.api.nvim_buf_is_valid(right) then
    return
  end
  local lines = file.proposed or {}
  if per_hunk(v, file) then
    lines, v.ranges = hunks.compose(file.current, file.proposed, file.hunks, file.decisions)
  else
    v.ranges = nil
  end
  vim.bo[right].modifiable = true
  vim.api.nvim_buf_set_lines(right, 0, -1, false, lines)
  vim.bo[right].modifiable = false
  if v.ranges then
    mark_hunks(right, file, v.ranges, v.bufs[1] ~= right and v.bufs[1] or nil)
  end
  if win then
    local name = vim.fn.fnamemodify(file.path, ":~:.")
    local after = v.kind == "view" and "after" or "proposed"
    local status = file.status and ("  [" .. file.status .. "]") or ""
    bar(win, ("%s: %s%s%s  (%d/%d)%s"):format(after, name, file.proposed == nil and "  (deleted)" or "", status, v.index,
      #v.files, v.ranges and hunk_status(file) or ""), hints(v.kind))
    pcall(vim.api.nvim_win_call, win, function()
      vim.cmd("diffupdate")
    end)
  end
end

--- Draw the file at view.index into the view's windows.
local function render()
  local v = assert(view)
  local wins = live_wins(v)
  if #wins == 0 then
    return
  end
  local layout = require("minicode.config").options.diff.layout
  local old = v.bufs
  v.bufs = {}
  local file = v.files[v.index]
  local n = #v.files
  local all_unknown = file == nil or (file.current == nil and file.proposed == nil)
  v.closing = true
  if layout == "unified" or all_unknown then
    local lines = { ("# %s"):format(v.title), ("# %s"):format(hint(v.kind)), "" }
    if #v.files == 0 then
      lines[#lines + 1] = "(no changes)"
    end
    for _, f in ipairs(v.files) do
      vim.list_extend(lines, unified_lines(f))
      lines[#lines + 1] = ""
    end
    v.ranges = nil
    local b = scratch(v.title .. " (diff)", lines, "diff")
    set_keys(b, v.kind)
    v.bufs = { b }
    for i = #wins, 2, -1 do
      pcall(vim.api.nvim_win_close, wins[i], true)
    end
    v.wins = { wins[1] }
    vim.api.nvim_win_set_buf(wins[1], b)
    bar(wins[1], ("MiniCode: %s  (%d file%s)"):format(v.title, n, n == 1 and "" or "s"), hints(v.kind))
  else
    if #wins < 2 then
      vim.api.nvim_win_call(wins[1], function()
        vim.cmd("rightbelow vsplit")
        wins[2] = vim.api.nvim_get_current_win()
      end)
      v.wins = { wins[1], wins[2] }
    end
    local name = vim.fn.fnamemodify(file.path, ":~:.")
    local ft = vim.filetype.match({ filename = file.path }) or ""
    local before = v.kind == "view" and "before" or "current"
    local after = v.kind == "view" and "after" or "proposed"
    local left = scratch(("%s (%s)"):format(name, before), file.current or {}, ft)
    local right = scratch(("%s (%s)"):format(name, after), file.proposed or {}, ft)
    set_keys(left, v.kind)
    set_keys(right, v.kind)
    v.bufs = { left, right }
    for _, w in ipairs(wins) do
      vim.api.nvim_win_call(w, function()
        vim.cmd("diffoff")
      end)
    end
    vim.api.nvim_win_set_buf(wins[1], left)
    vim.api.nvim_win_set_buf(wins[2], right)
    bar(wins[1], ("%s: %s%s"):format(before, name, file.current == nil and "  (absent)" or ""), { v.title, "" })
    for _, w in ipairs({ wins[1], wins[2] }) do
      vim.api.nvim_win_call(w, function()
        vim.cmd("diffthis")
      end)
    end
    draw_proposed(v)
    vim.api.nvim_set_current_win(wins[2])
  end
  wipe(old)
  v.closing = false
end

---@param v minicode.DiffView
---@return string
local function describe(v)
  local names = {}
  for _, f in ipairs(v.files) do
    names[#names + 1] = vim.fn.fnamemodify(f.path, ":t")
  end
  return ("%s %s"):format(v.kind == "rewind" and "Rewind preview of" or (v.kind == "view" and "Diff of" or "Review of"),
    #names > 0 and table.concat(names, ", ") or v.title)
end

local inline_show, inline_clear

--- Put the view on screen where `diff.placement` says: a new tab, a split at the bottom of
--- the current tab, or an overlay in the file's own buffer (an edit of a file shown in a
--- window of the current tab; else a split). Only called in Normal mode (ui.when_idle).
local function display()
  local v = view
  if not v or v.resolved or is_shown(v) then
    return
  end
  v.hidden = false
  local placement = require("minicode.config").options.diff.placement
  if placement == "inline" and inline_show(v) then
    vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodeDiffOpen", data = { title = v.title, kind = v.kind }, modeline = false })
    return
  end
  if placement == "tab" then
    vim.cmd("tabnew")
    v.tab = vim.api.nvim_get_current_tabpage()
    local placeholder = vim.api.nvim_get_current_buf()
    vim.bo[placeholder].bufhidden = "wipe"
  else
    vim.cmd("botright split")
    v.tab = nil
  end
  v.wins = { vim.api.nvim_get_current_win() }
  render()
  vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodeDiffOpen", data = { title = v.title, kind = v.kind }, modeline = false })
end

local INLINE_KEYS = { "accept", "reject", "accept_hunk", "reject_hunk" }

--- Draw the overlay of the proposed hunks in the file's own buffer.
---@param v minicode.DiffView
function M._inline_draw(v)
  local st = v.inline
  if not st or not vim.api.nvim_buf_is_valid(st.buf) then
    return
  end
  local file, buf = st.file, st.buf
  local keys = require("minicode.config").options.diff.keys
  vim.api.nvim_buf_clear_namespace(buf, ns, 0, -1)
  local count = vim.api.nvim_buf_line_count(buf)
  for i, h in ipairs(file.hunks) do
    local d = file.decisions[i]
    local state = d == true and "kept" or (d == false and "left out" or "open")
    local anchor = math.min(math.max(h.a, 1), count) - 1
    local label = ("hunk %d/%d %s · %s keep · %s leave out"):format(i, #file.hunks, state, keys.accept_hunk, keys.reject_hunk)
    if d == false then
      pcall(vim.api.nvim_buf_set_extmark, buf, ns, anchor, 0,
        { virt_text = { { "✗ " .. label, "MiniCodeHunkRejected" } }, virt_text_pos = "eol" })
    else
      for l = h.a, h.a + h.na - 1 do
        pcall(vim.api.nvim_buf_set_extmark, buf, ns, l - 1, 0, { line_hl_group = "MiniCodeInlineDelete" })
      end
      local added = {}
      for l = h.b, h.b + h.nb - 1 do
        added[#added + 1] = { { "+ " .. file.proposed[l], "MiniCodeInlineAdd" } }
      end
      local below = h.na > 0 and (h.a + h.na - 2) or (h.a - 2)
      if #added > 0 then
        if below >= 0 then
          pcall(vim.api.nvim_buf_set_extmark, buf, ns, math.min(below, count - 1), 0, { virt_lines = added })
        else
          pcall(vim.api.nvim_buf_set_extmark, buf, ns, 0, 0, { virt_lines = added, virt_lines_above = true })
        end
      end
      pcall(vim.api.nvim_buf_set_extmark, buf, ns, anchor, 0,
        { virt_text = { { (d and "✓ " or "● ") .. label, d and "MiniCodeHunkKept" or "MiniCodeWaiting" } }, virt_text_pos = "eol" })
    end
  end
end

--- The inline overlay: an edit of one file shown in a window of the current tab, its buffer
--- holding the text the edit was made for. False: not possible (the caller uses a split).
---@param v minicode.DiffView
---@return boolean
inline_show = function(v)
  local file = v.files[1]
  if v.kind ~= "edit" or #v.files ~= 1 or not per_hunk(v, file) then
    return false
  end
  local win
  for _, w in ipairs(vim.api.nvim_tabpage_list_wins(0)) do
    local b = vim.api.nvim_win_get_buf(w)
    if vim.api.nvim_buf_get_name(b) == file.path then
      win = w
      break
    end
  end
  if not win then
    return false
  end
  local buf = vim.api.nvim_win_get_buf(win)
  if not vim.deep_equal(vim.api.nvim_buf_get_lines(buf, 0, -1, false), file.current) then
    return false
  end
  local keys = require("minicode.config").options.diff.keys
  local saved = {}
  local lhs_list = { "q", "?" }
  for _, k in ipairs(INLINE_KEYS) do
    lhs_list[#lhs_list + 1] = keys[k]
  end
  for _, lhs in ipairs(lhs_list) do
    local m = vim.fn.maparg(lhs, "n", false, true)
    if type(m) == "table" and m.buffer == 1 then
      saved[#saved + 1] = m
    end
  end
  v.inline = { buf = buf, file = file, saved = saved, lhs = lhs_list }
  v.wins = {}
  set_keys(buf, "edit")
  vim.api.nvim_set_current_win(win)
  M._inline_draw(v)
  pcall(vim.api.nvim_win_set_cursor, win, { math.max(1, math.min(file.hunks[1].a, vim.api.nvim_buf_line_count(buf))), 0 })
  ui.notify(("Review of %s inline: %s accept, %s reject, %s/%s per hunk, q close"):format(
    vim.fn.fnamemodify(file.path, ":t"), keys.accept, keys.reject, keys.accept_hunk, keys.reject_hunk))
  return true
end

---@param v minicode.DiffView
inline_clear = function(v)
  local st = v.inline
  v.inline = nil
  if not st or not vim.api.nvim_buf_is_valid(st.buf) then
    return
  end
  vim.api.nvim_buf_clear_namespace(st.buf, ns, 0, -1)
  for _, lhs in ipairs(st.lhs) do
    pcall(vim.keymap.del, "n", lhs, { buffer = st.buf })
  end
  for _, m in ipairs(st.saved) do
    vim.api.nvim_buf_call(st.buf, function()
      pcall(vim.fn.mapset, "n", false, m)
    end)
  end
end

--- Show the next queued view when none is pending.
local function pump()
  if view or #queue == 0 then
    return
  end
  local opts = table.remove(queue, 1)
  view = vim.tbl_extend("force", opts, { index = 1, bufs = {}, resolved = false, hidden = false }) --[[@as minicode.DiffView]]
  local v = view
  ui.when_idle(function()
    if view == v then
      display()
    end
  end, describe(v))
end

---@param v minicode.DiffView
local function close_tab(v)
  v.closing = true
  if v.inline then
    inline_clear(v)
  end
  local tab = v.tab
  v.tab = nil
  if tab and vim.api.nvim_tabpage_is_valid(tab) then
    if #vim.api.nvim_list_tabpages() > 1 then
      local nr = vim.api.nvim_tabpage_get_number(tab)
      pcall(vim.cmd, "tabclose " .. nr)
    else
      pcall(vim.cmd, "diffoff!")
      vim.cmd("enew")
      pcall(vim.cmd, "only")
    end
  end
  for _, w in ipairs(live_wins(v)) do
    pcall(vim.api.nvim_win_call, w, function()
      vim.cmd("diffoff")
    end)
    if #vim.api.nvim_tabpage_list_wins(vim.api.nvim_win_get_tabpage(w)) > 1 then
      pcall(vim.api.nvim_win_close, w, true)
    else
      pcall(vim.api.nvim_win_call, w, function()
        vim.cmd("enew")
      end)
    end
  end
  v.wins = {}
  wipe(v.bufs)
  v.bufs = {}
  v.closing = false
end

--- What a per-hunk review kept of each file it took only in part: {uri = {lines, text}}.
---@param v minicode.DiffView
---@return table<string, {lines: string[], text: string}>? nil: every hunk as proposed
local function partial_of(v)
  local out
  for _, f in ipairs(v.files) do
    if f.hunks and hunks.any_rejected(f.decisions or {}) then
      local lines = hunks.compose(f.current, f.proposed, f.hunks, f.decisions)
      -- the last line ends as the side it comes from ends
      local last, eol = f.hunks[#f.hunks], f.current_eol ~= false
      if f.decisions[#f.hunks] ~= false and last.a + last.na - 1 >= #f.current then
        eol = f.proposed_eol ~= false
      end
      out = out or {}
      out[f.uri] = { lines = lines, text = #lines == 0 and "" or (table.concat(lines, "\n") .. (eol and "\n" or "")) }
    end
  end
  return out
end

--- Is every hunk of every file left out (nothing would be applied)?
---@param v minicode.DiffView
---@return boolean
local function all_left_out(v)
  for _, f in ipairs(v.files) do
    if not f.hunks or #f.hunks == 0 then
      return false
    end
    for i = 1, #f.hunks do
      if f.decisions[i] ~= false then
        return false
      end
    end
  end
  return #v.files > 0
end

---@param accepted boolean
local function resolve(accepted)
  local v = view
  if not v or v.resolved then
    return
  end
  v.resolved = true
  view = nil
  local partial = accepted and v.kind == "edit" and partial_of(v) or nil
  close_tab(v)
  local ok, err = pcall(v.on_done, accepted, partial)
  if not ok then
    ui.notify(tostring(err), vim.log.levels.ERROR)
  end
  vim.schedule(pump)
end

vim.api.nvim_create_autocmd("WinClosed", {
  group = augroup,
  callback = function(args)
    -- the user closed one of the view's windows (:q): the view is hidden (an edit) or dismissed
    local v, win = view, tonumber(args.match)
    if v and not v.resolved and not v.closing and win and vim.tbl_contains(v.wins or {}, win) then
      vim.schedule(function()
        if view == v and not v.closing then
          M.close()
        end
      end)
    end
  end,
})

vim.api.nvim_create_autocmd("TabClosed", {
  group = augroup,
  callback = function()
    -- the closed tabpage is still valid while TabClosed runs
    vim.schedule(function()
      local v = view
      if v and not v.resolved and v.tab and not vim.api.nvim_tabpage_is_valid(v.tab) then
        M.close()
      end
    end)
  end,
})

--- Show a diff view (after the pending one, if any; only once the user is in Normal mode).
---@param opts minicode.DiffOpts
function M.show(opts)
  queue[#queue + 1] = opts
  pump()
end

--- Accept the edit shown now.
function M.accept()
  if view and view.kind ~= "view" then
    if view.kind == "edit" and all_left_out(view) then
      ui.notify("every hunk was left out: the edit is rejected")
      return resolve(false)
    end
    resolve(true)
  end
end

---@param keep boolean
local function decide(keep)
  local v = view
  if not v or v.kind ~= "edit" or v.resolved then
    return
  end
  local file = v.inline and v.inline.file or v.files[v.index]
  if not per_hunk(v, file) then
    ui.notify("no hunks to decide here: accept or reject the whole edit")
    return
  end
  if not v.inline and not v.ranges then
    -- the unified layout (one diff buffer): its lines are not the file's
    ui.notify("per-hunk review needs diff.layout = \"split\" (or diff.placement = \"inline\")")
    return
  end
  local win = vim.api.nvim_get_current_win()
  local buf = vim.api.nvim_win_get_buf(win)
  local line = vim.api.nvim_win_get_cursor(win)[1]
  local proposed_side = buf == v.bufs[2] and v.ranges ~= nil
  local function ranges_here()
    if proposed_side then
      return v.ranges
    end
    local r = {}
    for i, h in ipairs(file.hunks) do
      r[i] = { h.a, h.a + h.na - 1 }
    end
    return r
  end
  local i = hunks.at(ranges_here(), line)
  if not i then
    return
  end
  file.decisions[i] = keep
  if v.inline then
    M._inline_draw(v)
  else
    draw_proposed(v)
  end
  -- on to the next hunk
  local nxt = ranges_here()[i + 1]
  if nxt then
    pcall(vim.api.nvim_win_set_cursor, win, { math.max(1, math.min(nxt[1], vim.api.nvim_buf_line_count(buf))), 0 })
  end
end

--- Keep the hunk under the cursor (per-hunk review of an agent edit), then go to the next one.
function M.accept_hunk()
  decide(true)
end

--- Leave the hunk under the cursor out (accepting the edit keeps the others), then go on.
function M.reject_hunk()
  decide(false)
end

--- Decline the edit shown now.
function M.reject()
  resolve(false)
end

--- Close the view without deciding: a review of an agent edit stays pending (hidden) until
--- `:MiniCode review`, a decision or the end of its turn; anything else is dismissed.
function M.close()
  local v = view
  if not v or v.resolved then
    return
  end
  if v.kind ~= "edit" then
    resolve(false)
    return
  end
  close_tab(v)
  if not v.hidden then
    v.hidden = true
    ui.notify(describe(v) .. " hidden, still pending: :MiniCode review shows it")
  end
end

--- Show the pending review again (after `q`).
function M.reopen()
  local v = view
  if not v then
    ui.notify("no review pending")
    return
  end
  if v.inline then
    return
  end
  local wins = live_wins(v)
  if #wins > 0 then
    vim.api.nvim_set_current_win(wins[#wins])
    return
  end
  ui.when_idle(function()
    if view == v then
      display()
    end
  end, describe(v))
end

--- Close (declined) every review of an agent edit that belongs to `session_id` (or to no known
--- session), shown, hidden or queued: its turn ended, nobody waits for the answer any more.
---@param session_id? string
---@param reason string
function M.end_turn(session_id, reason)
  local closed = 0
  for i = #queue, 1, -1 do
    local q = queue[i]
    if q.kind == "edit" and (q.session == nil or q.session == session_id) then
      table.remove(queue, i)
      pcall(q.on_done, false)
      closed = closed + 1
    end
  end
  local v = view
  if v and v.kind == "edit" and not v.resolved and (v.session == nil or v.session == session_id) then
    ui.drop_waiting(function(desc)
      return desc == describe(v)
    end)
    resolve(false)
    closed = closed + 1
  end
  if closed > 0 then
    ui.notify(("review closed: the turn ended (%s)"):format(reason))
  end
end

function M.next_file()
  if view and #view.files > 1 and not view.inline then
    view.index = view.index % #view.files + 1
    render()
  end
end

function M.prev_file()
  if view and #view.files > 1 and not view.inline then
    view.index = (view.index - 2) % #view.files + 1
    render()
  end
end

--- The view pending now: `{ title, kind, files, index, shown, pending }`, or nil. For tests
--- and statuslines (`shown` is false while it waits for Normal mode or is hidden).
---@return {title: string, kind: string, files: minicode.DiffFile[], index: integer, pending: integer, shown: boolean, wins: integer[], tab?: integer, inline?: integer}?
function M.current()
  if not view then
    return nil
  end
  return { title = view.title, kind = view.kind, files = view.files, index = view.index, pending = #queue,
    shown = is_shown(view), wins = live_wins(view), tab = view.tab, inline = view.inline and view.inline.buf or nil }
end

--- The server withdrew a request it stopped waiting for (`$/cancelRequest`: the turn was
--- cancelled, or nobody answered within `agent.approvalTimeoutS`). Neovim does not say which
--- request an id belongs to, so every review of an agent edit still open is closed, declined:
--- an accept after the server stopped waiting is refused with a message, never applied (it
--- would land with no checkpoint, so it could not be rewound).
function M.withdrawn()
  local n = 0
  for i = #queue, 1, -1 do
    local q = queue[i]
    if q.kind == "edit" then
      table.remove(queue, i)
      pcall(q.on_done, false)
      n = n + 1
    end
  end
  local v = view
  if v and v.kind == "edit" and not v.resolved then
    ui.drop_waiting(function(desc)
      return desc == describe(v)
    end)
    resolve(false)
    n = n + 1
  end
  if n > 0 then
    ui.notify("review closed, not applied: the server stopped waiting for it (the turn was cancelled or the "
      .. "answer came too late)", vim.log.levels.WARN)
  end
end

do
  local previous = vim.lsp.handlers["$/cancelRequest"]
  vim.lsp.handlers["$/cancelRequest"] = function(err, params, ctx, config)
    local client = ctx and vim.lsp.get_client_by_id(ctx.client_id)
    if client and client.name == "minicode" then
      return M.withdrawn()
    end
    if previous then
      return previous(err, params, ctx, config)
    end
  end
end

--- The `workspace/applyEdit` handler of the minicode client.
---@param params lsp.ApplyWorkspaceEditParams
---@param ctx lsp.HandlerContext
---@return lsp.ApplyWorkspaceEditResult
function M.handle_apply_edit(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local encoding = client and client.offset_encoding or "utf-16"
  local edit = params.edit or {}
  if not edits.needs_confirmation(edit) then
    return edits.apply(edit, encoding)
  end
  local title = params.label or edits.label(edit)
  if title == "" then
    title = "MiniCode edit"
  end
  local files = edits.files_from_edit(edit, encoding)
  local co, is_main = coroutine.running()
  if not co or is_main then
    local choice = vim.fn.confirm(("%s: apply changes to %s?"):format(title, ui.plural(#files, "file")), "&Apply\n&Decline", 2)
    if choice == 1 then
      return edits.apply(edit, encoding)
    end
    return { applied = false, failureReason = "declined in Neovim" }
  end
  -- the session asking: the one turn running now (a review ends with its turn)
  local state = require("minicode.state")
  local session
  for sid in pairs(state.running) do
    session = session == nil and sid or false
  end
  M.show({
    title = title,
    kind = "edit",
    files = files,
    session = session or nil,
    on_done = function(accepted, partial)
      vim.schedule(function()
        local ok, err = coroutine.resume(co, accepted, partial)
        if not ok then
          ui.notify("applyEdit: " .. tostring(err), vim.log.levels.ERROR)
        end
      end)
    end,
  })
  local accepted, partial = coroutine.yield()
  if accepted then
    local result = edits.apply(edit, encoding, partial)
    if not result.applied then
      -- a refused accept says why (the agent hears the same reason)
      ui.notify(("edit not applied: %s"):format(result.failureReason or "unknown reason"), vim.log.levels.WARN)
    elseif partial then
      -- the server writes / records exactly what was kept (and re-checks it)
      local texts = {}
      for uri, p in pairs(partial) do
        texts[uri] = p.text
      end
      result[ACCEPTED_TEXT] = texts
    end
    return result
  end
  return { applied = false, failureReason = "declined in Neovim" }
end

--- Show a rewind preview (the result of minicode.rewind.preview) as a diff; `on_accept` runs
--- when the user accepts it. With `opts.changes`, show instead what the agent changed (the
--- preview's sides swapped, read-only: nothing to accept).
---@param preview minicode.RewindPreview
---@param on_accept? fun(preview: minicode.RewindPreview)
---@param title? string
---@param opts? {changes?: boolean}
function M.show_preview(preview, on_accept, title, opts)
  opts = opts or {}
  local files = edits.files_from_preview(preview)
  if opts.changes then
    for _, f in ipairs(files) do
      f.current, f.proposed, f.status, f.action = f.proposed, f.current, nil, nil
    end
  end
  local empty = #files == 0
  if empty and not opts.changes then
    ui.notify("nothing to rewind")
    return
  end
  M.show({
    title = title or (opts.changes and "Agent changes" or "Rewind preview"),
    kind = opts.changes and "view" or "rewind",
    files = files,
    info = preview,
    on_done = function(accepted)
      if accepted and on_accept then
        on_accept(preview)
      end
    end,
  })
end

--- Show two texts of one file side by side, read-only (what an agent edit changed).
---@param title string
---@param path string
---@param before? string[] nil: the file did not exist
---@param after? string[] nil: the file was deleted
function M.show_change(title, path, before, after)
  M.show({
    title = title,
    kind = "view",
    files = { { uri = vim.uri_from_fname(path), path = path, current = before, proposed = after } },
    on_done = function() end,
  })
end

return M
