// Measure the chat view in the real workbench (code-server + Chromium + playwright-core; the
// same setup as e2e.js, started by `E2E_DRIVER=test/e2e/bench.js bash scripts/e2e.sh`):
//  1. paint latency: the scripted model streams 2,000 words at 200 chunks/s; for every
//     text.delta the chat view receives, the page records the time from the server's event
//     timestamp (`at`) to the frame that shows it; p50/p95/max are reported;
//  2. opening a 2,000-event session: a turn with 1,000 tool calls (2 events each) is run, then
//     the session is opened from the Sessions tree into the chat view; the time from the click
//     to the newest part of the conversation on screen (the turn's end and its last card visible)
//     and to the whole history in the view (all 1,000 cards) are reported: once in the window
//     that ran it (its copy is shown, only newer events fetched), once in a reloaded window
//     (replayed from the store: its newest 200 events first, the older ones after).
// One run, on whatever load the machine has: the figures are indicative, not a gate.
// Writes artifacts/vscode/bench.json and prints the figures.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const url = process.env.E2E_URL;
const art = process.env.E2E_ARTIFACTS || path.join(__dirname, '..', '..', '..', '..', 'artifacts', 'vscode');
const model = process.env.E2E_MODEL_URL;
const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

async function script(entries) {
  const r = await fetch(`${model}/_control/script`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(entries) });
  if (!r.ok) throw new Error(`script: HTTP ${r.status}`);
}

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
}

async function palette(page, title) {
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10000 });
  await input.fill('>' + title);
  const row = page.locator('.quick-input-list .monaco-list-row').filter({ hasText: title }).first();
  await row.waitFor({ timeout: 10000 });
  await row.click();
}

/**
 * Click the big session in the Sessions tree. Two times from the click: until the newest part of
 * the conversation is on screen (the turn's end and its last card visible at the bottom of the
 * view: what the user sees first), and until the whole history is in the view (all 1,000 cards;
 * a long session opened from the store gets its older events after its newest page).
 */
async function openFromTree(page, chat) {
  const row = page.locator('.monaco-list-row[aria-level="1"]').filter({ hasText: 'Read calc.py a thousand times' }).first();
  await row.waitFor({ timeout: 30000 });
  await page.waitForTimeout(1000);
  const opened = Date.now();
  await row.click();
  await chat.locator('.footer.stop-done').first().waitFor({ state: 'visible', timeout: 60000 });
  await chat.locator('.card.tool').last().waitFor({ state: 'visible', timeout: 60000 });
  const clickToNewestVisibleMs = Date.now() - opened;
  await chat.locator('.card.tool').nth(999).waitFor({ state: 'attached', timeout: 60000 });
  await chat.locator('.older-loading').waitFor({ state: 'detached', timeout: 60000 });
  const clickToWholeHistoryMs = Date.now() - opened;
  let resets = [];
  let atBottom;
  for (const f of page.frames()) {
    const got = await f.evaluate(() => {
      const log = document.querySelector('.log');
      return [window.__minicodeResets || null, log ? log.scrollHeight - log.scrollTop - log.clientHeight < 40 : null];
    }).catch(() => [null, null]);
    if (Array.isArray(got[0])) {
      resets = got[0];
      atBottom = got[1];
    }
  }
  // this opening's renders: the newest page (or the whole session at once), then the older events
  const newest = resets.filter((r) => r.page === 'newest' || r.page === undefined).at(-1);
  const older = resets.filter((r) => r.page === 'older').at(-1);
  // where the time to the newest part went, from the click (clocks of one machine): until the
  // extension host ran the command, until it posted the session, until the page got it, until
  // the frame after its render; the rest is this driver noticing it
  const since = (t) => (typeof t === 'number' ? t - opened : undefined);
  const where = newest && {
    commandStartedMs: since(newest.startedAt), postedMs: since(newest.postedAt), pageReceivedMs: since(newest.receivedAt), paintedMs: since(newest.paintedAt),
  };
  return {
    events: older?.events ?? newest?.events, cards: await chat.locator('.card.tool').count(),
    clickToNewestVisibleMs, clickToWholeHistoryMs, newestPath: where,
    // the older events came above: the view still shows the newest part (it was at the bottom)
    stillAtBottom: atBottom,
    newestPage: newest && { events: newest.events, replayFetchMs: newest.fetchMs, reduceMs: newest.reduceMs, webviewRenderMs: newest.renderMs },
    olderEvents: older && { events: older.events, replayFetchMs: older.fetchMs, reduceMs: older.reduceMs, webviewRenderMs: older.renderMs },
    loadAverage1m: require('node:os').loadavg()[0],
  };
}

