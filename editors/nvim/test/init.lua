-- Headless end-to-end test for the codex_lsp plugin. Run by test/run.sh:
--   nvim --headless -u test/init.lua
-- Environment:
--   CODEX_TEST_PLUGIN  path of editors/nvim (put on 'runtimepath')
--   CODEX_TEST_FILE    the source file to edit (inside a workspace with a .git marker)
--   CODEX_TEST_OUT     directory for results: log.txt, after_a (file after flow a)
--   CODEX_LSP_BIN      the server binary
--   CODEX_TEST_TIMEOUT_MS  bound for every wait (default 20000)
--   CODEX_TEST_STREAM  "0": settings.stream = false (JSON answers instead of SSE)
-- The server inherits CODEX_LSP_BASE_URL / CODEX_LSP_API_KEY from this process.
-- Flow a: code action "Codex: Refactor" on lines 2-3 (charwise end, as a visual selection gives it).
-- Flow b: ":6,7CodexAsk make it shorter" (whole lines).
-- Flow c: ":2CodexExplain": the answer shows in a floating window, the buffer is unchanged.
-- Flow d: ":CodexReset", ":CodexChain" says no chain, then ":'<,'>CodexAsk" on a
--         characterwise visual selection ("a * b" on line 6).
-- Each flow logs "FLOW x ok" or "FLOW x failed" to log.txt; exit status 0 when all ran.
-- run.sh checks the files on disk and the requests the fake received.

local out_dir = assert(os.getenv("CODEX_TEST_OUT"), "CODEX_TEST_OUT")
local file = assert(os.getenv("CODEX_TEST_FILE"), "CODEX_TEST_FILE")
local plugin = assert(os.getenv("CODEX_TEST_PLUGIN"), "CODEX_TEST_PLUGIN")
local bin = assert(os.getenv("CODEX_LSP_BIN"), "CODEX_LSP_BIN")
local timeout = tonumber(os.getenv("CODEX_TEST_TIMEOUT_MS") or "") or 20000

local t0 = vim.loop.hrtime()
local function say(...)
  local f = io.open(out_dir .. "/log.txt", "a")
  f:write(string.format("[%7.1f ms] ", (vim.loop.hrtime() - t0) / 1e6), table.concat({ ... }, " "), "\n")
  f:close()
end
local function done(code)
  say("exit " .. code)
  vim.cmd(code == 0 and "qall!" or ("cquit " .. code))
end

vim.opt.swapfile = false
vim.opt.shortmess:append("F")
vim.opt.runtimepath:prepend(plugin)

-- Record everything the plugin / server shows instead of printing it.
vim.notify = function(msg, level)
  say("notify[" .. tostring(level) .. "] " .. tostring(msg))
end
local function wrap_handler(method)
  local orig = vim.lsp.handlers[method]
  vim.lsp.handlers[method] = function(err, result, ctx, config)
    if method == "window/showMessage" then
      say("showMessage[" .. tostring(result and result.type) .. "] " .. tostring(result and result.message))
      return vim.NIL
    end
    return orig(err, result, ctx, config)
  end
end
wrap_handler("window/showMessage")

-- The result of workspace/executeCommand sent by the code action machinery.
local exec_results = {}
vim.lsp.handlers["workspace/executeCommand"] = function(err, result, ctx)
  say("executeCommand result: err=" .. vim.inspect(err) .. " result=" .. vim.inspect(result))
  table.insert(exec_results, { err = err, result = result })
end

local initialized = false
local codex = require("codex_lsp")
codex.setup({
  cmd = { bin },
  filetypes = "*",
  settings = {
    model = "test-model",
    contextLines = 5,
    reasoningEffort = "low",
    stream = os.getenv("CODEX_TEST_STREAM") ~= "0",
  },
  client = {
    on_init = function()
      initialized = true
    end,
  },
})

local function buf_text(bufnr)
  return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
end

