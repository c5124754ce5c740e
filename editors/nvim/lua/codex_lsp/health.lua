-- :checkhealth codex_lsp
-- The binary and its version, the API key variable (never its value), the base URL,
-- a `codex-lsp doctor` run, the attached buffers, and the current file's chain.

local M = {}

local h = vim.health or require("health")
local start = h.start or h.report_start
local ok = h.ok or h.report_ok
local warn = h.warn or h.report_warn
local error = h.error or h.report_error
local info = h.info or h.report_info

--- Runs `argv` with `env` added; returns exit code (or nil on timeout) and output lines.
local function run(argv, env, timeout_ms)
  local out = {}
  local collect = function(_, data)
    for _, l in ipairs(data or {}) do
      if l ~= "" then
        table.insert(out, l)
      end
    end
  end
  local opts = { stdout_buffered = true, stderr_buffered = true, on_stdout = collect, on_stderr = collect }
  if env and next(env) then
    opts.env = env
  end
  local ok_start, job = pcall(vim.fn.jobstart, argv, opts)
  if not ok_start or job <= 0 then
    return -1, { "cannot run " .. argv[1] }
  end
  local code = vim.fn.jobwait({ job }, timeout_ms)[1]
  if code == -1 then
    vim.fn.jobstop(job)
    return nil, out
  end
  return code, out
end

local function client_env(client)
  return client and client.config and client.config.cmd_env or {}
end

local function env_value(client, name)
  local v = client_env(client)[name]
  if v == nil then
    v = os.getenv(name)
  end
  if type(v) == "string" and v:match("%S") then
    return v
  end
  return nil
end

--- The file buffer :checkhealth was run from (it opens its own buffer, in a new tab).
local function user_buffer()
  local candidates = { vim.api.nvim_get_current_buf() }
  local tab = vim.fn.tabpagenr("#")
  if tab > 0 then
    local tabs = vim.api.nvim_list_tabpages()
    if tabs[tab] then
      table.insert(candidates, vim.api.nvim_win_get_buf(vim.api.nvim_tabpage_get_win(tabs[tab])))
    end
  end
  table.insert(candidates, vim.fn.bufnr("#"))
  for _, b in ipairs(candidates) do
    if b > 0 and vim.api.nvim_buf_is_valid(b) and vim.bo[b].buftype == "" and vim.api.nvim_buf_get_name(b) ~= "" then
      return b
    end
  end
  return candidates[1]
end

function M.check()
  local codex = require("codex_lsp")
  local bufnr = user_buffer()
  local client = codex.get_client(bufnr) or codex.get_clients(false)[1]
  local cmd = client and client.config and client.config.cmd
  if type(cmd) ~= "table" then
    local cfg = vim.lsp.config and vim.lsp.config[codex.NAME]
    cmd = cfg and cfg.cmd or codex.config.cmd
  end

  start("codex-lsp binary")
  local bin = type(cmd) == "table" and cmd[1] or "codex-lsp"
  local path = vim.fn.exepath(bin)
  if path == "" then
    error(bin .. " not found", { "install it: cargo install --path . --locked", "or pass its full path as cmd" })
    return
  end
  local code, out = run({ path, "--version" }, nil, 10000)
  if code == 0 then
    ok(path .. ": " .. (out[1] or "?"))
  else
    error(path .. " --version failed: " .. table.concat(out, " "))
  end

  start("codex-lsp configuration")
  local key_var
  for _, name in ipairs({ "CODEX_LSP_API_KEY", "OPENAI_API_KEY" }) do
    if env_value(client, name) then
      key_var = name
      break
    end
  end
  if key_var then
    ok("API key: " .. key_var .. " is set")
  else
    error("API key: neither CODEX_LSP_API_KEY nor OPENAI_API_KEY is set", {
      "export CODEX_LSP_API_KEY=... in the shell that starts Neovim",
    })
  end
  local settings = client and client.config and client.config.init_options or codex.config.settings or {}
  local base = type(settings) == "table" and settings.baseUrl or nil
  local from = "setting baseUrl"
  if not base then
    base, from = env_value(client, "CODEX_LSP_BASE_URL"), "CODEX_LSP_BASE_URL"
  end
  if not base then
    base, from = "https://geekapis.com/v1", "default"
  end
  info("base URL: " .. base .. " (" .. from .. ")")
  local model = type(settings) == "table" and settings.model or env_value(client, "CODEX_LSP_MODEL")
  if model then
    info("model: " .. model)
  end

  start("codex-lsp doctor")
  local env = vim.deepcopy(client_env(client))
  if type(settings) == "table" and settings.baseUrl then
    env.CODEX_LSP_BASE_URL = settings.baseUrl
  end
  if type(settings) == "table" and settings.model then
    env.CODEX_LSP_MODEL = settings.model
  end
  local dcode, dout = run({ path, "doctor" }, env, 60000)
  local report = {}
  for _, l in ipairs(dout) do
    -- doctor prints the key only as set/unset; keep that and drop anything key-shaped anyway
    table.insert(report, (l:gsub("sk%-[%w%-_]+", "sk-…")))
  end
  if dcode == 0 then
    ok("codex-lsp doctor: usable")
  elseif dcode == nil then
    error("codex-lsp doctor did not finish within 60 s")
  else
    error("codex-lsp doctor exited " .. tostring(dcode))
  end
  for _, l in ipairs(report) do
    info(l)
  end

  start("codex-lsp clients")
  local clients = codex.get_clients(false)
  if #clients == 0 then
    warn("no codex-lsp client is running", {
      'Neovim 0.11+: vim.lsp.enable("codex_lsp"); any version: require("codex_lsp").setup({})',
    })
  end
  for _, c in ipairs(clients) do
    local names = {}
    for b in pairs(c.attached_buffers or {}) do
      table.insert(names, vim.fn.fnamemodify(vim.api.nvim_buf_get_name(b), ":~:."))
    end
    table.sort(names)
    ok(string.format("client %d (root %s): %s", c.id, tostring(c.config.root_dir), table.concat(names, ", ")))
  end

  start("codex-lsp chain of the current file")
  local cur = codex.get_client(bufnr)
  if not cur then
    info("codex-lsp is not attached to the current buffer")
    return
  end
  local params = {
    command = "codex.chainInfo",
    arguments = { { uri = vim.uri_from_bufnr(bufnr) } },
  }
  local reply = require("codex_lsp.handlers").call(cur, "request_sync", "workspace/executeCommand", params, 5000, bufnr)
  if not reply or reply.err then
    warn("codex.chainInfo failed: " .. vim.inspect(reply and reply.err))
  elseif type(reply.result) == "table" and reply.result.responseId then
    ok(string.format("chain %s, %s turns", reply.result.responseId, tostring(reply.result.turns)))
  else
    info("no conversation chain for " .. vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ":~:."))
  end
end

return M
