---@mod minicode.edits Workspace edits: what they change, and applying them

local M = {}

---@class minicode.DiffFile
---@field uri string
---@field path string
---@field current? string[] the text now (nil: the file does not exist)
---@field proposed? string[] the text after the edit (nil: the file is deleted)
---@field status? string rewind status (clean/merged/conflict/skipped)
---@field action? string rewind action (restore/delete/recreate)
---@field diff? string a unified diff from the server, shown when the texts are unknown
---@field current_eol? boolean the current text ends with a newline (false: it does not)
---@field proposed_eol? boolean the proposed text ends with a newline
---@field hunks? minicode.Hunk[] the change cut into hunks (per-hunk review)
---@field decisions? table<integer, boolean> per hunk: kept (true), left out (false), open (nil)

---@param path string
---@return integer? bufnr of a loaded buffer for path
local function loaded_buffer(path)
  local bufnr = vim.fn.bufnr(vim.fn.fnameescape(path))
  if bufnr > 0 and vim.api.nvim_buf_is_loaded(bufnr) and vim.api.nvim_buf_get_name(bufnr) == path then
    return bufnr
  end
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and vim.api.nvim_buf_get_name(b) == path then
      return b
    end
  end
  return nil
end

---@param path string
---@return string[]?
local function current_lines(path)
  local bufnr = loaded_buffer(path)
  if bufnr then
    return vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)
  end
  if vim.fn.filereadable(path) == 1 then
    return vim.fn.readfile(path)
  end
  return nil
end

