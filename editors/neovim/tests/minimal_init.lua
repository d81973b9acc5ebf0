-- Minimal init for the headless tests: only this plugin on the runtimepath.
local plugin = assert(vim.env.MINICODE_PLUGIN, "MINICODE_PLUGIN not set")
vim.opt.runtimepath:prepend(plugin)
vim.opt.swapfile = false
vim.opt.shortmess:append("I")
vim.o.more = false
vim.cmd("runtime plugin/minicode.lua")
