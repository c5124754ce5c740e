// End-to-end test of the Codex extension in code-server, driven by playwright-core and Debian's chromium.
// Started by run.sh, which sets up code-server, the workspace and the fake Responses server.
//
// Environment (all required):
//   PLAYWRIGHT_CORE_DIR  directory of the playwright-core package
//   E2E_URL              code-server URL, e.g. http://127.0.0.1:PORT
//   E2E_WORKSPACE        workspace folder opened in code-server
//   E2E_FILE             path of the source file inside it (relative)
//   E2E_FAKE_LOG         the fake Responses server's request log (JSON lines)
//   E2E_ARTIFACTS        where screenshots go on failure
//   E2E_SUMMARY          file that gets the "N passed, N failed" line
//   E2E_VSIX             the packaged .vsix
//   E2E_EXTENSIONS       code-server's extensions directory it was installed into
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { chromium } = require(process.env.PLAYWRIGHT_CORE_DIR);

const URL_BASE = process.env.E2E_URL;
const WS = process.env.E2E_WORKSPACE;
const REL = process.env.E2E_FILE;
const FILE = path.join(WS, REL);
const FAKE_LOG = process.env.E2E_FAKE_LOG;
const ARTIFACTS = process.env.E2E_ARTIFACTS;
const SUMMARY = process.env.E2E_SUMMARY;
const VSIX = process.env.E2E_VSIX;
const EXTENSIONS = process.env.E2E_EXTENSIONS;
const STATUS = '[id="codex-lsp.codex-lsp.codexLsp.status"]';

const TESTS = 9;
/** The file's conversation as the actions so far made it: each applied or answered action adds a turn. */
const chain = { turns: 0, last: undefined };
const t0 = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

/** Poll `fn` until it returns a truthy value; throw `what` after `ms`. */
async function waitFor(what, fn, ms = 20000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

const readDisk = () => fs.readFileSync(FILE, 'utf8');
const fakeRequests = () =>
  fs.existsSync(FAKE_LOG)
    ? fs.readFileSync(FAKE_LOG, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    : [];

/** Monaco's rendered text (only the visible lines; enough for a small file). Spaces are rendered as U+00A0. */
async function editorText(page) {
  const t = await page.locator('.monaco-editor .view-lines').first().innerText();
  return t.replace(/\u00a0/g, ' ');
}

async function openFile(page) {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input').first();
  await input.waitFor({ state: 'visible', timeout: 15000 });
  await input.fill(path.basename(REL));
  // Enter pressed before the row shows is silently lost.
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: path.basename(REL) })
    .first()
    .waitFor({ state: 'visible', timeout: 15000 });
  await page.keyboard.press('Enter');
  await page.locator(`.tab[data-resource-name="${path.basename(REL)}"], .tab:has-text("${path.basename(REL)}")`).first()
    .waitFor({ state: 'visible', timeout: 15000 });
  await page.locator('.monaco-editor .view-lines').first().waitFor({ state: 'visible', timeout: 15000 });
}

/** Put the cursor at the start of `line` (0-based) and select `count` lines down (the last line break included). */
async function selectLines(page, line, count) {
  await page.locator('.monaco-editor .view-lines').first().click();
  await page.keyboard.press('Control+Home');
  for (let i = 0; i < line; i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Home');
  await page.keyboard.press('Home'); // the first Home may stop at the indentation
  for (let i = 0; i < count; i++) await page.keyboard.press('Shift+ArrowDown');
}

/** Ctrl+. and choose `title` with the keyboard (mouse clicks on the rows are swallowed). Retries while the server starts. */
async function runCodeAction(page, title) {
  let lastLabels = '';
  await waitFor(`"${title}" in the Ctrl+. menu`, async () => {
    await page.keyboard.press('Control+.');
    const widget = page.locator('.action-widget').first();
    try {
      await widget.waitFor({ state: 'visible', timeout: 3000 });
      await page.locator('.action-widget .monaco-list-row').first().waitFor({ state: 'visible', timeout: 3000 });
    } catch {
      await page.keyboard.press('Escape');
      return false;
    }
    const labels = await page.locator('.action-widget .monaco-list-row').evaluateAll((rows) =>
      rows.map((r) => r.getAttribute('aria-label') || r.textContent || ''),
    );
    if (!labels.some((l) => l.includes(title))) {
      if (JSON.stringify(labels) !== lastLabels) log(`menu without "${title}" yet: ${JSON.stringify(labels)}`);
      lastLabels = JSON.stringify(labels);
      await page.keyboard.press('Escape');
      return false;
    }
    return true;
  }, 30000, 500);
  for (let i = 0; i < 40; i++) {
    const focused = await page.locator('.action-widget .monaco-list-row.focused').first().getAttribute('aria-label').catch(() => null);
    if (focused && focused.includes(title)) {
      await page.keyboard.press('Enter');
      return;
    }
    await page.keyboard.press('ArrowDown');
  }
  throw new Error(`could not focus "${title}" in the Ctrl+. menu`);
}

async function runPaletteCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input').first();
  await input.waitFor({ state: 'visible', timeout: 15000 });
  await input.fill(`>${title}`);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: title })
    .first()
    .waitFor({ state: 'visible', timeout: 15000 });
  await page.keyboard.press('Enter');
}

