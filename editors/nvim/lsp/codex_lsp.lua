-- codex-lsp for Neovim 0.11+: with editors/nvim on 'runtimepath',
--   vim.lsp.enable("codex_lsp")
-- starts it, no plugin call needed. Override anything with vim.lsp.config("codex_lsp", {...}),
-- e.g. init_options = { model = "..." }, settings = { codex = { model = "..." } }.
-- No `filetypes`: every normal file buffer with a filetype. The root is the nearest directory
-- holding one of `root_markers`, else the file's own directory.
local handlers = require("codex_lsp.handlers")

return {
  cmd = { "codex-lsp" },
  root_markers = { ".git" },
  -- the root from `root_markers` (vim.fs.root), else the file's directory; never for
  -- non-file buffers or the explanations codex-lsp itself writes
  root_dir = function(bufnr, on_dir)
    local fname = vim.api.nvim_buf_get_name(bufnr)
    if fname == "" or fname:match("^%a[%w+.-]*://") or handlers.is_server_output(fname) then
      return
    end
    local cfg = vim.lsp.config.codex_lsp or {}
    on_dir(vim.fs.root(bufnr, cfg.root_markers or { ".git" }) or vim.fs.dirname(fname))
  end,
  init_options = {},
  settings = { codex = {} },
  handlers = handlers.all(),
}
