---@mod minicode.hunks The hunks of a proposed change, and the text a per-hunk review keeps
---
--- A file's change (current lines -> proposed lines) is cut into hunks (`vim.text.diff`
--- indices). Each hunk is accepted (`true`), rejected (`false`) or undecided (`nil`, kept
--- when the review is accepted). `compose` gives the text that lands: the current lines with
--- every hunk that is not rejected.

local M = {}

---@class minicode.Hunk
---@field a integer first line of the hunk in the current text (1-based)
---@field na integer its number of current lines (0: the hunk only adds)
---@field b integer first line in the proposed text
---@field nb integer its number of proposed lines (0: the hunk only deletes)

local function text_diff(a, b, opts)
  local fn = (vim.text and vim.text.diff) or vim.diff
  return fn(a, b, opts)
end

---@param lines string[]
---@return string
local function joined(lines)
  return #lines == 0 and "" or (table.concat(lines, "\n") .. "\n")
end

--- The hunks from `current` to `proposed` (both line lists; nil: absent).
---@param current? string[]
---@param proposed? string[]
---@return minicode.Hunk[]
function M.of(current, proposed)
  local idx = text_diff(joined(current or {}), joined(proposed or {}), { result_type = "indices", algorithm = "histogram" }) --[[@as integer[][] ]]
  local out = {}
  for _, h in ipairs(idx or {}) do
    local sa, ca, sb, cb = h[1], h[2], h[3], h[4]
    -- with a count of 0 the start is the line before the hunk
    out[#out + 1] = { a = ca == 0 and sa + 1 or sa, na = ca, b = cb == 0 and sb + 1 or sb, nb = cb }
  end
  return out
end

--- The lines that land: `current` with every hunk not rejected, and where each hunk sits in
--- them (`ranges[i] = {first, last}`; last < first for a hunk that is empty there).
---@param current string[]
---@param proposed string[]
---@param hunks minicode.Hunk[]
---@param decisions table<integer, boolean>
---@return string[] lines
---@return {[1]: integer, [2]: integer}[] ranges
function M.compose(current, proposed, hunks, decisions)
  local out, ranges = {}, {}
  local pos = 1
  for i, h in ipairs(hunks) do
    for l = pos, h.a - 1 do
      out[#out + 1] = current[l]
    end
    local first = #out + 1
    if decisions[i] == false then
      for l = h.a, h.a + h.na - 1 do
        out[#out + 1] = current[l]
      end
    else
      for l = h.b, h.b + h.nb - 1 do
        out[#out + 1] = proposed[l]
      end
    end
    ranges[i] = { first, #out }
    pos = h.a + h.na
  end
  for l = pos, #current do
    out[#out + 1] = current[l]
  end
  return out, ranges
end

--- The hunk at `line` of a side whose hunk ranges are `ranges`: the one holding the line, else
--- the first one after it, else the last one.
---@param ranges {[1]: integer, [2]: integer}[]
---@param line integer
---@return integer? index
function M.at(ranges, line)
  for i, r in ipairs(ranges) do
    local last = math.max(r[1], r[2])
    if line <= last then
      return i
    end
  end
  return #ranges > 0 and #ranges or nil
end

--- Does any decision reject a hunk?
---@param decisions table<integer, boolean>
---@return boolean
function M.any_rejected(decisions)
  for _, d in pairs(decisions) do
    if d == false then
      return true
    end
  end
  return false
end

return M