async function saveAndCheck(page, expected, what) {
  await page.keyboard.press('Control+S');
  await waitFor(`${what}: the file on disk to have the new content`, () => readDisk() === expected, 15000).catch((e) => {
    throw new Error(`${e.message}\n--- on disk ---\n${readDisk()}\n--- expected ---\n${expected}`);
  });
}

/** The status bar item's chain count ("Codex 3": the sparkle and comment icons render without text). */
async function statusState(page) {
  const item = page.locator(STATUS);
  const text = (await item.innerText({ timeout: 1000 })).replace(/\s+/g, ' ').trim();
  const label = (await item.getAttribute('aria-label', { timeout: 1000 })) ?? '';
  const m = /^Codex (\d+)$/.exec(text);
  return { text, label, turns: m ? Number(m[1]) : undefined };
}

/** Wait until the status bar shows `turns` for the file named `file` (and `more` in its tooltip). */
async function waitForTurns(page, turns, file, more = '') {
  const want = `${file}: ${turns} turn${turns === 1 ? '' : 's'} in its conversation${more}`;
  let last;
  await waitFor(`the status bar to show ${turns} (tooltip "${want}")`, async () => {
    last = await statusState(page);
    return last.turns === turns && last.label.includes(want);
  }, 15000).catch((e) => {
    throw new Error(`${e.message}; it shows ${JSON.stringify(last)}`);
  });
}

/** Bring the source file's tab to the front (Quick Open would also offer the explanation's src_calc.py.md). */
async function frontSourceFile(page) {
  const tab = `.tab[data-resource-name="${path.basename(REL)}"]`;
  await waitFor(`the ${path.basename(REL)} tab in front`, async () => {
    if (await page.locator(`${tab}.active`).count()) return true;
    await page.locator(tab).first().click({ timeout: 2000 });
    return false;
  }, 10000, 300);
}

async function toastTexts(page) {
  return page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts();
}

/** The names in a zip file (python3 is there: run.sh serves the fake with it). */
function zipNames(file) {
  const py = 'import sys, zipfile; print("\\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))';
  return execFileSync('python3', ['-c', py, file], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/** Every file under `dir`, relative, with `/`. */
function walk(dir, rel = '') {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? [`${r}/`, ...walk(dir, r)] : [r];
  });
}

/** Throws unless `names` hold exactly one JavaScript file, `${prefix}out/extension.js`, and no node_modules. */
function checkBundle(what, names, prefix) {
  const modules = names.filter((n) => n.split('/').includes('node_modules'));
  if (modules.length) throw new Error(`${what} has ${modules.length} node_modules entries, e.g. ${modules.slice(0, 3).join(', ')}`);
  const js = names.filter((n) => /\.[cm]?js$/.test(n));
  if (js.length !== 1 || js[0] !== `${prefix}out/extension.js`) {
    throw new Error(`${what} should hold exactly one JavaScript file, ${prefix}out/extension.js; it holds ${js.length}: ${js.slice(0, 5).join(', ')}`);
  }
}

// ------------------------------------------------------------------ tests

