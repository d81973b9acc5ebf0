---@mod minicode.diff Edits that need confirmation, shown as diffs
---
--- Neovim applies annotated workspace edits silently. For this client the plugin replaces
--- the `workspace/applyEdit` handler: an edit whose change annotations say
--- `needsConfirmation` opens a diff view (a tab with the current and the proposed text in
--- `diffthis` windows, or one unified diff buffer) and is applied only when the user accepts
--- (`ga`, or `require("minicode.diff").accept()`); declining (`gr`, `q`, closing the tab,
--- or `require("minicode.diff").reject()`) answers `{ applied = false }`.
--- The same view shows rewind previews (`:MiniCode rewind-preview`).

local edits = require("minicode.edits")

local M = {}

-- the edit helpers, also reachable from here
M.needs_confirmation = edits.needs_confirmation
M.files_from_edit = edits.files_from_edit
M.apply = edits.apply

---@class minicode.DiffOpts
---@field title string
---@field kind "edit"|"rewind"
---@field files minicode.DiffFile[]
---@field on_done fun(accepted: boolean)
---@field info? table extra data (the rewind preview)

---@class minicode.DiffView: minicode.DiffOpts
---@field index integer the file shown
---@field tab integer tabpage handle
---@field bufs integer[] buffers of the file shown
---@field resolved boolean

---@type minicode.DiffView?
local view = nil
---@type minicode.DiffOpts[]
local queue = {}
---@type {uris: table<string, boolean>, expires: integer}[]
local preapproved = {}

local augroup = vim.api.nvim_create_augroup("minicode.diff", { clear = true })
local counter = 0

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

local function set_keys(bufnr)
  local keys = require("minicode.config").options.diff.keys
  local function map(lhs, fn, desc)
    vim.keymap.set("n", lhs, fn, { buffer = bufnr, nowait = true, silent = true, desc = desc })
  end
  map(keys.accept, M.accept, "MiniCode: accept the edit")
  map(keys.reject, M.reject, "MiniCode: reject the edit")
  map("q", M.reject, "MiniCode: reject the edit")
  map(keys.next_file, M.next_file, "MiniCode: next file")
  map(keys.prev_file, M.prev_file, "MiniCode: previous file")
end

local function hint()
  local keys = require("minicode.config").options.diff.keys
  return ("%s accept  %s reject  %s/%s files"):format(keys.accept, keys.reject, keys.next_file, keys.prev_file)
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

