-- codex_lsp: Neovim integration for the codex-lsp language server.
--
--   require("codex_lsp").setup({
--     cmd = { "codex-lsp" },          -- the server command
--     filetypes = "*",                -- "*" (every file buffer) or a list of filetypes
--     settings = { model = "..." },   -- codex-lsp settings (see editors/nvim/README.md)
--     root_markers = { ".git" },      -- the workspace root is the nearest dir holding one of these
--   })
--
-- Works on Neovim 0.7.2 (vim.lsp.start_client + buf_attach_client) and 0.8+ (vim.lsp.start).
-- Nothing here writes to stdout: messages go through vim.notify / nvim_echo.

local M = {}

local NAME = "codex-lsp"

local defaults = {
  name = NAME,
  cmd = { "codex-lsp" },
  filetypes = "*",
  settings = {},
  root_markers = { ".git", ".hg", ".svn", "Cargo.toml", "package.json", "pyproject.toml", "go.mod" },
  -- how :CodexExplain shows its answer: "float" or "split"
  explain = "float",
  -- echo $/progress reports in the command line
  progress = true,
  -- extra fields merged into the client config (on_attach, capabilities, ...)
  client = {},
}

M.config = vim.deepcopy(defaults)

local has = function(feature)
  return vim.fn.has(feature) == 1
end

local function notify(msg, level)
  vim.notify("codex: " .. msg, level or vim.log.levels.INFO)
end

-- 0.7 clients keyed by root directory (0.8+ reuses clients through vim.lsp.start).
local clients_by_root = {}

---------------------------------------------------------------------------
-- helpers
---------------------------------------------------------------------------

local function dirname(path)
  return vim.fn.fnamemodify(path, ":h")
end

local function exists(path)
  return (vim.uv or vim.loop).fs_stat(path) ~= nil
end

--- The nearest ancestor of `path` (a file) holding one of `markers`, else the file's directory.
function M.find_root(path, markers)
  local dir = dirname(path)
  local cur = dir
  while cur and cur ~= "" do
    for _, m in ipairs(markers or {}) do
      if exists(cur .. "/" .. m) then
        return cur
      end
    end
    local parent = dirname(cur)
    if parent == cur then
      break
    end
    cur = parent
  end
  return dir
end

--- codex-lsp clients attached to `bufnr` (any Neovim version).
function M.get_client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local list
  if vim.lsp.get_clients then -- 0.10+
    list = vim.lsp.get_clients({ bufnr = bufnr, name = M.config.name })
  elseif has("nvim-0.8") then
    list = vim.lsp.get_active_clients({ bufnr = bufnr, name = M.config.name })
  else
    list = {}
    for _, c in pairs(vim.lsp.buf_get_clients(bufnr)) do
      if c.name == M.config.name then
        table.insert(list, c)
      end
    end
  end
  return list[1]
end

local function request(client, method, params, handler, bufnr)
  if has("nvim-0.11") then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- Number of `encoding` code units ("utf-8", "utf-16", "utf-32") in the first `col` bytes of `line`.
function M.units(line, col, encoding)
  local s = line:sub(1, col)
  if encoding == "utf-8" then
    return #s
  end
  local n, i = 0, 1
  while i <= #s do
    local b = s:byte(i)
    local len = b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
    if len == 4 and encoding ~= "utf-32" then
      n = n + 2
    else
      n = n + 1
    end
    i = i + len
  end
  return n
end

--- Byte length of the UTF-8 character starting at byte `col` (0-based) of `line`.
local function char_len(line, col)
  local b = line:byte(col + 1)
  if not b then
    return 0
  end
  return b < 0x80 and 1 or b < 0xE0 and 2 or b < 0xF0 and 3 or 4
end

