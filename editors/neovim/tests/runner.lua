-- Runs one test file ($MINICODE_TEST); any Lua error (even a syntax error) fails fast instead
-- of leaving Neovim waiting for the outer timeout.
local file = assert(vim.env.MINICODE_TEST, "MINICODE_TEST not set")
local ok, err = xpcall(dofile, debug.traceback, file)
if not ok then
  io.stdout:write("\nFAIL error in " .. file .. ": " .. tostring(err) .. "\n")
  local results = vim.env.MINICODE_TEST_DIR .. "/results"
  local f = io.open(results, "a")
  if f then
    f:write("FAIL error in " .. file .. "\n")
    f:close()
  end
  vim.cmd("cquit! 3")
end
