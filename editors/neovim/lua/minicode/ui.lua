---@mod minicode.ui Shared UI pieces: notifications, highlight groups, waiting for Normal mode, help
---
--- Every message goes through `notify()`: one line, `vim.notify` with `{ title = "MiniCode" }`
--- (nvim-notify, snacks and fidget show the title; the default handler shows the line).
--- Highlight groups (`:hi MiniCode...`) are linked to standard groups with `default = true`,
--- so a colorscheme or the user may override them.

local M = {}

M.TITLE = "MiniCode"

--- A turn's stop reason as a user reads it ("not verified" for `verification_failed`).
---@param reason any
---@return string
function M.stop_label(reason)
  if type(reason) ~= "string" or reason == "" then
    return ""
  end
  -- the contract's table (protocol.lua, generated from minicode_lsp/protocol_ids.py)
  return require("minicode.protocol").stop_labels[reason] or (reason:gsub("_", " "))
end

--- "1 file", "3 files" (never "file(s)").
---@param n integer
---@param word string
---@param words? string the plural when it is not word .. "s"
function M.plural(n, word, words)
  return ("%d %s"):format(n, n == 1 and word or (words or word .. "s"))
end

--- One-line notification with the MiniCode title.
---@param msg string
---@param level? integer vim.log.levels
function M.notify(msg, level)
  msg = tostring(msg):gsub("%s*\n%s*", "; ")
  vim.notify(msg, level or vim.log.levels.INFO, { title = M.TITLE })
end

--- The highlight groups and the standard groups they link to (see |minicode-highlights|).
M.highlights = {
  MiniCodeTitle = "Title",
  MiniCodeUser = "Statement",
  MiniCodeAssistant = "Identifier",
  MiniCodeTool = "Function",
  MiniCodeToolFailed = "DiagnosticError",
  MiniCodeToolDeclined = "Comment",
  MiniCodeOutput = "Comment",
  MiniCodeEdit = "Special",
  MiniCodeCheckpoint = "Constant",
  MiniCodeStop = "DiagnosticInfo",
  MiniCodeError = "DiagnosticError",
  MiniCodeWarn = "DiagnosticWarn",
  MiniCodePrompt = "Question",
  MiniCodeThought = "Comment",
  MiniCodeWaiting = "DiagnosticHint",
  MiniCodeHunkKept = "DiagnosticOk",
  MiniCodeHunkRejected = "DiagnosticWarn",
  MiniCodeInlineAdd = "DiffAdd",
  MiniCodeInlineDelete = "DiffDelete",
}

local did_highlights = false

--- Define the highlight groups (once; again after a colorscheme change).
function M.define_highlights()
  for name, link in pairs(M.highlights) do
    vim.api.nvim_set_hl(0, name, { link = link, default = true })
  end
  if not did_highlights then
    did_highlights = true
    vim.api.nvim_create_autocmd("ColorScheme", {
      group = vim.api.nvim_create_augroup("minicode.highlights", { clear = true }),
      callback = M.define_highlights,
    })
  end
end

--- Whether the user is in plain Normal mode (not typing, not in a command line or a pending
--- operator): only then may MiniCode open a window or take the focus.
---@return boolean
function M.is_idle()
  local mode = vim.api.nvim_get_mode()
  return mode.mode == "n" and not mode.blocking
end

---@type {fn: fun(), desc: string}[]
local waiting = {}
local wait_group = nil

local function flush()
  if not M.is_idle() then
    return
  end
  local list = waiting
  waiting = {}
  for _, w in ipairs(list) do
    local ok, err = pcall(w.fn)
    if not ok then
      M.notify(w.desc .. ": " .. tostring(err), vim.log.levels.ERROR)
    end
  end
end

