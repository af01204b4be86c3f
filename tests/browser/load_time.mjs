// How long a report takes to load in headless Chromium: the load event's time after the
// navigation started, for each of N fresh loads (the README's figure for the study's report).
//
//   node load_time.mjs REPORT.html [N]     (after `bash scripts/setup.sh` installed playwright-core)

import { chromium } from 'playwright-core';

const [reportPath, loads = '4'] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
for (let i = 0; i < Number(loads); i++) {
  const page = await browser.newPage();
  await page.goto('file://' + reportPath, { waitUntil: 'load' });
  const seconds = await page.evaluate(() => performance.getEntriesByType('navigation')[0].loadEventEnd / 1000);
  console.log(`load event after ${seconds.toFixed(2)} s`);
  await page.close();
}
await browser.close();
