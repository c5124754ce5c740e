-- codex_lsp.handlers: the client-side handlers codex-lsp's clients use, whichever way
-- they were started (vim.lsp.enable("codex_lsp") with lsp/codex_lsp.lua, setup(), or the
-- 0.7-0.10 module). They keep every message to one display:
--   * failures: the server shows each with window/showMessage and answers the command with
--     an error whose data.kind says what happened; the error is never echoed again (only
--     `cancelled`, which the server does not show, is said here).
--   * explanations: the server shows the text with window/showMessage and (0.8+) a Markdown
--     file with window/showDocument; the text appears once, in a float, without a
--     hit-enter prompt.
-- Nothing here writes to stdout.

local M = {}

M.state = {
  -- Info messages held while a command runs (an explanation's text is one of them)
  held = {},
  -- a showDocument float was shown for the running explanation
  doc_shown = false,
  -- messages displayed (progress `end` echoes give way to them)
  shown_seq = 0,
  -- active progress: progress[client_id][token] = { title, seq, cancellable }
  progress = {},
  -- the last progress line echoed in the command line
  echoed = nil,
  -- the last command outcome: { err, result, command }, and how many there were
  last = nil,
  results = 0,
}

local function config()
  return require("codex_lsp").config
end

function M.notify(msg, level)
  M.state.shown_seq = M.state.shown_seq + 1
  vim.notify("codex: " .. msg, level or vim.log.levels.INFO)
end

-- the plugin's own requests still running: finishers[client_id][request_id] = finish(err, result, ctx)
local finishers = {}
-- the work-done tokens the plugin's own requests carry: own_tokens[client_id][token] = request_id
local own_tokens = {}
-- progress :CodexCancel asked the server to cancel: cancelling[client_id][token] = true
local cancelling = {}

function M.track(client_id, request_id, finish, token)
  finishers[client_id] = finishers[client_id] or {}
  finishers[client_id][request_id] = finish
  if token then
    own_tokens[client_id] = own_tokens[client_id] or {}
    own_tokens[client_id][token] = request_id
  end
end

function M.untrack(client_id, request_id)
  if finishers[client_id] then
    finishers[client_id][request_id] = nil
  end
  for token, id in pairs(own_tokens[client_id] or {}) do
    if id == request_id then
      own_tokens[client_id][token] = nil
    end
  end
end

local function cancelled_error()
  return { code = -32800, message = "cancelled", data = { kind = "cancelled" } }
end

--- Finishes the plugin's own request as cancelled if it is still waiting; true if it was.
local function finish_cancelled(client_id, request_id)
  local f = finishers[client_id] and finishers[client_id][request_id]
  if not f then
    return false
  end
  finishers[client_id][request_id] = nil
  f(cancelled_error(), nil, nil)
  return true
end

--- Neovim drops the server's answer to a request it cancelled (RequestCancelled is
--- muted in its RPC layer), so a cancel finishes the command here, once.
function M.cancelled(client_id, request_id)
  if not finish_cancelled(client_id, request_id) then
    M.command_done(cancelled_error(), nil, nil)
  end
end

--- :CodexCancel sent window/workDoneProgress/cancel for `token`.
function M.cancelling(client_id, token)
  cancelling[client_id] = cancelling[client_id] or {}
  cancelling[client_id][token] = true
end

--- The server ended progress `token` with "cancelled": the request's answer is a
--- RequestCancelled error, which Neovim drops (whoever cancelled it), so the command is
--- finished here: the plugin's own request by its token, another one (a code action's)
--- when :CodexCancel cancelled it.
local function progress_cancelled(client_id, token)
  local id = own_tokens[client_id] and own_tokens[client_id][token]
  if id then
    finish_cancelled(client_id, id)
  elseif cancelling[client_id] and cancelling[client_id][token] then
    M.command_done(cancelled_error(), nil, nil)
  end
end

local function call(client, method, ...)
  if vim.fn.has("nvim-0.11") == 1 then
    return client[method](client, ...)
  end
  return client[method](...)
end
M.call = call

--- Tokens of the client's running progress that the server said it can cancel.
function M.cancellable(client_id)
  local tokens = {}
  for token, entry in pairs(M.state.progress[client_id] or {}) do
    if entry.cancellable then
      table.insert(tokens, token)
    end
  end
  return tokens
