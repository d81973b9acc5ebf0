---@mod minicode.state What the plugin remembers between commands (per Neovim instance)

---@class minicode.State
---@field running table<string, string> sessionId -> turnId of turns running now
---@field finished table<string, boolean> turnIds whose turn.finished arrived
---@field last_session? string the session of the latest turn seen
---@field readiness? minicode.ReadinessReport the latest readiness report
local M = {
  running = {},
  titles = {},
  finished = {},
  last_session = nil,
  readiness = nil,
}

return M