--- Draw the file at view.index into the view's tab.
local function render()
  local v = assert(view)
  if not vim.api.nvim_tabpage_is_valid(v.tab) then
    return
  end
  local layout = require("minicode.config").options.diff.layout
  local old = v.bufs
  v.bufs = {}
  local wins = vim.api.nvim_tabpage_list_wins(v.tab)
  local file = v.files[v.index]
  local n = #v.files
  -- what comes first stays visible: the rest (after %<) is cut when the window is narrow
  local function bar(win, text, rest)
    vim.wo[win].winbar = winbar_escape(text) .. "%<" .. winbar_escape(rest or "")
  end
  local all_unknown = file == nil or (file.current == nil and file.proposed == nil)
  if layout == "unified" or all_unknown then
    local lines = { ("# %s"):format(v.title), ("# %s"):format(hint()), "" }
    for _, f in ipairs(v.files) do
      vim.list_extend(lines, unified_lines(f))
      lines[#lines + 1] = ""
    end
    local b = scratch(v.title .. " (diff)", lines, "diff")
    set_keys(b)
    v.bufs = { b }
    for i = #wins, 2, -1 do
      pcall(vim.api.nvim_win_close, wins[i], true)
    end
    vim.api.nvim_win_set_buf(wins[1], b)
    bar(wins[1], ("MiniCode: %s  (%d file%s)"):format(v.title, n, n == 1 and "" or "s"), "  " .. hint())
  else
    if #wins < 2 then
      vim.api.nvim_win_call(wins[1], function()
        vim.cmd("rightbelow vsplit")
      end)
      wins = vim.api.nvim_tabpage_list_wins(v.tab)
    end
    local name = vim.fn.fnamemodify(file.path, ":~:.")
    local ft = vim.filetype.match({ filename = file.path }) or ""
    local left = scratch(name .. " (current)", file.current or {}, ft)
    local right = scratch(name .. " (proposed)", file.proposed or {}, ft)
    set_keys(left)
    set_keys(right)
    v.bufs = { left, right }
    for _, w in ipairs(wins) do
      vim.api.nvim_win_call(w, function()
        vim.cmd("diffoff")
      end)
    end
    vim.api.nvim_win_set_buf(wins[1], left)
    vim.api.nvim_win_set_buf(wins[2], right)
    local status = file.status and ("  [" .. file.status .. "]") or ""
    bar(wins[1], ("current: %s%s"):format(name, file.current == nil and "  (absent)" or ""), "  " .. v.title)
    bar(wins[2], ("proposed: %s%s%s  (%d/%d)"):format(name, file.proposed == nil and "  (deleted)" or "", status, v.index, n),
      "  " .. hint())
    for _, w in ipairs({ wins[1], wins[2] }) do
      vim.api.nvim_win_call(w, function()
        vim.cmd("diffthis")
      end)
    end
    vim.api.nvim_set_current_win(wins[2])
  end
  wipe(old)
end

---@param opts minicode.DiffOpts
local function open(opts)
  view = vim.tbl_extend("force", opts, { index = 1, bufs = {}, resolved = false }) --[[@as minicode.DiffView]]
  vim.cmd("tabnew")
  view.tab = vim.api.nvim_get_current_tabpage()
  local placeholder = vim.api.nvim_get_current_buf()
  vim.bo[placeholder].bufhidden = "wipe"
  local layout = require("minicode.config").options.diff.layout
  if layout == "split" then
    vim.cmd("rightbelow vsplit")
  end
  render()
  vim.api.nvim_exec_autocmds("User", { pattern = "MiniCodeDiffOpen", data = { title = opts.title, kind = opts.kind }, modeline = false })
end

---@param accepted boolean
local function resolve(accepted)
  local v = view
  if not v or v.resolved then
    return
  end
  v.resolved = true
  view = nil
  if vim.api.nvim_tabpage_is_valid(v.tab) then
    if #vim.api.nvim_list_tabpages() > 1 then
      local nr = vim.api.nvim_tabpage_get_number(v.tab)
      pcall(vim.cmd, "tabclose " .. nr)
    else
      pcall(vim.cmd, "diffoff!")
      vim.cmd("enew")
      pcall(vim.cmd, "only")
    end
  end
  wipe(v.bufs)
  local ok, err = pcall(v.on_done, accepted)
  if not ok then
    vim.notify("minicode: " .. tostring(err), vim.log.levels.ERROR)
  end
  if #queue > 0 then
    vim.schedule(function()
      if not view and #queue > 0 then
        open(table.remove(queue, 1))
      end
    end)
  end
end

vim.api.nvim_create_autocmd("TabClosed", {
  group = augroup,
  callback = function()
    -- the closed tabpage is still valid while TabClosed runs
    vim.schedule(function()
      if view and not view.resolved and not vim.api.nvim_tabpage_is_valid(view.tab) then
        resolve(false)
      end
    end)
  end,
})

--- Show a diff view (queued behind the one open now, if any).
---@param opts minicode.DiffOpts
function M.show(opts)
  if view then
    queue[#queue + 1] = opts
  else
    open(opts)
  end
end

--- Accept the edit shown now.
function M.accept()
  resolve(true)
end

--- Decline the edit shown now.
function M.reject()
  resolve(false)
end

function M.next_file()
  if view and #view.files > 1 then
    view.index = view.index % #view.files + 1
    render()
  end
end

function M.prev_file()
  if view and #view.files > 1 then
    view.index = (view.index - 2) % #view.files + 1
    render()
  end
end

--- The view shown now: `{ title, kind, files, index }`, or nil. For tests and statuslines.
---@return {title: string, kind: string, files: minicode.DiffFile[], index: integer, pending: integer}?
function M.current()
  if not view then
    return nil
  end
  return { title = view.title, kind = view.kind, files = view.files, index = view.index, pending = #queue }
end

--- Accept the next applyEdit whose files are all in `uris` without asking again (used after
--- the user accepted a rewind preview, whose apply comes back as a confirmed edit).
---@param uris string[]
function M.preapprove(uris)
  local set = {}
  for _, u in ipairs(uris) do
    set[u] = true
  end
  preapproved[#preapproved + 1] = { uris = set, expires = vim.uv.now() + 30000 }
end

---@param edit lsp.WorkspaceEdit
---@return boolean
local function take_preapproval(edit)
  local uris = edits.uris(edit)
  local now = vim.uv.now()
  for i = #preapproved, 1, -1 do
    local p = preapproved[i]
    if p.expires < now then
      table.remove(preapproved, i)
    else
      local all = #uris > 0
      for _, u in ipairs(uris) do
        all = all and p.uris[u] == true
      end
      if all then
        table.remove(preapproved, i)
        return true
      end
    end
  end
  return false
end

--- The `workspace/applyEdit` handler of the minicode client.
---@param params lsp.ApplyWorkspaceEditParams
---@param ctx lsp.HandlerContext
---@return lsp.ApplyWorkspaceEditResult
function M.handle_apply_edit(_, params, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  local encoding = client and client.offset_encoding or "utf-16"
  local edit = params.edit or {}
  if not edits.needs_confirmation(edit) or take_preapproval(edit) then
    return edits.apply(edit, encoding)
  end
  local title = params.label or edits.label(edit)
  if title == "" then
    title = "MiniCode edit"
  end
  local files = edits.files_from_edit(edit, encoding)
  local co, is_main = coroutine.running()
  if not co or is_main then
    local choice = vim.fn.confirm(("%s: apply changes to %d file(s)?"):format(title, #files), "&Apply\n&Decline", 2)
    if choice == 1 then
      return edits.apply(edit, encoding)
    end
    return { applied = false, failureReason = "declined in Neovim" }
  end
  M.show({
    title = title,
    kind = "edit",
    files = files,
    on_done = function(accepted)
      vim.schedule(function()
        local ok, err = coroutine.resume(co, accepted)
        if not ok then
          vim.notify("minicode: applyEdit: " .. tostring(err), vim.log.levels.ERROR)
        end
      end)
    end,
  })
  local accepted = coroutine.yield()
  if accepted then
    return edits.apply(edit, encoding)
  end
  return { applied = false, failureReason = "declined in Neovim" }
end

--- Show a rewind preview (the result of minicode.rewind.preview) as a diff; `on_accept` runs
--- when the user accepts it.
---@param preview minicode.RewindPreview
---@param on_accept fun(preview: minicode.RewindPreview)
---@param title? string
function M.show_preview(preview, on_accept, title)
  local client = require("minicode.lsp").get_client()
  local encoding = client and client.offset_encoding or "utf-16"
  local files = edits.files_from_edit(preview.edit or {}, encoding)
  local by_uri = {}
  for _, f in ipairs(files) do
    by_uri[f.uri] = f
  end
  for _, pf in ipairs(preview.files or {}) do
    local f = by_uri[pf.uri]
    if f then
      f.status, f.action, f.diff = pf.status, pf.action, pf.diff
    else
      files[#files + 1] = {
        uri = pf.uri,
        path = vim.uri_to_fname(pf.uri),
        status = pf.status,
        action = pf.action,
        diff = pf.diff or "",
      }
    end
  end
  M.show({
    title = title or "Rewind preview",
    kind = "rewind",
    files = files,
    info = preview,
    on_done = function(accepted)
      if accepted then
        on_accept(preview)
      end
    end,
  })
end

return M