--- Byte index in `line` of LSP character `char` in `encoding` (0.10 and 0.11 signatures).
---@param line string
---@param char integer
---@param encoding string
---@return integer
local function byteindex(line, char, encoding)
  if encoding == "utf-8" then
    return math.min(char, #line)
  end
  local ok, idx
  if vim.fn.has("nvim-0.11") == 1 then
    ok, idx = pcall(vim.str_byteindex, line, encoding, char, false)
  else
    ok, idx = pcall(vim.str_byteindex, line, char, encoding == "utf-16")
  end
  return ok and idx or #line
end

--- Apply LSP text edits to a text (bytes), exactly: no line is added or dropped. Used for
--- files that are not loaded in a buffer (Neovim's buffer of an empty file always holds one
--- empty line, so a whole-text insert there would gain a trailing blank line).
---@param text string
---@param edits lsp.TextEdit[]
---@param encoding string
---@return string
function M.apply_to_text(text, edits, encoding)
  -- byte offset where each line starts
  local starts = { 1 }
  for pos in text:gmatch("()\n") do
    starts[#starts + 1] = pos + 1
  end
  local function offset(p)
    local l = p.line + 1
    if l > #starts then
      return #text + 1
    end
    local line_end = (starts[l + 1] and starts[l + 1] - 1) or (#text + 1) -- position of the "\n" (or end)
    local line = text:sub(starts[l], line_end - 1)
    return starts[l] + byteindex(line, p.character, encoding)
  end
  local list = {}
  for i, e in ipairs(edits) do
    list[#list + 1] = { s = offset(e.range.start), e = offset(e.range["end"]), text = e.newText or "", i = i }
  end
  -- from the end, so earlier offsets stay valid; equal starts keep their order
  table.sort(list, function(a, b)
    if a.s ~= b.s then
      return a.s > b.s
    end
    return a.i > b.i
  end)
  for _, e in ipairs(list) do
    text = text:sub(1, e.s - 1) .. e.text .. text:sub(math.max(e.e, e.s))
  end
  return text
end

--- A text's lines as Neovim shows them (a final newline ends the last line, adds none).
---@param text string
---@return string[]
function M.text_lines(text)
  if text == "" then
    return {}
  end
  local lines = vim.split(text, "\n", { plain = true })
  if lines[#lines] == "" then
    lines[#lines] = nil
  end
  return lines
end

---@param path string
---@return string? bytes, nil when the file does not exist
local function read_bytes(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local data = f:read("*a")
  f:close()
  return data
end

---@param lines string[]
---@param edits lsp.TextEdit[]
---@param encoding string
---@return string[]
local function apply_to_lines(lines, edits, encoding)
  if #edits == 0 then
    return lines
  end
  local scratch = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(scratch, 0, -1, false, lines)
  vim.lsp.util.apply_text_edits(vim.deepcopy(edits), scratch, encoding)
  local out = vim.api.nvim_buf_get_lines(scratch, 0, -1, false)
  vim.api.nvim_buf_delete(scratch, { force = true })
  return out
end

--- Does any change annotation of the edit need confirmation?
---@param edit lsp.WorkspaceEdit
---@return boolean
function M.needs_confirmation(edit)
  for _, ann in pairs(edit.changeAnnotations or {}) do
    if type(ann) == "table" and ann.needsConfirmation == true then
      return true
    end
  end
  return false
end

---@param edit lsp.WorkspaceEdit
---@return string
function M.label(edit)
  local labels = {}
  for _, ann in pairs(edit.changeAnnotations or {}) do
    if type(ann) == "table" and ann.label and not vim.tbl_contains(labels, ann.label) then
      labels[#labels + 1] = ann.label
    end
  end
  table.sort(labels)
  return table.concat(labels, ", ")
end

--- The files an edit touches, with their current and proposed text.
---@param edit lsp.WorkspaceEdit
---@param encoding string
---@return minicode.DiffFile[]
function M.files_from_edit(edit, encoding)
  ---@type table<string, {uri: string, edits: lsp.TextEdit[], op?: string}>
  local by_uri, order = {}, {}
  local function entry(uri)
    if not by_uri[uri] then
      by_uri[uri] = { uri = uri, edits = {} }
      order[#order + 1] = uri
    end
    return by_uri[uri]
  end
  if edit.documentChanges then
    for _, change in ipairs(edit.documentChanges) do
      if change.kind == "create" then
        entry(change.uri).op = "create"
      elseif change.kind == "delete" then
        entry(change.uri).op = "delete"
      elseif change.kind == "rename" then
        entry(change.oldUri).op = "delete"
        entry(change.newUri).op = "create"
      elseif change.textDocument then
        vim.list_extend(entry(change.textDocument.uri).edits, change.edits or {})
      end
    end
  else
    for uri, edits in pairs(edit.changes or {}) do
      vim.list_extend(entry(uri).edits, edits)
    end
  end
  local files = {}
  for _, uri in ipairs(order) do
    local e = by_uri[uri]
    local path = vim.uri_to_fname(uri)
    local current = current_lines(path)
    local proposed
    local current_eol, proposed_eol
    local b = loaded_buffer(path)
    if e.op == "delete" and #e.edits == 0 then
      proposed = nil
    elseif b and e.op ~= "create" then
      proposed = apply_to_lines(vim.deepcopy(current or {}), e.edits, encoding)
      current_eol = vim.bo[b].eol or vim.bo[b].fixeol
      proposed_eol = current_eol
    else
      -- not in a buffer (or created): the exact text, as apply() writes it
      local base = e.op == "create" and "" or (read_bytes(path) or "")
      local text = M.apply_to_text(base, e.edits, encoding)
      proposed = M.text_lines(text)
      current_eol = base == "" or base:sub(-1) == "\n"
      proposed_eol = text == "" or text:sub(-1) == "\n"
    end
    files[#files + 1] = {
      uri = uri, path = path, current = current, proposed = proposed, current_eol = current_eol, proposed_eol = proposed_eol,
    }
  end
  return files
end

--- The files of a rewind preview (`minicode.rewind.preview`) as the diff view shows them: each
--- file's text now (its buffer, else the disk) and after the rewind (its `newText`, the one copy
--- the preview carries; none when the rewind deletes the file). Files left out (a conflict) or
--- not text keep their status and diff only.
---@param preview minicode.RewindPreview
---@return table[]
function M.files_from_preview(preview)
  local files = {}
  for _, pf in ipairs(preview.files or {}) do
    local path = vim.uri_to_fname(pf.uri)
    local f = { uri = pf.uri, path = path, status = pf.status, action = pf.action, diff = pf.diff or "" }
    local text = pf.newText
    local is_text = type(text) == "string" and not text:find("\0", 1, true)
    if pf.willApply ~= false and (pf.action == "delete" or is_text) then
      f.current = current_lines(path)
      local b = loaded_buffer(path)
      if b then
        f.current_eol = vim.bo[b].eol or vim.bo[b].fixeol
      else
        local base = read_bytes(path) or ""
        f.current_eol = base == "" or base:sub(-1) == "\n"
      end
      if pf.action ~= "delete" then
        f.proposed = M.text_lines(text)
        f.proposed_eol = text == "" or text:sub(-1) == "\n"
      end
    end
    files[#files + 1] = f
  end
  return files
end

--- The uris an edit touches.
---@param edit lsp.WorkspaceEdit
---@return string[]
function M.uris(edit)
  local uris = {}
  for _, c in ipairs(edit.documentChanges or {}) do
    uris[#uris + 1] = c.textDocument and c.textDocument.uri or c.uri or c.oldUri
    if c.newUri then
      uris[#uris + 1] = c.newUri
    end
  end
  for u in pairs(edit.changes or {}) do
    uris[#uris + 1] = u
  end
  return uris
end

--- Set a buffer's lines to `lines`, changing only the lines that differ (one undo step;
--- marks and folds elsewhere stay).
---@param b integer
---@param lines string[]
local function set_lines_minimal(b, lines)
  local now = vim.api.nvim_buf_get_lines(b, 0, -1, false)
  local list = require("minicode.hunks").of(now, lines)
  for i = #list, 1, -1 do
    local h = list[i]
    vim.api.nvim_buf_set_lines(b, h.a - 1, h.a - 1 + h.na, false, vim.list_slice(lines, h.b, h.b + h.nb - 1))
  end
end

--- Apply a workspace edit; files that were not loaded before are written to disk afterwards.
--- `partial` (a per-hunk review): for each uri, the lines the user kept, set instead of the edit.
---@param edit lsp.WorkspaceEdit
---@param encoding string
---@param partial? table<string, {lines: string[], text: string}>
---@return lsp.ApplyWorkspaceEditResult
function M.apply(edit, encoding, partial)
  -- a versioned edit to a buffer changed since is stale: Neovim would skip it silently and
  -- the server would hear "applied"; say so instead
  for _, change in ipairs(edit.documentChanges or {}) do
    local doc = change.textDocument
    -- (version 0 is the version of a buffer just opened: a real version, checked too)
    if doc and type(doc.version) == "number" and doc.version >= 0 then
      local b = loaded_buffer(vim.uri_to_fname(doc.uri))
      local current = b and vim.lsp.util.buf_versions[b]
      if type(current) == "number" and current > doc.version then
        return { applied = false, failureReason = ("%s changed since the edit was made (version %d > %d)"):format(doc.uri, current, doc.version) }
      end
    end
  end
  -- Loaded buffers get the edit through Neovim (undo, marks, didChange); a clean one is
  -- written afterwards so the agent's next command (its tests) reads the disk, and nothing of
  -- the user's is saved. A file not loaded in a buffer is not touched here: the server sends
  -- it only for confirmation and writes it on disk itself, byte for byte, once accepted.
  local changes = edit.documentChanges
  if not changes then
    changes = {}
    for uri, list in pairs(edit.changes or {}) do
      changes[#changes + 1] = { textDocument = { uri = uri }, edits = list }
    end
  end
  local to_write = {}
  for _, change in ipairs(changes) do
    local ok, err = pcall(function()
      if change.kind == "create" then
        return -- the server creates it (a loaded buffer of that name gets the text below)
      elseif change.kind == "rename" or change.kind == "delete" then
        local uri = change.kind == "rename" and change.oldUri or change.uri
        if loaded_buffer(vim.uri_to_fname(uri)) then
          vim.lsp.util.apply_workspace_edit({ documentChanges = { change } }, encoding)
        end
      elseif change.textDocument then
        local path = vim.uri_to_fname(change.textDocument.uri)
        local b = loaded_buffer(path)
        if not b then
          return
        end
        if not vim.bo[b].modified then
          to_write[b] = true
        end
        local lines = vim.api.nvim_buf_get_lines(b, 0, -1, false)
        local kept = partial and partial[change.textDocument.uri]
        if kept then
          set_lines_minimal(b, kept.lines)
        elseif #lines == 1 and lines[1] == "" then
          -- an empty buffer: set the exact text (an insert would keep Neovim's empty line)
          local text = M.apply_to_text("", change.edits or {}, encoding)
          vim.api.nvim_buf_set_lines(b, 0, -1, false, M.text_lines(text))
          if text ~= "" and text:sub(-1) ~= "\n" then
            vim.bo[b].eol = false
            vim.bo[b].fixeol = false
          end
        else
          vim.lsp.util.apply_text_edits(change.edits or {}, b, encoding)
        end
      end
    end)
    if not ok then
      return { applied = false, failureReason = tostring(err) }
    end
  end
  for b in pairs(to_write) do
    if vim.api.nvim_buf_is_loaded(b) and vim.bo[b].modified then
      vim.api.nvim_buf_call(b, function()
        vim.cmd("silent noautocmd write")
      end)
    end
  end
  return { applied = true }
end

return M
