-- codex-lsp: the user commands. Starting the server is vim.lsp.enable("codex_lsp") on
-- Neovim 0.11+ (lsp/codex_lsp.lua) or require("codex_lsp").setup({...}) on any version.
if vim.g.loaded_codex_lsp then
  return
end
vim.g.loaded_codex_lsp = true

local cmd = vim.api.nvim_create_user_command
local function codex()
  return require("codex_lsp")
end

cmd("CodexAsk", function(opts)
  codex().with_range(opts, function(bufnr, range)
    codex().ask(bufnr, range, opts.args)
  end)
end, { nargs = "+", range = true, desc = "codex-lsp: carry out an instruction on the range" })

cmd("CodexExplain", function(opts)
  codex().with_range(opts, function(bufnr, range)
    codex().explain(bufnr, range)
  end)
end, { nargs = 0, range = true, desc = "codex-lsp: explain the range" })

cmd("CodexReset", function()
  codex().reset(0)
end, { nargs = 0, desc = "codex-lsp: forget this file's conversation chain" })

cmd("CodexChain", function()
  codex().chain(0)
end, { nargs = 0, desc = "codex-lsp: show this file's conversation chain" })

cmd("CodexCancel", function()
  codex().cancel(0)
end, { nargs = 0, desc = "codex-lsp: cancel the running Codex request" })