local function copy_file(src, dst)
  local f = assert(io.open(src, "rb"))
  local data = f:read("*a")
  f:close()
  local g = assert(io.open(dst, "wb"))
  g:write(data)
  g:close()
end

local function wait(what, cond)
  if vim.wait(timeout, cond, 20) then
    return true
  end
  say("FAIL: timed out waiting for " .. what)
  return false
end

local function flow_a(bufnr)
  local before = buf_text(bufnr)
  local want = "Codex: Refactor"
  -- lines 2..3 (1-based), end inclusive at the last character of line 3
  local last = vim.api.nvim_buf_get_lines(bufnr, 2, 3, false)[1]
  local s, e = { 2, 0 }, { 3, #last - 1 }
  local n = #exec_results
  if vim.fn.has("nvim-0.8") == 1 then
    vim.lsp.buf.code_action({
      range = { start = s, ["end"] = e },
      filter = function(a)
        return a.title == want
      end,
      apply = true,
    })
  else
    vim.ui.select = function(items, opts, on_choice)
      for i, it in ipairs(items) do
        local title = opts.format_item and opts.format_item(it) or tostring(it)
        if title == want then
          return on_choice(it, i)
        end
      end
      say("FAIL: no code action titled " .. want)
      on_choice(nil, nil)
    end
    vim.lsp.buf.range_code_action(nil, s, e)
  end
  -- the server answers codex.runAction after the client applied the edit
  if not wait("codex.runAction to answer", function()
    return #exec_results > n
  end) then
    return false
  end
  local r = exec_results[#exec_results]
  if r.err or type(r.result) ~= "table" or r.result.applied ~= true then
    say("FAIL: runAction answered " .. vim.inspect(r))
    return false
  end
  if not wait("the buffer to change (flow a)", function()
    return buf_text(bufnr) ~= before
  end) then
    return false
  end
  vim.cmd("silent write")
  copy_file(file, out_dir .. "/after_a")
  say("flow a done")
  return true
end

local function flow_b(bufnr)
  local before = buf_text(bufnr)
  local result
  local orig = codex.ask
  codex.ask = function(b, range, instruction, on_done)
    say("CodexAsk range=" .. vim.inspect(range) .. " instruction=" .. instruction)
    return orig(b, range, instruction, function(err, res)
      result = { err = err, result = res }
      if on_done then
        on_done(err, res)
      end
    end)
  end
  vim.cmd("6,7CodexAsk make it shorter")
  if not wait("codex.ask to answer", function()
    return result ~= nil
  end) then
    return false
  end
  say("ask answered: " .. vim.inspect(result))
  if result.err or type(result.result) ~= "table" or result.result.applied ~= true then
    say("FAIL: codex.ask answered " .. vim.inspect(result))
    return false
  end
  if not wait("the buffer to change (flow b)", function()
    return buf_text(bufnr) ~= before
  end) then
    return false
  end
  vim.cmd("silent write")
  say("flow b done")
  return true
end

local function flow_c(bufnr)
  local before = buf_text(bufnr)
  local result
  local orig = codex.explain
  codex.explain = function(b, range, on_done)
    say("CodexExplain range=" .. vim.inspect(range))
    return orig(b, range, function(err, res)
      result = { err = err, result = res }
      if on_done then
        on_done(err, res)
      end
    end)
  end
  vim.cmd("2CodexExplain")
  if not wait("codex.explain to answer", function()
    return result ~= nil
  end) then
    return false
  end
  say("explain answered: " .. vim.inspect(result))
  if result.err or type(result.result) ~= "table" or type(result.result.text) ~= "string" then
    say("FAIL: codex.explain answered " .. vim.inspect(result))
    return false
  end
  -- the text is shown in a floating window
  local shown = false
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    local cfg = vim.api.nvim_win_get_config(win)
    if cfg.relative and cfg.relative ~= "" then
      local text = table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), "\n")
      if text:find("It adds two numbers.", 1, true) then
        shown = true
        vim.api.nvim_win_close(win, true)
      end
    end
  end
  if not shown then
    say("FAIL: no floating window shows the explanation")
    return false
  end
  if vim.api.nvim_get_current_buf() ~= bufnr then
    say("FAIL: the explanation replaced the current buffer with " .. vim.api.nvim_buf_get_name(0))
    return false
  end
  if buf_text(bufnr) ~= before then
    say("FAIL: explain changed the buffer")
    return false
  end
  say("flow c done")
  return true
