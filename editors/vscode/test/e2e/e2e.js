// Drive the real VS Code workbench (code-server) in Debian's Chromium with playwright-core:
// run "MiniCode: Run Task…" from the palette, watch the transcript stream and the file change,
// find the session and its edit group in the side panel, preview the rewind (diff + Refactor
// Preview), apply it, check the text is restored, and check the readiness status item.
// Run by scripts/e2e.sh, which sets E2E_URL, E2E_WS and E2E_ARTIFACTS.
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

    await step('open calc.py', async () => {
      const row = page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: 'calc.py' }).first();
      await row.waitFor({ timeout: 30000 });
      await row.click();
      await editorWith(page, 'return a - b').first().waitFor({ timeout: 15000 });
      await editorWith(page, 'return a - b').first().click();
    });

    await step('run "MiniCode: Run Task…" from the palette', async () => {
      await palette(page, 'MiniCode: Run Task…');
      const input = page.locator('.quick-input-widget input');
      await page.locator('.quick-input-widget').filter({ hasText: 'What should MiniCode do?' }).waitFor({ timeout: 15000 });
      await input.fill(PROMPT);
      await page.keyboard.press('Enter');
    });

    await step('the transcript streams the turn', async () => {
      await editorWith(page, 'MiniCode:').first().waitFor({ timeout: 30000 });
      // streaming: the edit shows while the turn still runs (the scripted model waits a second
      // before each of its last two replies)
      await page.waitForFunction(() => [...document.querySelectorAll('.monaco-editor .view-lines')]
        .map((e) => (e.textContent || '').replace(/\u00a0/g, ' '))
        .some((t) => t.includes('edit_file') && t.includes('running…')), null, { timeout: 45000 });
      log('transcript shows the edit while the turn runs');
      await shot(page, 'transcript-running');
      await editorWith(page, 'Stop reason: done').first().waitFor({ timeout: 60000 });
      await editorWith(page, 'files changed').first().waitFor({ timeout: 5000 });
      await page.waitForTimeout(500);
      await shot(page, 'transcript');
    });

    await step('the agent\'s change is in the editor, and saved (the buffer had no unsaved changes)', async () => {
      await editorWith(page, 'return a + b').first().waitFor({ timeout: 15000 });
      const onDisk = () => require('fs').readFileSync(require('path').join(ws, 'calc.py'), 'utf8');
      for (let i = 0; i < 50 && !onDisk().includes('return a + b'); i++) await page.waitForTimeout(200);
      if (!onDisk().includes('return a + b')) throw new Error('calc.py on disk lacks the agent\'s edit: ' + onDisk());
    });

    await step('the server\'s source action "preview rewind of agent edits in this file" opens the preview list', async () => {
      await editorWith(page, 'return a + b').first().click();
      await palette(page, 'Source Action...');
      const action = page.locator('.action-widget .monaco-list-row').filter({ hasText: 'preview rewind of agent edits in this file' }).first();
      await action.waitFor({ timeout: 15000 });
      // the action widget takes keys: move the focus to the item, then Enter
      const focused = page.locator('.action-widget .monaco-list-row.focused');
      for (let i = 0; i < 5 && !((await focused.textContent().catch(() => '')) || '').includes('preview rewind of agent edits'); i++) {
        await page.keyboard.press('ArrowDown');
      }
      await page.keyboard.press('Enter');
      await page.locator('.quick-input-widget').filter({ hasText: "rewind the agent's edits in calc.py" }).waitFor({ timeout: 20000 });
      await shot(page, 'source-action-preview');
      await quickPick(page, 'Cancel');
    });

    await step('the session and its edit group are in the side panel', async () => {
      await palette(page, 'MiniCode: Show Sessions');
      await widenSidebar(page, 220).catch((e) => log('could not widen the side bar:', e.message));
      const session = page.locator('.monaco-list-row').filter({ hasText: PROMPT }).first();
      await session.waitFor({ timeout: 20000 });
      await session.click(); // expand: its turns, whose edit groups show expanded
      const file = page.locator('.monaco-list-row').filter({ hasText: 'calc.py' }).filter({ hasText: 'modify' }).first();
      const group = page.locator('.monaco-list-row[aria-level="3"]').first();
      await group.waitFor({ timeout: 20000 });
      log('edit group row:', (await group.innerText()).replace(/\s+/g, ' ').trim());
      await group.click(); // expand the group: its files
      await file.waitFor({ timeout: 20000 });
      await page.waitForTimeout(300);
      await shot(page, 'side-panel');
    });

    await step('a file of the group opens the diff of the agent\'s change', async () => {
      await page.locator('.monaco-list-row[aria-level="4"]').filter({ hasText: 'calc.py' }).first().click();
      await page.locator('.tab').filter({ hasText: "before the agent's change" }).first().waitFor({ timeout: 20000 });
      await page.locator('.monaco-diff-editor').first().waitFor({ timeout: 15000 });
      await page.waitForTimeout(500);
      await shot(page, 'agent-diff');
    });

    await step('preview the rewind of the edit group: per-file diff', async () => {
      const group = page.locator('.monaco-list-row[aria-level="3"]').first();
      await contextMenu(page, group, 'Preview Rewind to Here');
      await page.locator('.quick-input-widget').filter({ hasText: 'Apply rewind' }).waitFor({ timeout: 20000 });
      await quickPick(page, 'calc.py');
      await page.locator('.monaco-diff-editor').first().waitFor({ timeout: 15000 });
      await page.waitForTimeout(800);
      await shot(page, 'rewind-diff');
    });

    await step('apply: VS Code\'s Refactor Preview shows the file', async () => {
      await quickPick(page, 'Apply rewind');
      const apply = page.getByRole('button', { name: 'Apply' }).first();
      await apply.waitFor({ timeout: 20000 });
      await page.locator('.bulk-edit-panel').filter({ hasText: 'calc.py' }).first().waitFor({ timeout: 10000 });
      await page.waitForTimeout(800);
      await shot(page, 'rewind-preview');
      // edits that need confirmation start unchecked: tick them, then Apply
      const boxes = page.locator('.bulk-edit-panel .edit-checkbox');
      log('checkboxes in the Refactor Preview:', await boxes.count());
      await boxes.first().click();
      await page.waitForTimeout(300);
      await apply.click();
    });

    await step('the file\'s text is restored', async () => {
      await page.getByText(/rewind applied/).first().waitFor({ timeout: 20000 });
      await onlyEditorsWith(page, 'return a - b', 'return a + b');
      const onDisk = () => require('fs').readFileSync(require('path').join(ws, 'calc.py'), 'utf8');
      for (let i = 0; i < 50 && !onDisk().includes('return a - b'); i++) await page.waitForTimeout(200);
      if (!onDisk().includes('return a - b')) throw new Error('calc.py on disk was not restored: ' + onDisk());
      await shot(page, 'rewound');
    });

    await step('"MiniCode: Undo Rewind" brings the agent\'s change back (confirmed in the Refactor Preview)', async () => {
      await palette(page, 'MiniCode: Undo Rewind');
      const apply = page.getByRole('button', { name: 'Apply' }).first();
      await apply.waitFor({ timeout: 20000 });
      await page.locator('.bulk-edit-panel').filter({ hasText: 'calc.py' }).first().waitFor({ timeout: 10000 });
      await page.locator('.bulk-edit-panel .edit-checkbox').first().click();
      await page.waitForTimeout(300);
      await apply.click();
      await page.getByText('MiniCode: rewind undone.').first().waitFor({ timeout: 20000 });
      // no editor showed it after the rewind; the preview's diff still shows the restored text
      await editorWith(page, 'return a + b').first().waitFor({ timeout: 15000 });
      await shot(page, 'undo-rewind');
    });

    await step('the status item opens the readiness report', async () => {
      const item = page.locator('.statusbar-item').filter({ hasText: /MiniCode: (ready|degraded)/ }).first();
      await item.waitFor({ timeout: 15000 });
      await item.click();
      await editorWith(page, 'MiniCode readiness').first().waitFor({ timeout: 30000 });
      await page.waitForTimeout(300);
      await shot(page, 'readiness');
    });
    await step('replay and export the session from its context menu', async () => {
      const session = page.locator('.monaco-list-row[aria-level="1"]').filter({ hasText: PROMPT }).first();
      await contextMenu(page, session, 'Replay Session');
      await page.locator('.tab').filter({ hasText: /^Replay / }).first().waitFor({ timeout: 20000 });
      await editorWith(page, 'Stop reason: done').first().waitFor({ timeout: 10000 });
      await contextMenu(page, session, 'Export Session');
      await quickPick(page, 'Markdown');
      await editorWith(page, '**Prompt**').first().waitFor({ timeout: 20000 });
      await page.waitForTimeout(300);
      await shot(page, 'export');
    });

    await step('resume the session with a second prompt', async () => {
      const session = page.locator('.monaco-list-row[aria-level="1"]').filter({ hasText: PROMPT }).first();
      await contextMenu(page, session, 'Resume Session…');
      await page.locator('.quick-input-widget').filter({ hasText: 'continue the session' }).waitFor({ timeout: 15000 });
      await page.locator('.quick-input-widget input').fill('Anything else?');
      await page.keyboard.press('Enter');
      await editorWith(page, 'Turn 2: Anything else?').first().waitFor({ timeout: 30000 });
      await page.waitForFunction(() => [...document.querySelectorAll('.monaco-editor .view-lines')]
        .some((e) => (e.textContent || '').replace(/\u00a0/g, ' ').split('Stop reason').length === 3), null, { timeout: 60000 });
      await page.locator('.monaco-list-row[aria-level="2"]').filter({ hasText: '2. Anything else?' }).first().waitFor({ timeout: 20000 });
      await shot(page, 'resumed');
    });

    await step('"MiniCode: Cancel Task" stops a running turn', async () => {
      // the model takes 30 s to answer the next request
      const r = await fetch(`${process.env.E2E_MODEL_URL}/_control/enqueue`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([{ text: 'Still thinking.', delay_s: 30 }]),
      });
      if (!r.ok) throw new Error(`enqueue: HTTP ${r.status}`);
      const session = page.locator('.monaco-list-row[aria-level="1"]').filter({ hasText: PROMPT }).first();
      await contextMenu(page, session, 'Resume Session…');
      await page.locator('.quick-input-widget').filter({ hasText: 'continue the session' }).waitFor({ timeout: 15000 });
      await page.locator('.quick-input-widget input').fill('Take your time');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => [...document.querySelectorAll('.monaco-editor .view-lines')]
        .map((e) => (e.textContent || '').replace(/\u00a0/g, ' '))
        .some((t) => t.includes('Turn 3: Take your time') && t.includes('running…')), null, { timeout: 30000 });
      await page.waitForTimeout(1000);
      await palette(page, 'MiniCode: Cancel Task');
      await page.getByText('MiniCode: task cancelled.').first().waitFor({ timeout: 20000 });
      await editorWith(page, 'Stop reason: cancelled').first().waitFor({ timeout: 20000 });
      await shot(page, 'cancelled');
    });

    await step('"MiniCode: Preview Rewind…" from the palette offers targets, then the files', async () => {
      await palette(page, 'MiniCode: Preview Rewind…');
      await quickPick(page, 'Whole session');
      await page.locator('.quick-input-widget').filter({ hasText: 'rewind the latest session' }).waitFor({ timeout: 20000 });
      await page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: 'calc.py' }).first().waitFor({ timeout: 10000 });
      await shot(page, 'palette-preview');
      await quickPick(page, 'Cancel');
    });

    await step('delete the session from its context menu', async () => {
      const session = page.locator('.monaco-list-row[aria-level="1"]').filter({ hasText: PROMPT }).first();
      await contextMenu(page, session, 'Delete Session');
      await page.locator('.monaco-dialog-box').getByRole('button', { name: 'Delete' }).click();
      await session.waitFor({ state: 'detached', timeout: 20000 });
      await page.getByText('No MiniCode sessions in this workspace yet.').first().waitFor({ timeout: 10000 });
    });

    await step('a missing server command: a clear error with "Show Logs"', async () => {
      // a workspace setting (the user settings file is not watched reliably in code-server)
      fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
      fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'minicode.server.command': ['minicode-lsp-not-installed', 'serve'] }));
      const toast = page.locator('.notification-toast').filter({ hasText: 'minicode-lsp-not-installed' }).first();
      await toast.waitFor({ timeout: 30000 });
      log('error:', (await toast.locator('.notification-list-item-message').first().innerText()).trim());
      await page.locator('.statusbar-item').filter({ hasText: 'MiniCode: server failed' }).first().waitFor({ timeout: 10000 });
      await toast.getByRole('button', { name: 'Show Logs' }).click();
      await page.locator('.panel').filter({ hasText: 'was not found' }).first().waitFor({ timeout: 15000 });
      await page.waitForTimeout(300);
      await shot(page, 'server-not-found');
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