--- The LSP range a user command acts on.
--- `opts` is the user-command table (line1, line2, range). Whole lines
--- {line1-1, 0} .. {line2, 0}, unless the command was given the '<,'> range of a
--- charwise visual selection, then exactly that selection.
function M.command_range(bufnr, opts, encoding)
  encoding = encoding or "utf-16"
  local line1, line2 = opts.line1, opts.line2
  if opts.range and opts.range > 0 and vim.fn.visualmode() == "v" then
    local s = vim.api.nvim_buf_get_mark(bufnr, "<")
    local e = vim.api.nvim_buf_get_mark(bufnr, ">")
    if s[1] == line1 and e[1] == line2 and s[1] > 0 then
      local sline = vim.api.nvim_buf_get_lines(bufnr, s[1] - 1, s[1], false)[1] or ""
      local eline = vim.api.nvim_buf_get_lines(bufnr, e[1] - 1, e[1], false)[1] or ""
      local start = { line = s[1] - 1, character = M.units(sline, s[2], encoding) }
      local finish
      if e[2] >= #eline then
        -- the selection runs to the end of the line, line break included
        finish = { line = e[1], character = 0 }
      else
        finish = { line = e[1] - 1, character = M.units(eline, e[2] + char_len(eline, e[2]), encoding) }
      end
      return { start = start, ["end"] = finish }
    end
  end
  return { start = { line = line1 - 1, character = 0 }, ["end"] = { line = line2, character = 0 } }
end

---------------------------------------------------------------------------
-- executeCommand
---------------------------------------------------------------------------

--- Sends `workspace/executeCommand` `command` with one argument object to the
--- buffer's codex-lsp client; calls `on_result(err, result)`.
function M.execute(bufnr, command, args, on_result)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = M.get_client(bufnr)
  if not client then
    notify("codex-lsp is not attached to this buffer", vim.log.levels.ERROR)
    return false
  end
  local params = { command = command, arguments = { args } }
  request(client, "workspace/executeCommand", params, function(err, result)
    if on_result then
      on_result(err, result, client)
    end
  end, bufnr)
  return true
end

local function err_text(err)
  if type(err) == "table" then
    return err.message or vim.inspect(err)
  end
  return tostring(err)
end

-- Messages the server showed with window/showMessage (it shows every failure that
-- way too): an error response repeating one of them is not notified twice.
local shown = { seq = 0, recent = {} }

local function report_error(err)
  local text = err_text(err)
  if shown.recent[text] then
    return
  end
  notify(text, vim.log.levels.ERROR)
end

--- :CodexAsk {instruction}
function M.ask(bufnr, range, instruction, on_done)
  local args = { uri = vim.uri_from_bufnr(bufnr), range = range, instruction = instruction }
  return M.execute(bufnr, "codex.ask", args, function(err, result)
    if err then
      report_error(err)
    elseif type(result) == "table" and result.applied == false then
      notify(result.message or "the edit was not applied", vim.log.levels.WARN)
    else
      notify("applied" .. (type(result) == "table" and result.message and (": " .. result.message) or ""))
    end
    if on_done then
      on_done(err, result)
    end
  end)
end

local function show_text(text)
  local lines = vim.split(text or "", "\n", { plain = true })
  if M.config.explain == "split" then
    vim.cmd("botright new")
    local buf = vim.api.nvim_get_current_buf()
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].bufhidden = "wipe"
    vim.bo[buf].swapfile = false
    vim.bo[buf].filetype = "markdown"
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    vim.bo[buf].modifiable = false
    return buf
  end
  local buf = vim.lsp.util.open_floating_preview(lines, "markdown", {
    border = "rounded",
    max_width = math.max(40, math.floor(vim.o.columns * 0.8)),
    max_height = math.max(10, math.floor(vim.o.lines * 0.6)),
    focus_id = "codex_explain",
  })
  return buf
end

--- :CodexExplain
function M.explain(bufnr, range, on_done)
  local args = { uri = vim.uri_from_bufnr(bufnr), range = range }
  M._explain_shown = false
  return M.execute(bufnr, "codex.explain", args, function(err, result)
    if err then
      report_error(err)
    elseif type(result) == "table" and result.text then
      M.last_explanation = result.text
      -- where the client supports window/showDocument the server already sent the
      -- answer as a Markdown file, shown by show_document_handler
      if not M._explain_shown then
        show_text(result.text)
      end
    end
    if on_done then
      on_done(err, result)
    end
  end)
