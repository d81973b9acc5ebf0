// Drive the real VS Code workbench (code-server) in Debian's Chromium with playwright-core, in
// ASK mode, through the MiniCode chat view: type a prompt, watch the answer stream, approve one
// edit inline, reject another, approve a command inline and see its output and exit code,
// follow up in the same session (with an @ mention of a file picked from the suggestions) (a failing command, allowed for the session), stop a running
// turn, preview and apply a rewind from a checkpoint card, open a session from the Sessions
// tree (replayed from the store), and recover from a wrong server command without dismissing
// its toast. Screenshots of each state land in artifacts/vscode/.
// Run by scripts/e2e.sh, which sets E2E_URL, E2E_WS, E2E_ARTIFACTS and E2E_MODEL_URL.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const url = process.env.E2E_URL;
const ws = process.env.E2E_WS;
const art = process.env.E2E_ARTIFACTS || path.join(__dirname, '..', '..', '..', '..', 'artifacts', 'vscode');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const PROMPT = 'Fix the add function in calc.py';

const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);
const onDisk = (name) => fs.readFileSync(path.join(ws, name), 'utf8');

async function shot(page, name) {
  const file = path.join(art, `${name}.png`);
  await page.screenshot({ path: file }).catch((e) => log(`screenshot ${name} failed: ${e.message}`));
  log('screenshot ->', file);
}

