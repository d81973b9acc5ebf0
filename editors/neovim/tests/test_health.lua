-- :checkhealth minicode reports Neovim, the server executable, readiness and the log path.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(90000)

local ws = H.workspace({ ["a.py"] = { "x = 1" } }, { permissionMode = "auto" })
H.setup()
vim.cmd.edit(vim.fn.fnameescape(ws .. "/a.py"))
local client = H.wait_client(vim.api.nvim_get_current_buf())
if not H.check(client ~= nil, "minicode client initialized and attached") then
  return H.finish()
end
H.wait(10000, function() return require("minicode.status").readiness() ~= nil end)

vim.cmd("checkhealth minicode")
local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
H.out("  " .. text:gsub("\n", "\n  "))
H.check(text:find("Neovim 0.1", 1, true), "reports the Neovim version")
H.check(text:find("server executable: ", 1, true), "reports the server executable")
H.check(text:find("readiness: ready", 1, true), "reports readiness ready")
H.check(text:find("lsp.log", 1, true), "reports the log path")
H.check(not text:find("ERROR", 1, true), "no errors")

-- :MiniCode readiness asks the server again and notifies the report
local before = #H.notes
vim.cmd("MiniCode readiness")
H.check(H.wait(10000, function() return #H.notes > before end), ":MiniCode readiness shows a report")
H.check((H.notes[#H.notes] or ""):find("readiness: ready", 1, true), "the report says ready", H.notes[#H.notes])

H.finish()
