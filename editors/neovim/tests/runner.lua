-- Runs one test file ($MINICODE_TEST); any Lua error (even a syntax error) fails fast instead
-- of leaving Neovim waiting for the outer timeout.
local file = assert(vim.env.MINICODE_TEST, "MINICODE_TEST not set")
local ok, err = xpcall(dofile, debug.traceback, file)
if not ok then
  io.stdout:write("FAIL error in " .. file .. ": " .. tostring(err) .. "\n")
  vim.cmd("cquit! 3")
end