end

--- Ids of the client's workspace/executeCommand requests still waiting for an answer.
function M.pending_commands(client)
  local ids = {}
  for id, r in pairs(client and client.requests or {}) do
    if r.type == "pending" and r.method == "workspace/executeCommand" then
      table.insert(ids, id)
    end
  end
  return ids
end

local function display_message(err, result, ctx, cfg)
  M.state.shown_seq = M.state.shown_seq + 1
  local h = vim.lsp.handlers["window/showMessage"]
  if h then
    return h(err, result, ctx, cfg)
  end
end
M.display_message = display_message

function M.show_message(err, result, ctx, cfg)
  -- Info/Log messages arriving while a command runs wait for its answer: the one that is
  -- the explanation's text is shown in the float instead.
  if type(result) == "table" and type(result.type) == "number" and result.type >= 3 then
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    if #M.pending_commands(client) > 0 then
      table.insert(M.state.held, { err = err, result = result, ctx = ctx, cfg = cfg })
      return vim.NIL
    end
  end
  return display_message(err, result, ctx, cfg)
end

--- The kind of a failed command (`data.kind`), or nil when it is not codex-lsp's.
function M.error_kind(err)
  if type(err) ~= "table" then
    return nil
  end
  if type(err.data) == "table" and type(err.data.kind) == "string" then
    return err.data.kind
  end
  if err.code == -32800 then -- RequestCancelled without data
    return "cancelled"
  end
  return nil
end

--- A failed command: the server already showed it (window/showMessage) unless it was
--- cancelled; an error that is not codex-lsp's (no data.kind) is shown here.
function M.report_error(err)
  local kind = M.error_kind(err)
  if kind == "cancelled" then
    M.notify("cancelled")
  elseif kind == nil then
    M.notify(type(err) == "table" and tostring(err.message) or tostring(err), vim.log.levels.ERROR)
  end
end

--- Shows `text` as :CodexExplain does: a float (cursor stays) or a scratch split.
function M.show_text(text)
  local lines = vim.split(text or "", "\n", { plain = true })
  if config().explain == "split" then
    local from = vim.api.nvim_get_current_win()
    vim.cmd("botright new")
    local buf = vim.api.nvim_get_current_buf()
    vim.bo[buf].buftype = "nofile"
    vim.bo[buf].bufhidden = "wipe"
    vim.bo[buf].swapfile = false
    vim.bo[buf].filetype = "markdown"
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    vim.bo[buf].modifiable = false
    if vim.api.nvim_win_is_valid(from) then
      vim.api.nvim_set_current_win(from)
    end
    return buf
  end
  -- focus = false: a second explanation replaces the open float instead of moving the
  -- cursor into it
  local buf, win = vim.lsp.util.open_floating_preview(lines, "markdown", {
    border = "rounded",
    max_width = math.max(40, math.floor(vim.o.columns * 0.8)),
    max_height = math.max(10, math.floor(vim.o.lines * 0.6)),
    focus_id = "codex_explain",
    focus = false,
  })
  M.state.float = win
  return buf, win
end

