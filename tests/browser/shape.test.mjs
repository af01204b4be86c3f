// The draw panel of a report whose images are not square (20×30): a stroke drawn on the pad
// becomes a 20×30 input, and the page's logits for it are written out for the Rust test to
// recompute with bilens.
//
//   node shape.test.mjs REPORT.html OUT.json
//
// OUT.json: { "run": run id, "input": [...], "logits": [...], "base_logits": [...], "problems": [...] }

import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [reportPath, outPath] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
const problems = [];
page.on('console', m => { if (m.type() === 'error') { problems.push('console error: ' + m.text()); } });
page.on('pageerror', e => problems.push('page error: ' + e.message));
await page.goto('file://' + reportPath, { waitUntil: 'load' });
await page.evaluate(() => window.bilensPanel.ready);
await page.locator('#draw').scrollIntoViewIfNeeded();
// A horizontal bar across the middle of the pad.
const box = await page.locator('#pad').boundingBox();
await page.mouse.move(box.x + 0.2 * box.width, box.y + 0.5 * box.height);
await page.mouse.down();
await page.mouse.move(box.x + 0.8 * box.width, box.y + 0.5 * box.height, { steps: 8 });
await page.mouse.up();
await page.evaluate(() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done))));
await page.waitForFunction(() => window.bilensPanel.state().logits);
const s = await page.evaluate(() => window.bilensPanel.state());
writeFileSync(outPath, JSON.stringify({ run: s.run, input: Array.from(s.input), logits: s.logits, base_logits: s.baseLogits, problems }));
await browser.close();
