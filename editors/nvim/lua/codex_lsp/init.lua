-- codex_lsp: Neovim integration for the codex-lsp language server.
--
-- Neovim 0.11+: vim.lsp.enable("codex_lsp") (lsp/codex_lsp.lua) starts it; setup() is
-- optional and only passes options through vim.lsp.config. Neovim 0.7-0.10: setup()
-- starts it (lua/codex_lsp/legacy.lua).
--
--   require("codex_lsp").setup({
--     cmd = { "codex-lsp" },          -- the server command
--     filetypes = "*",                -- "*" (every file buffer) or a list of filetypes
--     settings = { model = "..." },   -- codex-lsp settings (docs/protocol.md)
--     root_markers = { ".git" },      -- the workspace root is the nearest dir holding one of these
--   })
--
-- The user commands (:CodexAsk, :CodexExplain, :CodexReset, :CodexChain, :CodexCancel) are
-- defined by plugin/codex_lsp.lua. Nothing here writes to stdout.

local M = {}

--- The one client name, whichever way the client was started.
M.NAME = "codex_lsp"

local defaults = {
  name = M.NAME,
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

local handlers = require("codex_lsp.handlers")
local notify = handlers.notify

local function has(feature)
  return vim.fn.has(feature) == 1
end

--- The nearest ancestor of `path` (a file) holding one of `markers`, else the file's directory.
function M.find_root(path, markers)
  local dir = vim.fn.fnamemodify(path, ":h")
  if vim.fs and vim.fs.root then -- 0.10+
    return vim.fs.root(path, markers or {}) or dir
  end
  local cur = dir
  while cur and cur ~= "" do
    for _, m in ipairs(markers or {}) do
      if (vim.uv or vim.loop).fs_stat(cur .. "/" .. m) then
        return cur
      end
    end
    local parent = vim.fn.fnamemodify(cur, ":h")
    if parent == cur then
      break
    end
    cur = parent
  end
  return dir
end

--- codex-lsp clients attached to `bufnr` (all of them when `bufnr` is false).
function M.get_clients(bufnr)
  local filter = { name = M.NAME }
  if bufnr ~= false then
    filter.bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  end
  if vim.lsp.get_clients then -- 0.10+
    return vim.lsp.get_clients(filter)
  elseif has("nvim-0.8") then
    return vim.lsp.get_active_clients(filter)
  end
  local list = {}
  local all = filter.bufnr and vim.lsp.buf_get_clients(filter.bufnr) or vim.lsp.get_active_clients()
  for _, c in pairs(all) do
    if c.name == M.NAME then
      table.insert(list, c)
    end
  end
  return list
end

--- The codex-lsp client attached to `bufnr` (any Neovim version).
function M.get_client(bufnr)
  return M.get_clients(bufnr)[1]
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

local next_token = 0

--- Sends `workspace/executeCommand` `command` with one argument object to the
--- buffer's codex-lsp client; calls `on_result(err, result, client)`. Failures are
--- not echoed: the server shows them (see codex_lsp.handlers).
function M.execute(bufnr, command, args, on_result)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local client = M.get_client(bufnr)
  if not client then
    notify("codex-lsp is not attached to this buffer", vim.log.levels.ERROR)
    return false
  end
  -- our own work-done token: its progress says when the server cancelled this request
  next_token = next_token + 1
  local token = "codex-nvim/" .. next_token
  local params = { command = command, arguments = { args }, workDoneToken = token }
  local done, id = false, nil
  local function finish(err, result, ctx)
    if done then
      return
    end
    done = true
    if id then
      handlers.untrack(client.id, id)
    end
    handlers.command_done(err, result, ctx or { params = params })
    if on_result then
      on_result(err, result, client)
    end
  end
  local ok
  ok, id = handlers.call(client, "request", "workspace/executeCommand", params, finish, bufnr)
  if ok and id and not done then
    -- Neovim drops the answer to a cancelled request: the cancel (or the progress's
    -- "cancelled" end) finishes it
    handlers.track(client.id, id, finish, token)
  end
  return ok
end

--- :CodexAsk {instruction}
function M.ask(bufnr, range, instruction, on_done)
  local args = { uri = vim.uri_from_bufnr(bufnr), range = range, instruction = instruction }
  return M.execute(bufnr, "codex.ask", args, on_done)
end

--- :CodexExplain: the answer in a float (or split), once.
function M.explain(bufnr, range, on_done)
  local args = { uri = vim.uri_from_bufnr(bufnr), range = range }
  return M.execute(bufnr, "codex.explain", args, on_done)
end

--- :CodexReset
function M.reset(bufnr, on_done)
  return M.execute(bufnr, "codex.resetChain", { uri = vim.uri_from_bufnr(bufnr) }, function(err, result)
    if not err then
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
      -- reported by command_done
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

--- :CodexCancel: cancels the running Codex requests of the buffer's client (of every
--- codex-lsp client when none is attached). Each running request reports a cancellable
--- `$/progress`: the cancel goes to its token (`window/workDoneProgress/cancel`); the
--- server ends the progress with "cancelled" and answers the request with a
--- RequestCancelled error, which Neovim drops, so the progress's end finishes the command
--- (handlers.progress; "cancelled" is said once). Requests whose progress has not begun
--- yet (or a client without progress) get `$/cancelRequest`.
--- Returns how many were cancelled.
function M.cancel(bufnr)
  local clients = M.get_clients(bufnr)
  if #clients == 0 then
    clients = M.get_clients(false)
  end
  local n = 0
  for _, client in ipairs(clients) do
    local tokens = handlers.cancellable(client.id)
    for _, token in ipairs(tokens) do
      handlers.cancelling(client.id, token)
      handlers.call(client, "notify", "window/workDoneProgress/cancel", { token = token })
      n = n + 1
    end
    if #tokens == 0 then
      for _, id in ipairs(handlers.pending_commands(client)) do
        handlers.call(client, "cancel_request", id)
        handlers.cancelled(client.id, id)
        n = n + 1
      end
    end
  end
  if n == 0 then
    notify("no Codex request is running")
  end
  return n
end

--- Runs `fn(bufnr, range)` for a user command on the current buffer.
function M.with_range(opts, fn)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.get_client(bufnr)
  if not client then
    notify("codex-lsp is not attached to this buffer", vim.log.levels.ERROR)
    return
  end
  fn(bufnr, M.command_range(bufnr, opts, client.offset_encoding or "utf-16"))
end

---------------------------------------------------------------------------
-- starting the server
---------------------------------------------------------------------------

--- 0.7-0.10: starts (or reuses) the client for `bufnr`. Returns the client id.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  return require("codex_lsp.legacy").attach(M.config, bufnr)
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  -- lists replace, they do not merge index by index
  for _, k in ipairs({ "cmd", "root_markers", "filetypes" }) do
    if opts and opts[k] then
      M.config[k] = opts[k]
    end
  end
  M.config.name = M.NAME
  if vim.lsp.config and vim.lsp.enable then
    -- 0.11+: the same client vim.lsp.enable("codex_lsp") starts (lsp/codex_lsp.lua)
    local c = vim.tbl_deep_extend("force", {}, M.config.client or {}, {
      cmd = M.config.cmd,
      root_markers = M.config.root_markers,
      init_options = M.config.settings,
      settings = { codex = M.config.settings },
    })
    if type(M.config.filetypes) == "table" then
      c.filetypes = M.config.filetypes
    end
    vim.lsp.config(M.NAME, c)
    vim.lsp.enable(M.NAME)
  else
    require("codex_lsp.legacy").setup(M.config)
  end
end

return M
