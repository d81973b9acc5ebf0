---@mod minicode.transcript The turn's events, rendered: now the chat buffer (|minicode-chat|)
---
--- Kept for compatibility: `require("minicode.transcript")` is `require("minicode.chat")`
--- (`lines()`, `open()`, `on_event()`, `replay()`, `clear()`, `buffer()`).

return require("minicode.chat")