(async () => {
  fs.mkdirSync(art, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let rc = 1;
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  const chat = page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  const result = {};
  try {
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60000 });
    await page.locator('.statusbar-item').filter({ hasText: /MiniCode: (ready|degraded)/ }).first().waitFor({ timeout: 90000 });
    await palette(page, 'MiniCode: Open Chat');
    const box = chat.locator('textarea.prompt');
    await box.waitFor({ timeout: 30000 });
    log('chat view open');

    // ---------------------------------------------------------------- 1. streaming
    const words = [];
    for (let i = 0; i < 2000; i++) words.push(i % 100 === 99 ? `w${i}.\n\n` : i % 37 === 0 ? `\`code${i}\` ` : `word${i} `);
    await script([{ text: words.join(''), chunk_delay_s: 0.005 }]);
    await box.fill('Stream a long answer');
    const started = Date.now();
    await box.press('Enter');
    await chat.locator('.footer.stop-done').first().waitFor({ timeout: 180000 });
    const streamS = (Date.now() - started) / 1000;
    const frame = page.frames().find((f) => f.url().includes('fake.html') || f.name() === 'active-frame') ||
      page.frames().find((f) => /webview/.test(f.url()) && f !== page.mainFrame() && f.parentFrame() !== page.mainFrame());
    let samples = [];
    let fromHost = [];
    for (const f of page.frames()) {
      const got = await f.evaluate(() => [window.__minicodePaint || null, window.__minicodePaintFromHost || null]).catch(() => [null, null]);
      if (Array.isArray(got[0])) samples = got[0];
      if (Array.isArray(got[1])) fromHost = got[1];
    }
    void frame;
    result.stream = {
      modelChunks: 2000,
      modelChunksPerSecond: 200,
      turnSeconds: Number(streamS.toFixed(2)),
      textDeltaPaints: samples.length,
      paintMsP50: pct(samples, 50),
      paintMsP95: pct(samples, 95),
      paintMsMax: Math.max(...samples),
      // the same, counted from the extension host's receipt of the event (what the chat view adds)
      fromExtensionHostMsP50: pct(fromHost, 50),
      fromExtensionHostMsP95: pct(fromHost, 95),
      loadAverage1m: require('node:os').loadavg()[0],
    };
    log('stream:', JSON.stringify(result.stream));
    await page.screenshot({ path: path.join(art, 'bench-stream.png') });

    // ---------------------------------------------------------------- 2. a 2,000-event session
    const calls = [];
    for (let i = 0; i < 1000; i++) calls.push({ name: 'read_file', arguments: { path: 'calc.py' } });
    await script([{ text: 'Reading calc.py a thousand times.', tool_calls: calls }, { text: 'Read it 1000 times.' }]);
    await chat.getByRole('button', { name: 'New chat' }).click();
    await box.fill('Read calc.py a thousand times');
    await box.press('Enter');
    await chat.locator('.footer.stop-done').first().waitFor({ timeout: 600000 });
    const cards = await chat.locator('.card.tool').count();
    log('big session ran,', cards, 'cards');
    await chat.getByRole('button', { name: 'New chat' }).click();
    await chat.locator('.empty').waitFor({ timeout: 10000 });
    result.open = await openFromTree(page, chat);
    result.open.fromThisWindowsCopy = result.open.newestPage?.replayFetchMs === 0;
    log('open:', JSON.stringify(result.open));
    await page.screenshot({ path: path.join(art, 'bench-open.png') });

    // ---------------------------------------------------------------- 3. the same, cold
    // a reloaded window (a new extension host): the session is replayed from the store
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.locator('.statusbar-item').filter({ hasText: /MiniCode: (ready|degraded)/ }).first().waitFor({ timeout: 90000 });
    await palette(page, 'MiniCode: Open Chat');
    await chat.locator('textarea.prompt').waitFor({ timeout: 30000 });
    result.openCold = await openFromTree(page, chat);
    log('open (cold):', JSON.stringify(result.openCold));
    await page.screenshot({ path: path.join(art, 'bench-open-cold.png') });
    rc = 0;
  } catch (e) {
    log('FAILED:', e.message.split('\n')[0]);
    await page.screenshot({ path: path.join(art, 'bench-failure.png') }).catch(() => undefined);
  } finally {
    await browser.close();
  }
  fs.writeFileSync(path.join(art, 'bench.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result));
  console.log(rc === 0 ? 'BENCH DONE' : 'BENCH FAILED');
  process.exit(rc);
})();
