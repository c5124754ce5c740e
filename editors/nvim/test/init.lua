-- Headless end-to-end test for the codex_lsp plugin. Run by test/run.sh:
--   nvim --headless -u test/init.lua
-- Environment:
--   CODEX_TEST_PLUGIN  path of editors/nvim (put on 'runtimepath')
--   CODEX_TEST_FILE    the source file to edit (inside a workspace with a .git marker)
--   CODEX_TEST_OUT     directory for results: log.txt, after_a (file after flow a)
--   CODEX_LSP_BIN      the server binary
--   CODEX_TEST_TIMEOUT_MS  bound for every wait (default 20000)
--   CODEX_TEST_STREAM  "0": settings.stream = false (JSON answers instead of SSE)
--   CODEX_TEST_MODE    "setup": require("codex_lsp").setup({...}); "enable" (0.11+):
--                      vim.lsp.config + vim.lsp.enable("codex_lsp") only, no plugin call
--   CODEX_TEST_REQUESTS the fake's request log (flow f waits for its slow request there)
-- The server inherits CODEX_LSP_BASE_URL / CODEX_LSP_API_KEY from this process.
-- Flow a: code action "Codex: Refactor" on lines 2-3 (charwise end, as a visual selection gives it).
-- Flow b: ":6,7CodexAsk make it shorter" (whole lines).
-- Flow c: ":2CodexExplain": the answer shows once, in a floating window (no message, no
--         split), the buffer is unchanged; a second ":2CodexExplain" while the float is open
--         replaces it and leaves the cursor in the source window.
-- Flow d: ":CodexReset", ":CodexChain" says no chain, then ":'<,'>CodexAsk" on a
--         characterwise visual selection ("a * b" on line 6).
-- Flow e: errors appear once: a code action and :CodexAsk the service fails (unknown model),
--         :CodexAsk answered without code, :CodexAsk in a refused .env file.
-- Flow f: :CodexAsk on a slow answer; its progress message says ":CodexCancel to cancel";
--         :CodexCancel sends window/workDoneProgress/cancel with the progress token; the
--         server ends the progress "cancelled"; "cancelled" is said once; nothing applied.
-- Flow g: :checkhealth codex_lsp (written to health.txt; run.sh checks it).
-- Flow h: as f, for the code action "Codex: Refactor" (Neovim's own executeCommand).
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

-- Record every displayed server message instead of printing it.
vim.lsp.handlers["window/showMessage"] = function(_, result)
  say("showMessage[" .. tostring(result and result.type) .. "] " .. tostring(result and result.message))
  table.insert(_G.codex_test_seen, tostring(result and result.message))
  return vim.NIL
end
_G.codex_test_seen = {}

-- The result of workspace/executeCommand sent by the code action machinery.
local exec_results = {}
vim.lsp.handlers["workspace/executeCommand"] = function(err, result, ctx)
  say("executeCommand result: err=" .. vim.inspect(err) .. " result=" .. vim.inspect(result))
  table.insert(exec_results, { err = err, result = result })
end

local initialized = false
local mode = os.getenv("CODEX_TEST_MODE") or "setup"
local settings = {
  model = "test-model",
  contextLines = 5,
  reasoningEffort = "low",
  stream = os.getenv("CODEX_TEST_STREAM") ~= "0",
}
local on_init = function()
  initialized = true
end
if mode == "enable" then
  -- the 0.11 model: lsp/codex_lsp.lua from 'runtimepath', no plugin call
  vim.lsp.config("codex_lsp", {
    cmd = { bin },
    init_options = settings,
    settings = { codex = settings },
    on_init = on_init,
  })
  vim.lsp.enable("codex_lsp")
else
  require("codex_lsp").setup({
    cmd = { bin },
    filetypes = "*",
    settings = settings,
    client = { on_init = on_init },
  })
end
local codex = require("codex_lsp")
local handlers = require("codex_lsp.handlers")

-- Everything the user saw: each vim.notify and each displayed window/showMessage is a
-- line "notify[...]" / "showMessage[...]" in log.txt, and counted here.
local seen = _G.codex_test_seen
local function saw(text)
  table.insert(seen, text)
end

vim.notify = function(msg, level)
  say("notify[" .. tostring(level) .. "] " .. tostring(msg))
  saw(tostring(msg))
end


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

local function count_seen(needle)
  local n = 0
  for _, t in ipairs(seen) do
    if t:find(needle, 1, true) then
      n = n + 1
    end
  end
  return n
end

-- floating windows whose text holds `needle`
local function floats_with(needle)
  local list = {}
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    local cfg = vim.api.nvim_win_get_config(win)
    if cfg.relative and cfg.relative ~= "" then
      local text = table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), "\n")
      if text:find(needle, 1, true) then
        table.insert(list, win)
      end
    end
  end
  return list