--- Every codex-lsp command outcome passes here (the plugin's own requests and the
--- code actions' executeCommand): held messages, the explanation, the error.
function M.command_done(err, result, ctx)
  M.state.results = M.state.results + 1
  M.state.last = {
    err = err,
    result = result,
    command = ctx and type(ctx.params) == "table" and ctx.params.command or nil,
  }
  local text = not err and type(result) == "table" and type(result.text) == "string" and result.text or nil
  local held = M.state.held
  M.state.held = {}
  for _, h in ipairs(held) do
    if not (text and h.result.message == text) then
      display_message(h.err, h.result, h.ctx, h.cfg)
    end
  end
  if text then
    require("codex_lsp").last_explanation = text
    if M.state.doc_shown then
      M.state.doc_shown = false
    else
      M.show_text(text)
    end
  end
  if err then
    M.report_error(err)
  end
end

-- workspace/executeCommand sent by the code-action machinery (no handler of its own).
function M.execute_command(err, result, ctx, cfg)
  M.command_done(err, result, ctx)
  if not err then
    local h = vim.lsp.handlers["workspace/executeCommand"]
    if h then
      return h(err, result, ctx, cfg)
    end
  end
end

--- True for files codex-lsp itself writes (explanations under $XDG_CACHE_HOME/codex-lsp).
function M.is_server_output(fname)
  local cache = os.getenv("XDG_CACHE_HOME")
  if not cache or cache == "" then
    cache = (os.getenv("HOME") or "") .. "/.cache"
  end
  local prefix = vim.fn.fnamemodify(cache, ":p"):gsub("/*$", "") .. "/codex-lsp/"
  return fname:sub(1, #prefix) == prefix
end

-- The server shows explanations with window/showDocument of a Markdown file (0.8+
-- advertise support). The stock handler would open it in a window; show it in the float.
function M.show_document(err, params, ctx, cfg)
  local uri = type(params) == "table" and params.uri or nil
  if uri and not params.external and uri:match("^file:") and uri:match("%.md$") then
    local path = vim.uri_to_fname(uri)
    if M.is_server_output(path) then
      local ok, lines = pcall(vim.fn.readfile, path)
      if ok and type(lines) == "table" then
        M.state.doc_shown = true
        require("codex_lsp").last_explanation_file = path
        M.show_text(table.concat(lines, "\n"))
        return { success = true }
      end
    end
  end
  local default = vim.lsp.handlers["window/showDocument"]
  if default then
    return default(err, params, ctx, cfg)
  end
  return { success = false }
end

function M.progress(err, result, ctx, cfg)
  local default = vim.lsp.handlers["$/progress"]
  if default then
    pcall(default, err, result, ctx, cfg)
  end
  if type(result) ~= "table" or type(result.value) ~= "table" then
    return
  end
  local v = result.value
  local tokens = M.state.progress[ctx.client_id] or {}
  M.state.progress[ctx.client_id] = tokens
  local key = result.token
  if v.kind == "begin" then
    tokens[key] = { title = v.title or "codex", seq = M.state.shown_seq, cancellable = v.cancellable == true }
  end
  local entry = tokens[key] or { title = "codex", seq = M.state.shown_seq }
  if v.kind == "report" and v.cancellable ~= nil then
    entry.cancellable = v.cancellable == true
  end
  local msg
  if v.kind == "end" then
    tokens[key] = nil
    msg = entry.title .. ": " .. (v.message or "done")
    if v.message == "cancelled" then
      progress_cancelled(ctx.client_id, key)
    end
    if cancelling[ctx.client_id] then
      cancelling[ctx.client_id][key] = nil
    end
  else
    msg = entry.title
    if v.percentage then
      msg = msg .. string.format(" %d%%", v.percentage)
    end
    if v.message and v.message ~= "" then
      msg = msg .. " " .. v.message
    end
  end
  -- :CodexCancel sends window/workDoneProgress/cancel for this token
  local hint = (v.kind ~= "end" and entry.cancellable) and " (:CodexCancel to cancel)" or ""
  require("codex_lsp").last_progress = msg .. hint
  if not config().progress then
    return
  end
  -- A failure (or an explanation) shown just after the end stays visible rather than
  -- being overwritten by the end of the progress.
  vim.defer_fn(function()
    if v.kind ~= "end" or entry.seq == M.state.shown_seq then
      local line = M.fit_echo("codex: " .. msg, hint)
      M.state.echoed = line
      pcall(vim.api.nvim_echo, { { line } }, false, {})
    end
  end, v.kind == "end" and 150 or 0)
end

--- `text .. suffix`, `text` shortened (with "…") so that the line fits the command
--- line without a hit-enter prompt; the suffix (how to cancel) is kept whole.
function M.fit_echo(text, suffix)
  local width = vim.fn.strdisplaywidth
  local room = (tonumber(vim.v.echospace) or vim.o.columns - 12) - width(suffix)
  if width(text) > room then
    local n = vim.fn.strchars(text)
    while n > 0 and width(vim.fn.strcharpart(text, 0, n) .. "…") > room do
      n = n - 1
    end
    text = vim.fn.strcharpart(text, 0, n) .. "…"
  end
  return text .. suffix
end

--- The handlers table every codex-lsp client gets.
function M.all()
  return {
    ["$/progress"] = M.progress,
    ["window/showDocument"] = M.show_document,
    ["window/showMessage"] = M.show_message,
    ["workspace/executeCommand"] = M.execute_command,
  }
end

return M