async function testBundle() {
  const names = zipNames(VSIX);
  checkBundle(`the .vsix (${names.length} entries)`, names, 'extension/');
  const pkg = JSON.parse(execFileSync('unzip', ['-p', VSIX, 'extension/package.json'], { encoding: 'utf8' }));
  if (path.posix.normalize(pkg.main) !== 'out/extension.js') throw new Error(`package.json "main" is ${pkg.main}`);
  // The extension that runs in the workbench is that .vsix, installed (the only one in the profile).
  const dirs = fs.readdirSync(EXTENSIONS).filter((d) => d.startsWith('codex-lsp.codex-lsp-'));
  if (dirs.length !== 1) throw new Error(`expected one installed codex-lsp extension in ${EXTENSIONS}, found ${JSON.stringify(dirs)}`);
  checkBundle(`the installed extension ${dirs[0]}`, walk(path.join(EXTENSIONS, dirs[0])), '');
}

async function testRefactor(page) {
  const before = readDisk();
  // Lines 0-1 are `def add(a, b):` and its body.
  const oldBlock = 'def add(a, b):\n    return a+b\n';
  const newBlock = 'def add(a: int, b: int) -> int:\n    return a + b\n';
  if (!before.startsWith(oldBlock)) throw new Error(`unexpected starting content:\n${before}`);
  const expected = newBlock + before.slice(oldBlock.length);
  const nBefore = fakeRequests().length;

  await selectLines(page, 0, 2);
  await runCodeAction(page, 'Codex: Refactor');
  await waitFor('the editor to show the refactored code', async () => (await editorText(page)).includes('def add(a: int, b: int) -> int:'), 30000);
  await saveAndCheck(page, expected, 'Codex: Refactor');

  const reqs = fakeRequests().slice(nBefore);
  if (reqs.length !== 1) throw new Error(`expected 1 request to the fake Responses server, saw ${reqs.length}`);
  if (reqs[0].authorization !== 'bearer') throw new Error(`request without a Bearer key: ${reqs[0].authorization}`);
  const body = JSON.stringify(reqs[0].body);
  if (!body.includes('return a+b')) throw new Error('the request does not carry the selected code');
  // run.sh sets codex.reasoningEffort = "low" in the user settings: the extension forwarded it.
  const effort = reqs[0].body?.reasoning?.effort;
  if (effort !== 'low') throw new Error(`codex.reasoningEffort did not reach the server: reasoning.effort = ${effort}`);
  chain.turns++;
  chain.last = `resp_${reqs[0].n}`;
}

async function testStatusTurns(page) {
  // The fake numbers its responses resp_<n>: the refactor's is the file's chain head.
  await waitForTurns(page, chain.turns, REL, `, last response ${chain.last}`);
}

async function testAsk(page) {
  const before = readDisk();
  const oldBlock = 'def greet(name):\n    return "hi " + name\n';
  const newBlock = 'def greet(name: str) -> str:\n    return f"hi {name}"\n';
  const at = before.indexOf(oldBlock);
  if (at < 0) throw new Error(`greet() not found in:\n${before}`);
  const line = before.slice(0, at).split('\n').length - 1;
  const expected = before.slice(0, at) + newBlock + before.slice(at + oldBlock.length);
  const nBefore = fakeRequests().length;
  const instruction = 'add type hints and use an f-string';

  await selectLines(page, line, 2);
  await runPaletteCommand(page, 'Codex: Ask…');
  const input = page.locator('.quick-input-widget input').first();
  await waitFor('the Ask input box', async () => (await input.getAttribute('placeholder'))?.includes('handle the empty list'), 15000);
  await input.fill(instruction);
  await page.keyboard.press('Enter');
  await waitFor('the editor to show the answer to Ask', async () => (await editorText(page)).includes('def greet(name: str) -> str:'), 30000);
  await saveAndCheck(page, expected, 'Codex: Ask…');

  const reqs = fakeRequests().slice(nBefore);
  if (reqs.length !== 1) throw new Error(`expected 1 request to the fake Responses server, saw ${reqs.length}`);
  if (!JSON.stringify(reqs[0].body).includes(instruction)) throw new Error('the request does not carry the instruction');
  // The file's conversation continues from the refactor's response (the fake numbers them resp_<n>).
  const prev = reqs[0].body?.previous_response_id;
  if (!prev) throw new Error('Ask did not continue the file\'s chain (no previous_response_id)');
  chain.turns++;
  chain.last = `resp_${reqs[0].n}`;
}