end

--- :CodexReset
function M.reset(bufnr, on_done)
  return M.execute(bufnr, "codex.resetChain", { uri = vim.uri_from_bufnr(bufnr) }, function(err, result)
    if err then
      report_error(err)
    else
      notify("conversation chain reset")
    end
    if on_done then
      on_done(err, result)
    end
  end)
end

--- :CodexChain
function M.chain(bufnr, on_done)
  return M.execute(bufnr, "codex.chainInfo", { uri = vim.uri_from_bufnr(bufnr) }, function(err, result)
    if err then
      report_error(err)
    elseif type(result) == "table" and result.responseId then
      notify(string.format("chain %s (%s turns)", result.responseId, tostring(result.turns)))
    else
      notify("no conversation chain for this file")
    end
    if on_done then
      on_done(err, result)
    end
  end)
end

local function show_message_handler(err, result, ctx, config)
  if type(result) == "table" and type(result.message) == "string" then
    shown.seq = shown.seq + 1
    shown.recent[result.message] = true
    vim.defer_fn(function()
      shown.recent[result.message] = nil
    end, 10000)
  end
  local default = vim.lsp.handlers["window/showMessage"]
  if default then
    return default(err, result, ctx, config)
  end
end

-- The server shows explanations with window/showDocument of a Markdown file (0.8+
-- advertise support). The stock handler would replace the current window's buffer;
-- show the answer the same way as :CodexExplain instead, and keep the cursor where it is.
local function show_document_handler(err, params, ctx, config)
  local uri = type(params) == "table" and params.uri or nil
  if uri and not params.external and uri:match("^file:") and uri:match("%.md$") then
    local path = vim.uri_to_fname(uri)
    local ok, lines = pcall(vim.fn.readfile, path)
    if ok and type(lines) == "table" then
      M._explain_shown = true
      M.last_explanation_file = path
      show_text(table.concat(lines, "\n"))
      return { success = true }
    end
  end
  local default = vim.lsp.handlers["window/showDocument"]
  if default then
    return default(err, params, ctx, config)
  end
  return { success = false }
end

