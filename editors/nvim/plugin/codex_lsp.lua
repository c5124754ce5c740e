-- codex-lsp: nothing starts until require("codex_lsp").setup({...}) is called.
if vim.g.loaded_codex_lsp then
  return
end
vim.g.loaded_codex_lsp = true