--- Run `fn` now when the user is in Normal mode, else when they come back to it. `desc` is
--- what waits ("review of a.py"), shown once as a notification while the user types.
---@param fn fun()
---@param desc string
---@param quiet? boolean no notification (e.g. the chat window opening)
function M.when_idle(fn, desc, quiet)
  if M.is_idle() and #waiting == 0 then
    fn()
    return
  end
  waiting[#waiting + 1] = { fn = fn, desc = desc }
  if not quiet then
    M.notify(desc .. " waiting: it opens when you are back in Normal mode")
  end
  if not wait_group then
    wait_group = vim.api.nvim_create_augroup("minicode.when_idle", { clear = true })
    vim.api.nvim_create_autocmd("ModeChanged", {
      group = wait_group,
      pattern = "*:n",
      callback = function()
        -- after the mode change settled (a mapping may go on to another mode)
        vim.schedule(flush)
      end,
    })
  end
  vim.schedule(flush)
end

--- How many things wait for Normal mode (for tests and statuslines).
---@return integer
function M.waiting()
  return #waiting
end

--- Drop waiting items whose `desc` matches (e.g. a review whose turn ended).
---@param pred fun(desc: string): boolean
function M.drop_waiting(pred)
  for i = #waiting, 1, -1 do
    if pred(waiting[i].desc) then
      table.remove(waiting, i)
    end
  end
end

--- Whether `vim.ui.select` is Neovim's own (a blocking `inputlist()` number prompt) rather than
--- a picker plugin's (dressing, snacks, telescope, fzf-lua, mini.pick...).
---@return boolean
function M.builtin_select()
  local info = debug.getinfo(vim.ui.select, "S")
  return info ~= nil and (info.source or ""):find("vim/ui.lua", 1, true) ~= nil
end

--- A small non-blocking picker in a float (used instead of the builtin `inputlist()` prompt):
--- `1`-`9` or `<CR>` on an item choose it; `q`/`<Esc>` close it (no choice).
---@param items any[]
---@param opts {prompt?: string, format_item?: fun(item: any): string}
---@param on_choice fun(item: any?, idx: integer?)
function M.select_float(items, opts, on_choice)
  local fmt = opts.format_item or tostring
  local lines = {}
  local width = vim.fn.strdisplaywidth(opts.prompt or "")
  for i, item in ipairs(items) do
    lines[i] = (" %d  %s"):format(i, fmt(item))
    width = math.max(width, vim.fn.strdisplaywidth(lines[i]))
  end
  local b = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(b, 0, -1, false, lines)
  vim.bo[b].modifiable = false
  vim.bo[b].bufhidden = "wipe"
  local win = vim.api.nvim_open_win(b, true, {
    relative = "editor",
    row = math.max(0, math.floor((vim.o.lines - #lines) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    width = math.min(width + 2, vim.o.columns - 2),
    height = #lines,
    style = "minimal",
    border = "rounded",
    title = " " .. (opts.prompt or "MiniCode") .. " ",
    title_pos = "center",
  })
  vim.wo[win].cursorline = true
  local done = false
  local function choose(idx)
    if done then
      return
    end
    done = true
    pcall(vim.api.nvim_win_close, win, true)
    on_choice(idx and items[idx] or nil, idx)
  end
  local function map(lhs, fn)
    vim.keymap.set("n", lhs, fn, { buffer = b, nowait = true, silent = true })
  end
  for i = 1, math.min(#items, 9) do
    map(tostring(i), function()
      choose(i)
    end)
  end
  map("<CR>", function()
    choose(vim.api.nvim_win_get_cursor(win)[1])
  end)
  map("q", function()
    choose(nil)
  end)
  map("<Esc>", function()
    choose(nil)
  end)
  vim.api.nvim_create_autocmd("BufWipeout", {
    buffer = b,
    once = true,
    callback = function()
      vim.schedule(function()
        choose(nil)
      end)
    end,
  })
  return win
end

--- A floating help window listing `keys` ({lhs, what} pairs); `q`/`<Esc>`/`?` close it.
---@param title string
---@param keys {[1]: string, [2]: string}[]
function M.help(title, keys)
  local lines = {}
  local width = #title
  for _, k in ipairs(keys) do
    local line = ("  %-10s %s"):format(k[1], k[2])
    lines[#lines + 1] = line
    width = math.max(width, vim.fn.strdisplaywidth(line))
  end
  local b = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(b, 0, -1, false, lines)
  vim.bo[b].modifiable = false
  vim.bo[b].bufhidden = "wipe"
  local win = vim.api.nvim_open_win(b, true, {
    relative = "editor",
    row = math.max(0, math.floor((vim.o.lines - #lines) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    width = width + 2,
    height = #lines,
    style = "minimal",
    border = "rounded",
    title = " " .. title .. " ",
    title_pos = "center",
  })
  for _, lhs in ipairs({ "q", "<Esc>", "?" }) do
    vim.keymap.set("n", lhs, function()
      pcall(vim.api.nvim_win_close, win, true)
    end, { buffer = b, nowait = true, silent = true })
  end
  return win
end

--- Map `?` in buffer `b` to a help window for `keys`.
---@param b integer
---@param title string
---@param keys {[1]: string, [2]: string}[]|fun(): {[1]: string, [2]: string}[]
function M.map_help(b, title, keys)
  vim.keymap.set("n", "?", function()
    M.help(title, type(keys) == "function" and keys() or keys)
  end, { buffer = b, nowait = true, silent = true, desc = "MiniCode: help" })
end

return M
