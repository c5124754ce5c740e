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
'use strict';

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

const TESTS = 4;
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

// ------------------------------------------------------------------ tests

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
}

async function testCancel(page) {
  // The fake answers 429 "try again in 30s": the server waits before retrying, its progress is on, and a click on
  // the status bar item cancels it (window/workDoneProgress/cancel). Nothing may be applied.
  const before = readDisk();
  const nBefore = fakeRequests().length;
  const item = page.locator('[id="codex-lsp.codex-lsp.codexLsp.status"]');
  // Explain left its Markdown answer in front (and Quick Open would pick src_calc.py.md too): click the tab.
  const tab = `.tab[data-resource-name="${path.basename(REL)}"]`;
  await waitFor(`the ${path.basename(REL)} tab in front`, async () => {
    if (await page.locator(`${tab}.active`).count()) return true;
    await page.locator(tab).first().click({ timeout: 2000 });
    return false;
  }, 10000, 300);
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
    const item = page.locator('[id="codex-lsp.codex-lsp.codexLsp.status"]');
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
      ['code action "Codex: Refactor" (Ctrl+.) rewrites the selection and the file is saved', testRefactor],
      ['"Codex: Ask…" from the command palette rewrites the selection with the instruction', testAsk],
      ['"Codex: Explain Selection" shows the answer and leaves the file alone', testExplain],
      ['clicking the status bar item while the model works cancels the request; nothing is applied', testCancel],
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