--- True for files codex-lsp itself writes (explanations under $XDG_CACHE_HOME/codex-lsp).
local function is_server_output(fname)
  local cache = os.getenv("XDG_CACHE_HOME")
  if not cache or cache == "" then
    cache = (os.getenv("HOME") or "") .. "/.cache"
  end
  local prefix = vim.fn.fnamemodify(cache, ":p"):gsub("/*$", "") .. "/codex-lsp/"
  return fname:sub(1, #prefix) == prefix
end

---------------------------------------------------------------------------
-- progress
---------------------------------------------------------------------------

local function progress_handler(err, result, ctx, config)
  local default = vim.lsp.handlers["$/progress"]
  if default then
    pcall(default, err, result, ctx, config)
  end
  if not M.config.progress or type(result) ~= "table" or type(result.value) ~= "table" then
    return
  end
  local v = result.value
  local state = M._progress_titles or {}
  M._progress_titles = state
  local key = tostring(result.token)
  if v.kind == "begin" then
    state[key] = { title = v.title, seq = shown.seq }
  end
  local title = state[key] and state[key].title or "codex"
  local msg
  if v.kind == "end" then
    local seq = state[key] and state[key].seq
    state[key] = nil
    msg = title .. ": " .. (v.message or "done")
    M.last_progress = msg
    -- A failure (or an explanation) is also shown with window/showMessage, which
    -- arrives just after the end of the progress: then keep that message visible
    -- rather than stacking a second one (and a hit-enter prompt) on top of it.
    vim.defer_fn(function()
      if seq == shown.seq then
        pcall(vim.api.nvim_echo, { { "codex: " .. msg } }, false, {})
      end
    end, 150)
    return
  else
    msg = title
    if v.percentage then
      msg = msg .. string.format(" %d%%", v.percentage)
    end
    if v.message and v.message ~= "" then
      msg = msg .. " " .. v.message
    end
  end
  M.last_progress = msg
  vim.schedule(function()
    pcall(vim.api.nvim_echo, { { "codex: " .. msg } }, false, {})
  end)
end

---------------------------------------------------------------------------
-- starting the server
---------------------------------------------------------------------------

local function client_config(root)
  local cfg = vim.tbl_deep_extend("force", {}, M.config.client or {}, {
    name = M.config.name,
    cmd = M.config.cmd,
    root_dir = root,
    init_options = M.config.settings,
    -- answers the server's workspace/configuration pull of the "codex" section
    settings = { codex = M.config.settings },
  })
  cfg.handlers = vim.tbl_extend("force", {
    ["$/progress"] = progress_handler,
    ["window/showDocument"] = show_document_handler,
    ["window/showMessage"] = show_message_handler,
  }, cfg.handlers or {})
  if not has("nvim-0.8") then
    cfg.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
  end
  return cfg
end

local function filetype_ok(bufnr)
  local fts = M.config.filetypes
  if fts == "*" or fts == nil then
    return true
  end
  local ft = vim.bo[bufnr].filetype
  for _, f in ipairs(fts) do
    if f == ft then
      return true
    end
  end
  return false
end

--- Starts (or reuses) the codex-lsp client for `bufnr` and attaches it. Returns the client id.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local fname = vim.api.nvim_buf_get_name(bufnr)
  if fname == "" or fname:match("^%a[%w+.-]*://") then
    return nil
  end
  if not filetype_ok(bufnr) then
    return nil
  end
  fname = vim.fn.fnamemodify(fname, ":p")
  if is_server_output(fname) then
    return nil
  end
  local existing = M.get_client(bufnr)
  if existing then
    return existing.id
  end
  local root = M.find_root(fname, M.config.root_markers)
  if vim.lsp.start then -- 0.8+: reuses a client with the same name and root_dir
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  local id = clients_by_root[root]
  if not id or not vim.lsp.get_client_by_id(id) then
    id = vim.lsp.start_client(client_config(root))
    if not id then
      notify("could not start " .. table.concat(M.config.cmd, " "), vim.log.levels.ERROR)
      return nil
    end
    clients_by_root[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

local function with_client_range(opts, fn)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.get_client(bufnr)
  if not client then
    notify("codex-lsp is not attached to this buffer", vim.log.levels.ERROR)
    return
  end
  fn(bufnr, M.command_range(bufnr, opts, client.offset_encoding or "utf-16"))
end

local function create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd("CodexAsk", function(opts)
    with_client_range(opts, function(bufnr, range)
      M.ask(bufnr, range, opts.args)
    end)
  end, { nargs = "+", range = true, desc = "codex-lsp: carry out an instruction on the range" })
  cmd("CodexExplain", function(opts)
    with_client_range(opts, function(bufnr, range)
      M.explain(bufnr, range)
    end)
  end, { nargs = 0, range = true, desc = "codex-lsp: explain the range" })
  cmd("CodexReset", function()
    M.reset(0)
  end, { nargs = 0, desc = "codex-lsp: forget this file's conversation chain" })
  cmd("CodexChain", function()
    M.chain(0)
  end, { nargs = 0, desc = "codex-lsp: show this file's conversation chain" })
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  -- lists replace, they do not merge index by index
  if opts and opts.cmd then
    M.config.cmd = opts.cmd
  end
  if opts and opts.root_markers then
    M.config.root_markers = opts.root_markers
  end
  if opts and opts.filetypes then
    M.config.filetypes = opts.filetypes
  end
  create_commands()
  local group = vim.api.nvim_create_augroup("codex_lsp", { clear = true })
  local pattern = "*"
  if type(M.config.filetypes) == "table" then
    pattern = M.config.filetypes
  end
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = pattern,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  if M.config.filetypes == "*" then
    -- buffers without a filetype never fire FileType
    vim.api.nvim_create_autocmd({ "BufReadPost", "BufEnter" }, {
      group = group,
      callback = function(args)
        M.attach(args.buf)
      end,
    })
  end
  -- buffers opened before setup()
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) then
      M.attach(b)
    end
  end
end

return M