end

local function flow_d(bufnr)
  local reset, chain
  codex.reset(bufnr, function(err, res)
    reset = { err = err, result = res }
  end)
  if not wait("codex.resetChain", function()
    return reset ~= nil
  end) then
    return false
  end
  if reset.err then
    say("FAIL: resetChain answered " .. vim.inspect(reset))
    return false
  end
  codex.chain(bufnr, function(err, res)
    chain = { err = err, result = res }
  end)
  if not wait("codex.chainInfo", function()
    return chain ~= nil
  end) then
    return false
  end
  if chain.err or (chain.result ~= nil and chain.result ~= vim.NIL) then
    say("FAIL: after a reset chainInfo answered " .. vim.inspect(chain))
    return false
  end
  -- characterwise visual selection of "a * b" on line 6 ("    a * b")
  local before = buf_text(bufnr)
  vim.api.nvim_win_set_cursor(0, { 6, 4 })
  vim.cmd("normal! v4l\27")
  local result, sent
  local orig = codex.ask
  codex.ask = function(b, range, instruction, on_done)
    sent = range
    say("CodexAsk (visual) range=" .. vim.inspect(range) .. " instruction=" .. instruction)
    return orig(b, range, instruction, function(err, res)
      result = { err = err, result = res }
    end)
  end
  vim.cmd("'<,'>CodexAsk swap the operands")
  if not wait("codex.ask (visual) to answer", function()
    return result ~= nil
  end) then
    return false
  end
  say("ask answered: " .. vim.inspect(result))
  local want = { start = { line = 5, character = 4 }, ["end"] = { line = 5, character = 9 } }
  if not vim.deep_equal(sent, want) then
    say("FAIL: the charwise selection gave range " .. vim.inspect(sent) .. ", expected " .. vim.inspect(want))
    return false
  end
  if result.err or type(result.result) ~= "table" or result.result.applied ~= true then
    say("FAIL: codex.ask (visual) answered " .. vim.inspect(result))
    return false
  end
  if not wait("the buffer to change (flow d)", function()
    return buf_text(bufnr) ~= before
  end) then
    return false
  end
  vim.cmd("silent write")
  say("flow d done")
  return true
end

local function run()
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  if not wait("the client to attach", function()
    return codex.get_client(bufnr) ~= nil
  end) then
    return done(1)
  end
  if not wait("the client to initialize", function()
    return initialized
  end) then
    return done(1)
  end
  say("attached, offset_encoding=" .. tostring(codex.get_client(bufnr).offset_encoding))
  local all = true
  for _, flow in ipairs({ { "a", flow_a }, { "b", flow_b }, { "c", flow_c }, { "d", flow_d } }) do
    local ok, res = pcall(flow[2], bufnr)
    if not ok then
      say("FAIL: error in flow " .. flow[1] .. ": " .. tostring(res))
    end
    ok = ok and res
    say(ok and ("FLOW " .. flow[1] .. " ok") or ("FLOW " .. flow[1] .. " failed"))
    all = all and ok
    if flow[1] == "b" then
      copy_file(file, out_dir .. "/after_b")
    end
  end
  done(all and 0 or 1)
end

vim.api.nvim_create_autocmd("VimEnter", {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = pcall(run)
      if not ok then
        say("FAIL: error: " .. tostring(err))
        done(2)
      end
    end)
  end,
})
