-- MiniCode: the :MiniCode command. Nothing else runs at startup; modules load on first use.
if vim.g.loaded_minicode then
  return
end
vim.g.loaded_minicode = true

vim.api.nvim_create_user_command("MiniCode", function(opts)
  require("minicode.commands").dispatch(opts)
end, {
  nargs = "*",
  range = true,
  bang = true,
  desc = "MiniCode: run, chat, review, cancel, sessions, resume, replay, checkpoints, rewind-preview, rewind, rewind-undo, readiness, export, log",
  complete = function(arglead, cmdline, _)
    return require("minicode.commands").complete(arglead, cmdline)
  end,
})
