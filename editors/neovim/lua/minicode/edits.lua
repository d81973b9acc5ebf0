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
    if e.op == "delete" and #e.edits == 0 then
      proposed = nil
    else
      local base = (e.op == "create" or current == nil) and {} or current
      proposed = apply_to_lines(vim.deepcopy(base), e.edits, encoding)
    end
    files[#files + 1] = { uri = uri, path = path, current = current, proposed = proposed }
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

--- Apply a workspace edit; files that were not loaded before are written to disk afterwards.
---@param edit lsp.WorkspaceEdit
---@param encoding string
---@return lsp.ApplyWorkspaceEditResult
function M.apply(edit, encoding)
  -- a versioned edit to a buffer changed since is stale: Neovim would skip it silently and
  -- the server would hear "applied"; say so instead
  for _, change in ipairs(edit.documentChanges or {}) do
    local doc = change.textDocument
    if doc and type(doc.version) == "number" and doc.version > 0 then
      local b = loaded_buffer(vim.uri_to_fname(doc.uri))
      local current = b and vim.lsp.util.buf_versions[b]
      if type(current) == "number" and current > doc.version then
        return { applied = false, failureReason = ("%s changed since the edit was made (version %d > %d)"):format(doc.uri, current, doc.version) }
      end
    end
  end
  -- files not loaded, and loaded buffers with no unsaved changes, are written after the edit:
  -- the agent's next command (its tests) reads the disk, and nothing of the user's is saved
  local to_write = {}
  for _, f in ipairs(M.files_from_edit(edit, encoding)) do
    local b = loaded_buffer(f.path)
    if not b or not vim.bo[b].modified then
      to_write[#to_write + 1] = f.path
    end
  end
  local ok, err = pcall(vim.lsp.util.apply_workspace_edit, edit, encoding)
  if not ok then
    return { applied = false, failureReason = tostring(err) }
  end
  for _, path in ipairs(to_write) do
    local b = loaded_buffer(path)
    if b and vim.bo[b].modified then
      vim.api.nvim_buf_call(b, function()
        vim.cmd("silent noautocmd write")
      end)
    end
  end
  return { applied = true }
end

return M
