-- Neovim 0.11+ reads this file for vim.lsp.config("minicode"), so `vim.lsp.enable("minicode")`
-- works even without require("minicode").setup(); setup() overrides it with your options.
return require("minicode.lsp").client_config()
