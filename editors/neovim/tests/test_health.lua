-- :checkhealth minicode reports Neovim, the server executable, readiness and the log path.
local H = dofile(vim.env.MINICODE_TESTS .. "/helpers.lua")
H.watchdog(90000)

local ws = H.workspace({ ["a.py"] = { "x = 1" } }, { permissionMode = "auto" })
-- no setup() call: options from vim.g.minicode, the first :MiniCode command sets up and starts
vim.g.minicode = { cmd = { vim.env.MINICODE_SERVER, "serve" } }
vim.cmd.edit(vim.fn.fnameescape(ws .. "/a.py"))
H.check(#vim.lsp.get_clients({ name = "minicode" }) == 0, "no server before the first :MiniCode")

-- :MiniCode readiness starts the server, asks it and notifies the report
vim.cmd("MiniCode readiness")
H.check(H.wait(40000, function()
  return (H.notes[#H.notes] or ""):find("readiness: ready", 1, true)
end), ":MiniCode readiness (without setup) starts the server and reports ready", H.notes)
local client = H.wait_client(vim.api.nvim_get_current_buf())
if not H.check(client ~= nil, "minicode client initialized and attached to the buffer") then
  return H.finish()
end
H.check(#vim.lsp.get_clients({ name = "minicode" }) == 1, "exactly one client")

vim.cmd("checkhealth minicode")
H.out("") -- ends the "Running healthchecks..." line Neovim prints
local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
H.out("  " .. text:gsub("\n", "\n  "))
H.check(text:find("Neovim 0.1", 1, true), "reports the Neovim version")
H.check(text:find("server executable: ", 1, true), "reports the server executable")
H.check(text:find("readiness: ready", 1, true), "reports readiness ready")
H.check(text:find("lsp.log", 1, true), "reports the log path")
H.check(not text:find("ERROR", 1, true), "no errors")
H.check(text:find("client %d+ running, root " .. vim.pesc(ws)), "reports the client's root", text)
H.check(require("minicode.status").statusline():find("ready", 1, true), "statusline shows readiness")
vim.cmd("close")

-- a folder without a root marker (no git): Neovim gives the client no root and no workspace
-- folder; the server works in its working directory. Not "root (none)"
local saved = { client.root_dir, client.config.root_dir, client.workspace_folders, client.config.workspace_folders }
client.root_dir, client.config.root_dir, client.workspace_folders, client.config.workspace_folders = nil, nil, nil, nil
vim.cmd("checkhealth minicode")
H.out("")
text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
client.root_dir, client.config.root_dir, client.workspace_folders, client.config.workspace_folders = unpack(saved, 1, 4)
H.check(not text:find("root (none)", 1, true) and text:find("no root marker (.minicode.toml, AGENTS.md, .git) found: the server works in the folder", 1, true)
  and text:find("workspace: " .. ws .. " is writable", 1, true), "without a root: says where the server works, not 'root (none)'", text)
vim.cmd("close")

-- :MiniCode log opens the server's own log file (the server was started with --log-file)
local client = require("minicode.lsp").get_client()
H.check(client and vim.tbl_contains(client.config.cmd, "--log-file"), "the server runs with --log-file", client and client.config.cmd)
vim.cmd("MiniCode log")
local logname = vim.api.nvim_buf_get_name(0)
H.check(logname == require("minicode.lsp").log_file() and vim.fn.filereadable(logname) == 1,
  ":MiniCode log opens the server's log file", logname)
vim.cmd("normal q")
H.check(vim.api.nvim_buf_get_name(0) ~= logname, "q closes the log")

H.finish()