end

local function explain_once(bufnr, answer)
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
  local win = vim.api.nvim_get_current_win()
  vim.cmd("2CodexExplain")
  codex.explain = orig
  if not wait("codex.explain to answer", function()
    return result ~= nil
  end) then
    return false
  end
  say("explain answered: " .. vim.inspect(result))
  if result.err or type(result.result) ~= "table" or result.result.text ~= answer then
    say("FAIL: codex.explain answered " .. vim.inspect(result))
    return false
  end
  -- let any late message arrive
  vim.wait(300, function()
    return false
  end, 20)
  local floats = floats_with(answer)
  if #floats ~= 1 then
    say("FAIL: " .. #floats .. " floating windows show the explanation, expected 1")
    return false
  end
  if count_seen(answer) ~= 0 then
    say("FAIL: the explanation was also shown as a message (" .. count_seen(answer) .. " times)")
    return false
  end
  local msgs = vim.fn.execute("messages")
  if msgs:find(answer, 1, true) then
    say("FAIL: the explanation is in :messages: " .. msgs)
    return false
  end
  if vim.api.nvim_get_current_win() ~= win or vim.api.nvim_get_current_buf() ~= bufnr then
    say("FAIL: the cursor left the source window for " .. vim.api.nvim_buf_get_name(0))
    return false
  end
  if #vim.api.nvim_tabpage_list_wins(0) ~= 2 then
    say("FAIL: expected the source window and one float, got " .. #vim.api.nvim_tabpage_list_wins(0) .. " windows")
    return false
  end
  return floats[1]
end

local function flow_c(bufnr)
  local before = buf_text(bufnr)
  local first = explain_once(bufnr, "It adds two numbers.")
  if not first then
    return false
  end
  -- a second explanation while the float is open: replaces it, the cursor stays
  if not vim.api.nvim_win_is_valid(first) then
    say("FAIL: the first explanation's float closed by itself")
    return false
  end
  local second = explain_once(bufnr, "It returns the sum.")
  if not second then
    return false
  end
  if vim.api.nvim_win_is_valid(first) and first ~= second then
    say("FAIL: the first explanation's float is still open")
    return false
  end
  vim.api.nvim_win_close(second, true)
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

-- runs `fn()` (which starts one command) and waits for its outcome in handlers.state
local mark = 0
local function outcome(what, fn)
  local n = handlers.state.results
  mark = #seen
  fn()
  if not wait(what, function()
    return handlers.state.results > n
  end) then
    return nil
  end
  -- the server's showMessage precedes the answer; give a duplicate the time to show
  vim.wait(400, function()
    return false
  end, 20)
  return handlers.state.last
end

local function expect_once(what, last, kind, needle)
  if not last then
    return false
  end
  local got = handlers.error_kind(last.err)
  if got ~= kind then
    say("FAIL: " .. what .. ": error kind " .. tostring(got) .. ", expected " .. kind .. ": " .. vim.inspect(last))
    return false
  end
  -- exactly one message since the command started, and it is about this failure
  local shown = { unpack(seen, mark + 1) }
  if #shown ~= 1 or not shown[1]:find(needle, 1, true) then
    say("FAIL: " .. what .. ": shown " .. vim.inspect(shown) .. ", expected one message with “" .. needle .. "”")
    return false
  end
  say(what .. ": shown once (" .. kind .. ")")
  return true
end

local function code_action(bufnr, want, s, e)
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
end

local function flow_e(bufnr)
  local before = buf_text(bufnr)
  local ok = true
  -- 1. a code action the service fails (unknown model)
  local last = outcome("the failing code action", function()
    code_action(bufnr, "Codex: Document", { 2, 0 }, { 3, 4 })
  end)
  ok = expect_once("code action, unknown model", last, "gateway", "model `nope` does not exist") and ok
  -- 2. :CodexAsk, same failure
  last = outcome(":CodexAsk failing", function()
    vim.cmd("2CodexAsk use a match")
  end)
  ok = expect_once(":CodexAsk, unknown model", last, "gateway", "nope` does not exist, really") and ok
  -- 3. an answer without code
  last = outcome(":CodexAsk answered in prose", function()
    vim.cmd("2CodexAsk add a comment")
  end)
  ok = expect_once(":CodexAsk, no code", last, "no_code", "code") and ok
  if buf_text(bufnr) ~= before then
    say("FAIL: a failed request changed the buffer")
    ok = false
  end
  -- 4. a refused file: nothing is sent
  local env = vim.fn.fnamemodify(file, ":h:h") .. "/.env"
  vim.fn.writefile({ "TOKEN=abc" }, env)
  vim.cmd("edit " .. vim.fn.fnameescape(env))
  local envbuf = vim.api.nvim_get_current_buf()
  if not wait("the client to attach to .env", function()
    return codex.get_client(envbuf) ~= nil
  end) then
    return false
  end
  last = outcome(":CodexAsk in .env", function()
    vim.cmd("1CodexAsk rotate it")
  end)
  ok = expect_once(":CodexAsk in .env", last, "refused", ".env") and ok
  vim.cmd("buffer " .. bufnr)
  if ok then
    say("flow e done")
  end
  return ok
end

local function requests_logged()
  local path = os.getenv("CODEX_TEST_REQUESTS")
  local f = path and io.open(path, "r")
  if not f then
    return 0
  end
  local n = 0
  for _ in f:lines() do
    n = n + 1
  end
  f:close()
  return n
end

-- What the plugin sends: every handlers.call (request / notify / cancel_request), and
-- every cancel it answers itself (handlers.cancelled, the $/cancelRequest path).
local calls, self_cancelled = {}, 0
do
  local orig_call, orig_cancelled = handlers.call, handlers.cancelled
  handlers.call = function(client, method, ...)
    table.insert(calls, { method = method, args = { ... } })
    return orig_call(client, method, ...)
  end
  handlers.cancelled = function(...)
    self_cancelled = self_cancelled + 1
    return orig_cancelled(...)
  end
end

-- the token of the client's cancellable progress, if one is running
local function progress_token(client_id)
  for token, entry in pairs(handlers.state.progress[client_id] or {}) do
    if entry.cancellable then
      return token
    end
  end
end

-- Starts a slow request with `start()`, waits for its cancellable progress (whose message
-- says how to cancel), runs :CodexCancel; checks that the cancel went to the progress token
-- (window/workDoneProgress/cancel, no $/cancelRequest), that the server ended the progress
-- "cancelled" and the command finished as cancelled, said once, and that nothing changed
-- (run.sh checks the server log: cancelled through the progress token).
local function cancel_from_progress(what, bufnr, start)
  local before = buf_text(bufnr)
  local client = codex.get_client(bufnr)
  local n0 = requests_logged()
  local n = handlers.state.results
  mark = #seen
  handlers.state.echoed = nil
  start()
  if not wait("the slow request to reach the fake (" .. what .. ")", function()
    return requests_logged() > n0
  end) then
    return false
  end
  if not wait("the progress of " .. what .. " to begin", function()
    return progress_token(client.id) ~= nil and handlers.state.echoed ~= nil
      and handlers.state.echoed:find(":CodexCancel", 1, true) ~= nil
  end) then
    say("FAIL: last progress " .. tostring(codex.last_progress) .. ", echoed " .. tostring(handlers.state.echoed))
    return false
  end
  local token = progress_token(client.id)
  local shown = handlers.state.echoed
  say(what .. ": progress " .. vim.inspect(token) .. " " .. tostring(codex.last_progress) .. " | echoed " .. shown)
  if not codex.last_progress:find("(:CodexCancel to cancel)", 1, true) then
    say("FAIL: the progress message does not say how to cancel: " .. codex.last_progress)
    return false
  end
  if vim.fn.strdisplaywidth(shown) > vim.v.echospace or not shown:find("%(:CodexCancel to cancel%)$") then
    say("FAIL: the echoed progress does not fit (" .. vim.v.echospace .. " columns) or lost its hint: " .. shown)
    return false
  end
  local c0, s0 = #calls, self_cancelled
  local t = vim.loop.hrtime()
  vim.cmd("CodexCancel")
  local sent = {}
  for i = c0 + 1, #calls do
    table.insert(sent, calls[i])
  end
  if #sent ~= 1 or sent[1].method ~= "notify" or sent[1].args[1] ~= "window/workDoneProgress/cancel"
    or not vim.deep_equal(sent[1].args[2], { token = token }) then
    say("FAIL: :CodexCancel sent " .. vim.inspect(sent) .. ", expected window/workDoneProgress/cancel of " .. vim.inspect(token))
    return false
  end
  if not wait("the cancelled request to answer (" .. what .. ")", function()
    return handlers.state.results > n
  end) then
    return false
  end
  local ms = (vim.loop.hrtime() - t) / 1e6
  say(string.format("%s: cancelled answer after %.0f ms", what, ms))
  if not wait("the progress to end (" .. what .. ")", function()
    return progress_token(client.id) == nil
  end) then
    return false
  end
  vim.wait(400, function()
    return false
  end, 20)
  local last = handlers.state.last
  if not expect_once(what, last, "cancelled", "codex: cancelled") then
    return false
  end
  -- finished by the server's report (the progress ended "cancelled"; its RequestCancelled
  -- answer is dropped by Neovim), not by the $/cancelRequest path
  if self_cancelled ~= s0 then
    say("FAIL: the command was finished by the $/cancelRequest path")
    return false
  end
  if not codex.last_progress:find(": cancelled$") then
    say("FAIL: the progress did not end \"cancelled\": " .. tostring(codex.last_progress))
    return false
  end
  if ms > 4000 then
    say("FAIL: the cancel took " .. ms .. " ms (the fake answers after 8 s)")
    return false
  end
  vim.wait(300, function()
    return false
  end, 20)
  if buf_text(bufnr) ~= before then
    say("FAIL: a cancelled request changed the buffer")
    return false
  end
  return true
end

local function flow_f(bufnr)
  if not cancel_from_progress(":CodexAsk", bufnr, function()
    vim.cmd("6CodexAsk swap them back")
  end) then
    return false
  end
  say("flow f done")
  return true
end

local function flow_h(bufnr)
  if not cancel_from_progress("code action", bufnr, function()
    code_action(bufnr, "Codex: Refactor", { 6, 0 }, { 7, 4 })
  end) then
    return false
  end
  say("flow h done")
  return true
end

local function flow_g(bufnr)
  vim.cmd("checkhealth codex_lsp")
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.fn.writefile(lines, out_dir .. "/health.txt")
  vim.cmd("tabclose")
  if vim.api.nvim_get_current_buf() ~= bufnr then
    vim.cmd("buffer " .. bufnr)
  end
  say("checkhealth: " .. #lines .. " lines")
  -- one client, under the one name, for every buffer
  local names = {}
  for _, c in ipairs(vim.lsp.get_clients and vim.lsp.get_clients() or vim.lsp.get_active_clients()) do
    table.insert(names, c.name)
  end
  if #names ~= 1 or names[1] ~= "codex_lsp" then
    say("FAIL: clients running: " .. vim.inspect(names) .. ", expected one codex_lsp")
    return false
  end
  return #lines > 5
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
  for _, flow in ipairs({
    { "a", flow_a },
    { "b", flow_b },
    { "c", flow_c },
    { "d", flow_d },
    { "e", flow_e },
    { "f", flow_f },
    { "g", flow_g },
    { "h", flow_h },
  }) do
    local ok, res = pcall(flow[2], bufnr)
    if not ok then
      say("FAIL: error in flow " .. flow[1] .. ": " .. tostring(res))
    end
    ok = ok and res
    say(ok and ("FLOW " .. flow[1] .. " ok") or ("FLOW " .. flow[1] .. " failed"))
    all = all and ok
    if flow[1] == "b" or flow[1] == "d" or flow[1] == "f" then
      copy_file(file, out_dir .. "/after_" .. flow[1])
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
