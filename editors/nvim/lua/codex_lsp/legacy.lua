-- codex_lsp.legacy: starting codex-lsp on Neovim 0.7-0.10, which have no vim.lsp.enable.
-- 0.8-0.10 use vim.lsp.start (it reuses the client of the same name and root); 0.7 uses
-- vim.lsp.start_client + buf_attach_client, one client per root.

local M = {}

local handlers = require("codex_lsp.handlers")

local clients_by_root = {}

local function filetype_ok(cfg, bufnr)
  local fts = cfg.filetypes
  if fts == "*" or fts == nil then
    return true
  end
  return vim.tbl_contains(fts, vim.bo[bufnr].filetype)
end

local function client_config(cfg, root)
  local c = vim.tbl_deep_extend("force", {}, cfg.client or {}, {
    name = cfg.name,
    cmd = cfg.cmd,
    root_dir = root,
    init_options = cfg.settings,
    -- answers the server's workspace/configuration pull of the "codex" section
    settings = { codex = cfg.settings },
  })
  c.handlers = vim.tbl_extend("force", handlers.all(), c.handlers or {})
  if vim.fn.has("nvim-0.8") == 0 then
    c.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
  end
  return c
end

--- Starts (or reuses) the client for `bufnr` and attaches it. Returns the client id.
function M.attach(cfg, bufnr)
  local codex = require("codex_lsp")
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local fname = vim.api.nvim_buf_get_name(bufnr)
  if fname == "" or fname:match("^%a[%w+.-]*://") or not filetype_ok(cfg, bufnr) then
    return nil
  end
  fname = vim.fn.fnamemodify(fname, ":p")
  if handlers.is_server_output(fname) then
    return nil
  end
  local existing = codex.get_client(bufnr)
  if existing then
    return existing.id
  end
  local root = codex.find_root(fname, cfg.root_markers)
  if vim.lsp.start then
    return vim.lsp.start(client_config(cfg, root), { bufnr = bufnr })
  end
  local id = clients_by_root[root]
  if not id or not vim.lsp.get_client_by_id(id) then
    id = vim.lsp.start_client(client_config(cfg, root))
    if not id then
      handlers.notify("could not start " .. table.concat(cfg.cmd, " "), vim.log.levels.ERROR)
      return nil
    end
    clients_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

function M.setup(cfg)
  local group = vim.api.nvim_create_augroup("codex_lsp", { clear = true })
  local pattern = type(cfg.filetypes) == "table" and cfg.filetypes or "*"
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = pattern,
    callback = function(args)
      M.attach(cfg, args.buf)
    end,
  })
  if cfg.filetypes == "*" then
    -- buffers without a filetype never fire FileType
    vim.api.nvim_create_autocmd({ "BufReadPost", "BufEnter" }, {
      group = group,
      callback = function(args)
        M.attach(cfg, args.buf)
      end,
    })
  end
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) then
      M.attach(cfg, b)
    end
  end
end

return M