/** Run a command from the palette by its title (again if the palette closes under us). */
async function palette(page, title) {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 0; ; attempt++) {
    try {
      await page.keyboard.press('Escape');
      if (attempt > 0) await page.locator('.part.statusbar').click({ position: { x: 700, y: 5 } }).catch(() => {});
      await page.keyboard.press(attempt % 2 ? 'Control+Shift+P' : 'F1');
      await input.waitFor({ state: 'visible', timeout: 5000 });
      await input.fill('>' + title, { timeout: 5000 });
      const row = page.locator('.quick-input-list .monaco-list-row').filter({ hasText: title }).first();
      await row.waitFor({ timeout: 10000 });
      await row.click({ timeout: 5000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      log(`palette: ${e.message.split('\n')[0]} (attempt ${attempt + 1}), again`);
    }
  }
}

/** Run an item of a tree row's context menu (Enter on it when the click does not take). */
async function contextMenu(page, row, text) {
  await row.click({ button: 'right' });
  const item = page.locator('.monaco-menu .action-item').filter({ hasText: text }).first();
  await item.waitFor({ timeout: 15000 });
  await page.waitForTimeout(200); // let the menu settle
  await item.hover();
  await item.click();
  const menu = page.locator('.monaco-menu');
  try {
    await menu.first().waitFor({ state: 'detached', timeout: 1500 });
  } catch {
    log(`context menu still open after clicking "${text}": Enter`);
    await item.hover();
    await page.keyboard.press('Enter');
    await menu.first().waitFor({ state: 'detached', timeout: 5000 });
  }
}

/** Pick a row of the open quick pick whose text matches. */
async function quickPick(page, text) {
  const row = page.locator('.quick-input-widget .quick-input-list .monaco-list-row').filter({ hasText: text }).first();
  await row.waitFor({ timeout: 15000 });
  await row.click();
}

/** Editor lines (Monaco renders only what is visible: keep the documents short). */
function editorWith(page, text) {
  return page.locator('.monaco-editor .view-lines').filter({ hasText: text });
}

/** Wait until some editor shows `want` and none shows `unwanted` (Monaco uses nbsp for spaces). */
async function onlyEditorsWith(page, want, unwanted) {
  await page.waitForFunction(([w, u]) => {
    const lines = [...document.querySelectorAll('.monaco-editor .view-lines')].map((e) => (e.textContent || '').replace(/\u00a0/g, ' '));
    return lines.some((t) => t.includes(w)) && !lines.some((t) => t.includes(u));
  }, [want, unwanted], { timeout: 15000 });
}

/** Drag the sash right of the side bar, so the tree's descriptions show in the screenshots. */
async function widenSidebar(page, by) {
  const box = await page.locator('.part.sidebar').boundingBox();
  if (!box) return;
  const x = box.x + box.width;
  const y = box.y + box.height / 2;
  await page.mouse.move(x - 1, y);
  await page.mouse.down();
  await page.mouse.move(x + by / 2, y, { steps: 5 });
  await page.mouse.move(x + by, y, { steps: 5 });
  await page.mouse.up();
}


/** The chat view's page (a webview: an iframe in an iframe). */
function chatFrame(page) {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

/** Wait for the disk copy of a file to satisfy `ok`. */
async function waitDisk(page, name, ok, what) {
  for (let i = 0; i < 75 && !ok(onDisk(name)); i++) await page.waitForTimeout(200);
  if (!ok(onDisk(name))) throw new Error(`${name} on disk: ${what}: ${onDisk(name)}`);
}

/** Type a prompt in the chat view and send it with Enter. */
async function ask(chat, text) {
  const box = chat.locator('textarea.prompt');
  await box.click();
  await box.fill(text);
  await box.press('Enter');
}

/** The pending approval card (its buttons work) containing `text`. */
function pendingCard(chat, text) {
  return chat.locator('.card.needs-you').filter({ hasText: text }).first();
}

/**
 * The card's button `name` is in the visible part of the conversation before it is clicked
 * (Playwright's click scrolls by itself, so a click alone would not notice buttons left below
 * the fold or under the prompt box).
 */
async function buttonInView(card, name) {
  const button = card.getByRole('button', { name, exact: true });
  await button.waitFor({ timeout: 10000 });
  let where;
  for (let i = 0; i < 20; i++) {
    where = await button.evaluate((b) => {
      const r = b.getBoundingClientRect();
      const log = b.closest('.log').getBoundingClientRect();
      const composer = document.querySelector('.composer').getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, logTop: log.top, logBottom: log.bottom, composerTop: composer.top };
    });
    if (where.top >= where.logTop && where.bottom <= where.logBottom && where.bottom <= where.composerTop) return button;
    await card.page().waitForTimeout(100);
  }
  throw new Error(`the ${name} button is not in the visible part of the conversation: ${JSON.stringify(where)}`);
}

async function step(name, fn) {
  log('--', name);
  await fn();
}

(async () => {
  fs.mkdirSync(art, { recursive: true });
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let rc = 1;
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on('pageerror', (e) => log('pageerror:', e.message.split('\n')[0]));
  const chat = chatFrame(page);
  try {
    await step('open the workbench', async () => {
      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60000 });
      await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    });

    await step('the readiness status item shows the server is ready', async () => {
      const item = page.locator('.statusbar-item').filter({ hasText: /MiniCode: (ready|degraded)/ }).first();
      const failed = page.locator('.statusbar-item').filter({ hasText: /MiniCode: (server failed|blocked)/ }).first();
      await item.or(failed).waitFor({ timeout: 90000 });
      if (await failed.isVisible()) throw new Error(`the status item says "${(await failed.innerText()).trim()}" (see logs/…/MiniCode.log)`);
      log('status item:', (await item.innerText()).trim());
    });

    await step('open the chat view (MiniCode: Open Chat)', async () => {
      await palette(page, 'MiniCode: Open Chat');
      await chat.locator('textarea.prompt').waitFor({ timeout: 30000 });
      await widenSidebar(page, 260).catch((e) => log('could not widen the side bar:', e.message));
      await chat.locator('.provider').filter({ hasText: 'scripted' }).waitFor({ timeout: 30000 });
      log('provider shown:', (await chat.locator('.provider').innerText()).trim());
      const mode = await chat.locator('select.mode').inputValue();
      if (mode !== 'ask') throw new Error(`the mode picker says ${mode}, not ask`);
    });

    await step('type a prompt: the answer streams as rendered Markdown', async () => {
      await ask(chat, PROMPT);
      await chat.locator('.user .prompt-text').filter({ hasText: PROMPT }).waitFor({ timeout: 20000 });
      // streaming: part of the text shows before the whole reply is there
      const text = chat.locator('.markdown').first();
      await text.waitFor({ timeout: 30000 });
      const partial = (await text.innerText()).trim();
      await chat.locator('.markdown strong').filter({ hasText: 'calc.py' }).waitFor({ timeout: 30000 });
      log(`streamed: "${partial}" … then "${(await text.innerText()).trim()}"`);
      if (partial.length >= (await text.innerText()).trim().length) log('(the first read already had the whole text)');
      await chat.locator('.markdown code').filter({ hasText: 'a + b' }).first().waitFor({ timeout: 5000 });
      // the model's reasoning (thought.delta): folded above the answer
      const thought = chat.locator('details.thought').first();
      await thought.waitFor({ timeout: 5000 });
      if (await thought.evaluate((d) => d.open)) throw new Error('the reasoning is not folded');
      log('reasoning:', (await thought.locator('summary').innerText()).trim());
      await shot(page, 'chat-streaming');
    });

    await step('approve the edit inline: its diff shows in the card, the file changes', async () => {
      const card = pendingCard(chat, 'calc.py');
      await card.waitFor({ timeout: 30000 });
      await card.locator('pre.diff .add').filter({ hasText: 'return a + b' }).waitFor({ timeout: 5000 });
      log('approval card:', (await card.locator('.card-head').innerText()).trim());
      await shot(page, 'chat-approve-edit');
      await (await buttonInView(card, 'Approve')).click();
      await waitDisk(page, 'calc.py', (t) => t.includes('return a + b'), 'the approved edit is missing');
      await chat.locator('.card.tool.edit .verdict.approved').first().waitFor({ timeout: 15000 });
    });

    await step('reject the second edit inline: the file keeps its text', async () => {
      const card = pendingCard(chat, 'calc.py');
      await card.waitFor({ timeout: 30000 });
      await card.locator('pre.diff .add').filter({ hasText: 'Add two numbers' }).waitFor({ timeout: 5000 });
      await shot(page, 'chat-reject-edit');
      await (await buttonInView(card, 'Reject')).click();
      await chat.locator('.card.tool.edit .verdict.rejected').first().waitFor({ timeout: 15000 });
      // titled for what happened: nothing was edited
      const head = (await chat.locator('.card.tool.edit.declined .headline').first().innerText()).trim();
      if (head !== 'Rejected edit of calc.py') throw new Error(`the rejected edit's card is titled "${head}"`);
      await page.waitForTimeout(500);
      if (onDisk('calc.py').includes('Add two numbers')) throw new Error('the rejected edit was applied');
    });

    await step('approve a command inline: its output and exit code show', async () => {
      const card = pendingCard(chat, 'calc.add(2, 3)');
      await card.waitFor({ timeout: 30000 });
      await card.locator('pre.command-line').waitFor({ timeout: 5000 });
      await shot(page, 'chat-approve-command');
      await (await buttonInView(card, 'Approve')).click();
      const done = chat.locator('.card.tool.command.ok').filter({ hasText: 'exit code 0' }).first();
      await done.waitFor({ timeout: 30000 });
      await done.locator('pre.output').filter({ hasText: 'add(2, 3) = 5' }).waitFor({ timeout: 5000 });
    });

    await step('the turn ends with its stop reason, tokens and time', async () => {
      const footer = chat.locator('.footer.stop-done').first();
      await footer.waitFor({ timeout: 60000 });
      const said = (await footer.innerText()).trim();
      log('footer:', said);
      if (!/^done · \d+ tokens .* · [\d.]+ s/.test(said)) throw new Error(`unexpected footer: ${said}`);
      await chat.locator('.checkpoint').first().waitFor({ timeout: 5000 });
      await page.waitForTimeout(300);
      await shot(page, 'chat-done');
    });

    await step('the approved edit is marked in the editor (agent edit lines)', async () => {
      await page.keyboard.press('Escape');
      await page.keyboard.press('Control+P');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ state: 'visible', timeout: 10000 });
      await input.fill('calc.py');
      await page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'calc.py' }).first().waitFor({ timeout: 10000 });
      await page.keyboard.press('Enter');
      await editorWith(page, 'return a + b').first().waitFor({ timeout: 15000 });
      const marked = page.locator('.monaco-editor .view-overlays div[class*="ced-"]');
      await marked.first().waitFor({ state: 'attached', timeout: 10000 });
      log('marked lines:', await marked.count());
      await page.waitForTimeout(300);
      await shot(page, 'agent-marks');
    });

    await step('follow up in the same view, mentioning a file with @: a failing command, allowed for the session, is marked failed', async () => {
      const box = chat.locator('textarea.prompt');
      await box.click();
      await box.fill('');
      await box.pressSequentially('Run the test suite for @calc', { delay: 20 });
      const option = chat.locator('#mention-list [role="option"]').filter({ hasText: 'calc.py' }).first();
      await option.waitFor({ timeout: 15000 });
      await shot(page, 'chat-mention');
      await box.press('Enter'); // picks the suggestion
      const typed = await box.inputValue();
      if (typed !== 'Run the test suite for @calc.py ') throw new Error(`after picking the mention the prompt is "${typed}"`);
      await box.press('Enter'); // sends
      // the model was told which file was mentioned (context.files)
      for (let i = 0; i < 50; i++) {
        const requests = await (await fetch(`${process.env.E2E_MODEL_URL}/_control/requests`)).json();
        if (JSON.stringify(requests).includes('Files the user mentioned (read them before relying on them): calc.py')) break;
        if (i === 49) throw new Error('the mentioned file never reached the model');
        await page.waitForTimeout(200);
      }
      const card = pendingCard(chat, 'FAILED');
      await card.waitFor({ timeout: 30000 });
      await card.getByRole('button', { name: 'Allow for this session' }).click();
      const failed = chat.locator('.card.tool.command.failed').filter({ hasText: 'exit code 1' }).first();
      await failed.waitFor({ timeout: 30000 });
      await failed.locator('.badge.failed').waitFor({ timeout: 5000 });
      await chat.locator('.footer[class*="stop-"]').nth(1).waitFor({ timeout: 60000 });
      const turns = await chat.locator('section.turn').count();
      if (turns !== 2) throw new Error(`expected 2 turns in the view, found ${turns}`);
      await page.waitForTimeout(300);
      await shot(page, 'chat-follow-up');
    });

    await step('stop a running turn with Stop', async () => {
      const r = await fetch(`${process.env.E2E_MODEL_URL}/_control/enqueue`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ text: 'Still thinking.', delay_s: 30 }]),
      });
      if (!r.ok) throw new Error(`enqueue: HTTP ${r.status}`);
      await ask(chat, 'Take your time');
      const stop = chat.getByRole('button', { name: 'Stop' });
      await stop.waitFor({ timeout: 20000 });
      await page.waitForTimeout(1000);
      await stop.click();
      await chat.locator('.footer.stop-cancelled').first().waitFor({ timeout: 30000 });
      await chat.getByRole('button', { name: 'Send' }).waitFor({ timeout: 10000 });
      await shot(page, 'chat-stopped');
    });

    await step('a checkpoint card previews the rewind; apply it', async () => {
      await chat.locator('.checkpoint').first().getByRole('button', { name: 'Preview rewind to here' }).click();
      await page.locator('.quick-input-widget').filter({ hasText: 'Apply rewind' }).waitFor({ timeout: 20000 });
      await quickPick(page, 'calc.py');
      await page.locator('.monaco-diff-editor').first().waitFor({ timeout: 15000 });
      // the list is gone: nothing covers the diff; its title bar answers
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5000 });
      await page.waitForTimeout(800);
      await shot(page, 'chat-rewind-preview');
      await page.locator('.editor-actions .action-label[aria-label^="MiniCode: Apply Rewind"]').first().click({ timeout: 10000 });
      // the preview was the one confirmation: applied without a second one (no Refactor Preview)
      await page.getByText(/rewind applied/).first().waitFor({ timeout: 20000 });
      if (await page.locator('.bulk-edit-panel').count()) throw new Error('a second confirmation opened: the Refactor Preview');
      await waitDisk(page, 'calc.py', (t) => t.includes('return a - b'), 'not rewound');
    });

    await step('a session picked in the Sessions tree opens in the chat view (from this window\'s copy: it saw every event; bench.js measures a cold open, replayed from the store)', async () => {
      await chat.getByRole('button', { name: 'New chat' }).click();
      await chat.locator('.empty').waitFor({ timeout: 10000 });
      const session = page.locator('.monaco-list-row[aria-level="1"]').filter({ hasText: PROMPT }).first();
      await session.waitFor({ timeout: 20000 });
      const sessions = await page.locator('.monaco-list-row[aria-level="1"]').filter({ hasText: PROMPT }).count();
      if (sessions !== 1) throw new Error(`expected one session, found ${sessions} (a prompt sent twice?)`);
      await session.click();
      await chat.locator('section.turn').nth(2).waitFor({ timeout: 20000 });
      await chat.locator('.card.tool.command.failed').filter({ hasText: 'exit code 1' }).first().waitFor({ timeout: 10000 });
      await page.waitForTimeout(500);
      await shot(page, 'chat-replayed');
    });

    await step('a wrong server command: a clear error; fixing it restarts the server without dismissing the toast', async () => {
      // a workspace setting (the user settings file is not watched reliably in code-server)
      const settings = path.join(ws, '.vscode', 'settings.json');
      fs.mkdirSync(path.dirname(settings), { recursive: true });
      fs.writeFileSync(settings, JSON.stringify({ 'minicode.server.command': ['minicode-lsp-not-installed', 'serve'] }));
      const toast = page.locator('.notification-toast').filter({ hasText: 'minicode-lsp-not-installed' }).first();
      await toast.waitFor({ timeout: 30000 });
      log('error:', (await toast.locator('.notification-list-item-message').first().innerText()).trim());
      await page.locator('.statusbar-item').filter({ hasText: 'MiniCode: server failed' }).first().waitFor({ timeout: 10000 });
      await shot(page, 'server-not-found');
      // its Open Settings lands on the setting, on the tab where it applies (Remote in code-server)
      await toast.getByRole('button', { name: 'Open Settings' }).click();
      const editor = page.locator('.settings-editor');
      await editor.locator('.setting-item-contents').filter({ hasText: 'Command' }).filter({ hasText: 'minicode-lsp' }).first().waitFor({ timeout: 20000 });
      const tab = (await editor.locator('.settings-tabs-widget .action-label.checked').first().innerText({ timeout: 5000 }).catch(() => '?')).trim();
      log('Open Settings shows minicode.server.command on the tab:', tab);
      if (/^User$/i.test(tab)) throw new Error('Open Settings opened the User tab (the machine setting does not apply there in a remote window)');
      await shot(page, 'open-settings');
      fs.writeFileSync(settings, JSON.stringify({}));
      await page.locator('.statusbar-item').filter({ hasText: /MiniCode: (ready|degraded|checking|starting)/ }).first().waitFor({ timeout: 30000 });
      log('the server restarted');
    });
    rc = 0;
  } catch (e) {
    log('FAILED:', e.message.split('\n')[0]);
    await shot(page, 'failure');
  } finally {
    await browser.close();
  }
  if (ws) log('workspace:', ws);
  console.log(rc === 0 ? 'E2E PASSED' : 'E2E FAILED');
  process.exit(rc);
})();