async function testExplain(page) {
  const before = readDisk();
  const nBefore = fakeRequests().length;
  const answer = 'greet builds a greeting for name.';
  const at = before.indexOf('def greet');
  if (at < 0) throw new Error(`greet() not found in:\n${before}`);
  const line = before.slice(0, at).split('\n').length - 1;

  await selectLines(page, line, 2);
  await runPaletteCommand(page, 'Codex: Explain Selection');
  // The server shows the answer with window/showMessage, and as a Markdown document through window/showDocument.
  await waitFor('the explanation in a notification', async () => {
    const toasts = await page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts();
    return toasts.some((t) => t.includes(answer));
  }, 30000);
  await waitFor('the explanation in a Markdown editor in front', async () => {
    const name = await page.locator('.tab.active').first().getAttribute('data-resource-name');
    return name?.endsWith('.md') && (await editorText(page)).includes(answer);
  }, 15000);
  const reqs = fakeRequests().slice(nBefore);
  if (reqs.length !== 1) throw new Error(`expected 1 request to the fake Responses server, saw ${reqs.length}`);
  if (readDisk() !== before) throw new Error('Explain changed the file');
  chain.turns++; // an answered explain is a turn too
  chain.last = `resp_${reqs[0].n}`;
}

async function testStatusFollowsEditor(page) {
  // Explain left its Markdown answer in front: a file of its own, with no conversation.
  const name = await page.locator('.tab.active').first().getAttribute('data-resource-name');
  if (!name?.endsWith('.md')) throw new Error(`expected the explanation in front, the active tab is ${name}`);
  await waitForTurns(page, 0, name);
  await frontSourceFile(page);
  await waitForTurns(page, chain.turns, REL, `, last response ${chain.last}`);
}

async function testCancel(page) {
  // The fake answers 429 "try again in 30s": the server waits before retrying, its progress is on, and a click on
  // the status bar item cancels it (window/workDoneProgress/cancel). Nothing may be applied.
  const before = readDisk();
  const nBefore = fakeRequests().length;
  const item = page.locator(STATUS);
  // Explain left its Markdown answer in front: bring the file back.
  await frontSourceFile(page);
  await selectLines(page, 0, 2);
  await runCodeAction(page, 'Codex: Document');
  await waitFor('the status bar item to show the work (click to cancel)', async () =>
    (await item.getAttribute('aria-label'))?.includes('Click to cancel'), 15000);
  await waitFor('the request to reach the fake Responses server', () => fakeRequests().length > nBefore, 15000);
  await item.click();
  await waitFor('the status bar item to be idle again after the cancel', async () =>
    (await item.getAttribute('aria-label'))?.includes('Codex: idle'), 10000);
  const dirty = await page.locator('.tab.active.dirty').count();
  if (dirty) throw new Error('the editor is dirty after a cancelled request');
  if (readDisk() !== before) throw new Error('the file changed after a cancelled request');
  const n = fakeRequests().length - nBefore;
  if (n !== 1) throw new Error(`expected exactly 1 request (no retry after the cancel), saw ${n}`);
}

/** Run "Codex: Show Conversation" and return its dialog (it has a conversation to show). */
async function openConversation(page) {
  await frontSourceFile(page);
  await runPaletteCommand(page, 'Codex: Show Conversation');
  const dialog = page.locator('.monaco-dialog-box').first();
  await dialog.waitFor({ state: 'visible', timeout: 15000 });
  return dialog;
}

async function testShowConversation(page) {
  const nBefore = fakeRequests().length;
  const dialog = await openConversation(page);
  const text = (await dialog.innerText()).replace(/\s+/g, ' ');
  for (const want of [`the conversation for ${REL}`, `${chain.turns} turns, last response ${chain.last}.`]) {
    if (!text.includes(want)) throw new Error(`the dialog does not say "${want}": ${JSON.stringify(text)}`);
  }
  if (!(await dialog.getByRole('button', { name: 'Reset Conversation' }).count())) throw new Error('no Reset Conversation button');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden', timeout: 5000 });
  // Dismissed: the conversation is as it was, and looking at it asked the model nothing.
  await waitForTurns(page, chain.turns, REL, `, last response ${chain.last}`);
  if (fakeRequests().length !== nBefore) throw new Error('Show Conversation sent a request to the model');
}

async function testResetFromConversation(page) {
  const nBefore = fakeRequests().length;
  const dialog = await openConversation(page);
  await dialog.getByRole('button', { name: 'Reset Conversation' }).click();
  await dialog.waitFor({ state: 'hidden', timeout: 5000 });
  chain.turns = 0;
  chain.last = undefined;
  await waitForTurns(page, 0, REL);
  await waitFor('the "starts afresh" notification', async () =>
    (await toastTexts(page)).some((t) => t.includes(`the conversation for ${REL} starts afresh`)), 10000);
  // The server forgot it: Show Conversation now has nothing to show.
  await runPaletteCommand(page, 'Codex: Show Conversation');
  await waitFor('"no conversation yet" from Show Conversation', async () =>
    (await toastTexts(page)).some((t) => t.includes(`${REL} has no conversation yet`)), 10000);
  if (await page.locator('.monaco-dialog-box').count()) throw new Error('a dialog for a file without a conversation');
  if (fakeRequests().length !== nBefore) throw new Error('the reset sent a request to the model');
}

// ------------------------------------------------------------------ main

async function main() {
  let passed = 0;
  let failed = 0;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => log('page error:', e.message));
    const url = `${URL_BASE}/?folder=${encodeURIComponent(WS)}`;
    log('open', url);
    await page.goto(url, { timeout: 60000 });
    await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60000 });
    log('workbench up');
    await openFile(page);
    log('editor open');
    // The extension's status bar item says "idle" once the server has answered `initialize`.
    const item = page.locator(STATUS);
    const state = await waitFor('the Codex status bar item to say the server is up', async () => {
      const label = (await item.getAttribute('aria-label', { timeout: 1000 })) ?? '';
      if (label.includes('Codex: idle')) return 'up';
      if (/^error|Codex: off/.test(label)) return `not up: ${label}`; // no point in waiting
      return undefined;
    }, 30000, 200).catch(async (e) => {
      log('status bar:', JSON.stringify(await page.locator('.statusbar-item').evaluateAll((rs) => rs.map((r) => r.getAttribute('aria-label')))));
      throw e;
    });
    if (state !== 'up') throw new Error(`the Codex status bar item says the server is ${state}`);
    log('server up');

    for (const [name, fn] of [
      ['the installed extension is the packaged .vsix: one JavaScript file (the bundle), no node_modules', testBundle],
      ['code action "Codex: Refactor" (Ctrl+.) rewrites the selection and the file is saved', testRefactor],
      ['the status bar shows the file\'s conversation: 1 turn after the refactor', testStatusTurns],
      ['"Codex: Ask…" from the command palette rewrites the selection with the instruction', testAsk],
      ['"Codex: Explain Selection" shows the answer and leaves the file alone', testExplain],
      ['the status bar follows the active editor: 0 turns for the explanation, 3 back in the file', testStatusFollowsEditor],
      ['clicking the status bar item while the model works cancels the request; nothing is applied', testCancel],
      ['"Codex: Show Conversation" shows the file\'s turns and last response id', testShowConversation],
      ['its "Reset Conversation" button resets the file\'s conversation: the status bar shows 0', testResetFromConversation],
    ]) {
      const start = Date.now();
      try {
        await fn(page);
        passed++;
        log(`ok   ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
        const shot = path.join(ARTIFACTS, `fail-${passed + failed}.png`);
        await page.screenshot({ path: shot }).catch(() => {});
        log(`FAIL ${name} (${((Date.now() - start) / 1000).toFixed(1)} s): ${e.message}`);
        log(`     screenshot: ${shot}`);
        const notifications = await page.locator('.notifications-toasts .notification-list-item-message').allInnerTexts().catch(() => []);
        if (notifications.length) log('     notifications:', JSON.stringify(notifications));
        await page.keyboard.press('Escape').catch(() => {});
      }
    }
  } catch (e) {
    log(`setup failed: ${e.message}`);
    try {
      const pages = browser.contexts().flatMap((c) => c.pages());
      if (pages[0]) {
        const shot = path.join(ARTIFACTS, 'setup.png');
        await pages[0].screenshot({ path: shot });
        log(`     screenshot: ${shot}`);
      }
    } catch {
      // no page
    }
    failed = TESTS - passed;
  } finally {
    await browser.close().catch(() => {});
  }
  fs.writeFileSync(SUMMARY, `${passed} passed, ${failed} failed\n`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
