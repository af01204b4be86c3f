// Opens a bilens report in headless Chromium and uses it as a reader would: navigation,
// sorting, the draw-a-digit panel (with pointer events), accessibility (axe-core), the phone
// layout, and no console errors or network requests.
//
//   node report.test.mjs REPORT.html EXPECTED.json OUT.json
//
// EXPECTED.json (written by tests/report_browser.rs from bilens's library):
//   { "main": run id, "other": run id, "runs": every run id, "lead": the columns the results
//     table opens on, in order, "images": [{ "index": test index, "logits": [...] }] }
// OUT.json (read back by the Rust test, which recomputes the logits of the drawn input):
//   { "run": run id, "input": [...], "logits": [...], "base_logits": [...] }
// Exits 0 when every check passed.

import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [reportPath, expectedPath, outPath] = process.argv.slice(2);
const expected = JSON.parse(readFileSync(expectedPath, 'utf8'));
const AXE = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const TOLERANCE = 1e-4;
const url = 'file://' + reportPath;

const failures = [];
function check(ok, what) {
  console.log((ok ? 'ok    ' : 'FAIL  ') + what);
  if (!ok) { failures.push(what); }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];

/** A fresh page at `hash`, once the panel has started. */
async function open(viewport, hash = '', touch = false) {
  const context = await browser.newContext({ viewport, hasTouch: touch, isMobile: touch });
  const page = await context.newPage();
  page.on('console', m => { if (m.type() === 'error') { problems.push('console error: ' + m.text()); } });
  page.on('pageerror', e => problems.push('page error: ' + e.message));
  page.on('request', r => { if (!/^(file|data|blob):/.test(r.url())) { problems.push('network request: ' + r.url()); } });
  await page.goto(url + hash, { waitUntil: 'load' });
  await page.evaluate(() => window.bilensPanel.ready);
  return page;
}

const anchor = id => id.replace(/[^A-Za-z0-9_\-.=]/g, '-');
const inView = (page, id) => page.evaluate(id => {
  const el = document.getElementById(id), r = el.getBoundingClientRect();
  return r.top >= -1 && r.top < innerHeight && r.bottom > 0;
}, id);
const isOpen = (page, id) => page.evaluate(id => document.getElementById(id).open === true, id);
const state = page => page.evaluate(() => window.bilensPanel.state());
const maxDiff = (a, b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])));

/** The panel's state once pending updates have run (they wait for the next frame) and `cond` holds. */
async function settled(page, cond) {
  await page.evaluate(() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done))));
  await page.waitForFunction(`(${cond})(window.bilensPanel.state())`);
  return state(page);
}
const selfCheck = page => page.evaluate(() => {
  const el = document.getElementById('selfcheck');
  return { status: el.dataset.status, diff: Number(el.dataset.maxdiff), run: el.dataset.run };
});

/** Draws polylines on the pad with mouse events; points in [0, 1] pad coordinates. */
async function draw(page, strokes) {
  // The mouse reaches only what is in view, and the votes beside the pad change its height.
  await page.locator('#pad').scrollIntoViewIfNeeded();
  const box = await page.locator('#pad').boundingBox();
  for (const stroke of strokes) {
    const at = p => [box.x + p[0] * box.width, box.y + p[1] * box.height];
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const p of stroke.slice(1)) { await page.mouse.move(...at(p), { steps: 4 }); }
    await page.mouse.up();
  }
}

/** Bounding-box size and centre of mass of a square input. */
function shapeOf(x) {
  const side = Math.round(Math.sqrt(x.length));
  let m = 0, cx = 0, cy = 0, x0 = side, x1 = -1, y0 = side, y1 = -1;
  x.forEach((v, i) => {
    const r = Math.floor(i / side), c = i % side;
    m += v; cx += v * (c + 0.5); cy += v * (r + 0.5);
    if (v > 0.05) { x0 = Math.min(x0, c); x1 = Math.max(x1, c); y0 = Math.min(y0, r); y1 = Math.max(y1, r); }
  });
  return { side, size: Math.max(x1 - x0 + 1, y1 - y0 + 1), cx: cx / m, cy: cy / m };
}

async function axe(page, label) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document);
    return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }));
  });
  const bad = result.filter(v => v.impact === 'critical' || v.impact === 'serious');
  bad.forEach(v => console.log('      axe ' + v.impact + ' ' + v.id + ': ' + v.help + ' at ' + v.nodes.join(' | ')));
  result.filter(v => !bad.includes(v)).forEach(v => console.log('      (axe ' + v.impact + ' ' + v.id + ': ' + v.help + ')'));
  check(bad.length === 0, 'axe-core finds no critical or serious violations (' + label + ')');
}

const main = anchor(expected.main), other = anchor(expected.other);

// The page's size: the goal is at most 6 MB for the default study (this tiny study is far
// below; the Rust tests check what keeps a study's page small).
const bytes = statSync(reportPath).size;
check(bytes <= 6e6, 'the page is at most 6 MB (' + (bytes / 1e6).toFixed(2) + ' MB)');

/** The smallest rendered size of any visible text on the page, in CSS pixels, and where: an
 *  SVG text's font size times its scale on screen (getScreenCTM), else its computed font size. */
const smallestText = page => page.evaluate(() => {
  let least = { px: Infinity, where: '' };
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walk.nextNode(); node; node = walk.nextNode()) {
    const el = node.parentElement;
    if (!el || !node.textContent.trim() || el.closest('script, style, title')) { continue; }
    const range = document.createRange();
    range.selectNodeContents(node);
    if (range.getClientRects().length === 0) { continue; }
    let px = parseFloat(getComputedStyle(el).fontSize);
    if (el instanceof SVGElement) {
      const m = el.getScreenCTM();
      px *= Math.hypot(m.a, m.b);
    }
    if (px < least.px) { least = { px, where: el.tagName.toLowerCase() + '.' + el.getAttribute('class') + ' "' + node.textContent.trim().slice(0, 30) + '"' }; }
  }
  return least;
});

// Desktop.
const page = await open({ width: 1400, height: 1000 });
const timing = await page.evaluate(() => performance.timing.loadEventEnd - performance.timing.navigationStart);
console.log('      load event after ' + timing + ' ms');
const self = await selfCheck(page);
check(self.status === 'ok' && self.diff <= TOLERANCE && self.run === main, 'self-check of the main run: page and bilens agree to ' + self.diff);

// The results table opens on the judges of a readable dictionary; the rest of the columns
// show on request, and hide again.
const configurations = page.locator('#results table.sortable').first();
const shownColumns = () => configurations.evaluate(t => Array.from(t.tHead.rows[0].cells).filter(th => th.offsetParent !== null).map(th => th.textContent.trim()));
const opening = await shownColumns();
check(JSON.stringify(opening.slice(2)) === JSON.stringify(expected.lead), 'the results table opens on ' + opening.slice(2).join(', ') + ' (expected ' + expected.lead.join(', ') + ')');
const allColumns = page.locator('#results button.all-columns').first();
await allColumns.click();
const every = await shownColumns();
check(every.length > opening.length && JSON.stringify(every.slice(0, 2 + expected.lead.length)) === JSON.stringify(opening) && await allColumns.getAttribute('aria-pressed') === 'true',
  'its button shows all ' + every.length + ' columns, the leading ones still first');
await allColumns.click();
check((await shownColumns()).length === opening.length, 'and a second press the leading ones only');

// A concept atlas at the top for the main run and in every run's section, drawn from the factors.
const atlasRuns = await page.evaluate(() => Array.from(document.querySelectorAll('.atlas[data-run]'), a => a.dataset.run));
check(atlasRuns.length === expected.runs.length + 1 && atlasRuns[0] === main && expected.runs.every(id => atlasRuns.includes(anchor(id))),
  'an atlas for the main run at the top and one in each of the ' + expected.runs.length + ' run sections');
await page.locator('#recommended .atlas').scrollIntoViewIfNeeded();
await page.waitForSelector('#recommended .atlas canvas');
const topAtlas = await page.evaluate(() => {
  const box = document.querySelector('#recommended .atlas');
  const painted = Array.from(box.querySelectorAll('canvas')).filter(cv => {
    const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    return px.some((v, i) => i % 4 !== 3 && v < 250);
  });
  return { rows: box.querySelectorAll('.atlas-row').length, canvases: box.querySelectorAll('canvas').length, painted: painted.length, links: box.querySelectorAll('a[href^="#card-"]').length };
});
check(topAtlas.rows === 10 && topAtlas.canvases > 0 && topAtlas.painted === topAtlas.canvases && topAtlas.links === topAtlas.canvases,
  'the top atlas draws a row per class, ' + topAtlas.canvases + ' painted patterns, each linking to its card');
const atlasWords = await page.locator('#recommended .atlas .atlas-words').allTextContents();
check(atlasWords.length === topAtlas.canvases && atlasWords.every(w => /blob|stroke|ring|ink|inputs/.test(w)), 'and names each pattern in words (' + atlasWords[0] + ')');

// Open a run from the results table, and return.
await page.click(`#results a[href="#run-${other}"]`);
await page.waitForTimeout(200);
check(await isOpen(page, 'run-' + other), 'a run link in the results table opens the run');
check(await inView(page, 'run-' + other), 'and scrolls it into view');
check(await page.evaluate(() => location.hash) === '#run-' + other, 'and puts it in the address');
await page.waitForSelector(`[id="run-${other}"] .card`);
check(await page.locator(`[id="run-${other}"] .card`).count() > 0, 'the opened run draws its component cards');
const cardWords = await page.locator(`[id="run-${other}"] .card .card-words`).allTextContents();
check(cardWords.length === await page.locator(`[id="run-${other}"] .card`).count() && cardWords.every(w => /evidence (for|against)/.test(w)),
  'each card says its component in words (' + cardWords[0] + ')');
await page.locator(`[id="run-${other}"] .atlas`).scrollIntoViewIfNeeded();
await page.waitForSelector(`[id="run-${other}"] .atlas canvas`);
check(await page.locator(`[id="run-${other}"] .atlas .atlas-row`).count() === 10, 'and its concept atlas');

// Sort a column, in both directions and back, with the mouse and the keyboard.
const table = page.locator('#results table.sortable').first();
const head = table.locator('thead th', { hasText: 'tensor_cosine' }).first();
const order = () => table.evaluate(t => Array.from(t.tBodies[0].rows, r => Number(r.dataset.i)));
const keys = col => table.evaluate((t, col) => Array.from(t.tBodies[0].rows, r => Number(r.cells[col].dataset.v)), col);
const col = await head.evaluate(th => th.cellIndex);
const original = await order();
await head.locator('button').click();
const up = await keys(col);
check(await head.getAttribute('aria-sort') === 'ascending' && up.every((v, i) => i === 0 || up[i - 1] <= v), 'a header sorts ascending');
await head.locator('button').focus();
await page.keyboard.press('Enter');
const down = await keys(col);
check(await head.getAttribute('aria-sort') === 'descending' && down.every((v, i) => i === 0 || down[i - 1] >= v), 'Enter on the focused header sorts descending');
await page.keyboard.press('Space');
check(await head.getAttribute('aria-sort') === null && JSON.stringify(await order()) === JSON.stringify(original), 'a third press restores the original order');

// The panel: bilens's logits for a test image from the menu (the main run is stored exactly).
await page.locator('#draw').scrollIntoViewIfNeeded();
const options = await page.locator('#pad-pick option').allTextContents();
const known = expected.images.find(im => options.some(o => o.startsWith('test image ' + im.index + ' ')));
const label = options.find(o => o.startsWith('test image ' + known.index + ' '));
const [position] = await page.selectOption('#pad-pick', { label });
let s = await settled(page, `s => s.image === ${position} && s.logits`);
check(maxDiff(s.logits, known.logits) <= TOLERANCE, 'test image ' + known.index + ' from the menu gives bilens\'s logits (max difference ' + maxDiff(s.logits, known.logits).toExponential(2) + ')');
const why = await page.textContent('#why');
check(why.startsWith('Why ' + s.baseTop + ' (') && /evidence (for|against)|residual components/.test(why), 'and explains the prediction in a sentence: ' + why.slice(0, 90) + '…');
check(JSON.stringify(s.why.map(([label]) => label)) === JSON.stringify(known.why) && /the residual components: /.test(why) === known.residual_named,
  'naming the components bilens explain names (' + known.why.join(', ') + ') and the residual\'s share ' + (known.residual_named ? '' : 'not ') + 'as it does');
check(s.why.every(([label, words]) => words === known.words[label]),
  'each component in it worded as bilens words it on this input');
check(s.votes.length > 0 && s.votes.every(([label, words]) => words === known.words[label]),
  'and so is each vote beside it (' + s.votes.length + ' votes)');
check(s.votes.every(([, , , share]) => Math.abs(share) >= expected.negligible_share),
  'naming no vote the sentence would leave out (' + s.votes.map(([, , , share]) => (100 * share).toFixed(1) + '%').join(', ') + ')');
check(s.votes.every(([label, , first]) => first === known.first[label]),
  'each vote drawing first the pattern its words name first (' + s.votes.map(([, , first]) => first).join(', ') + ')');

// Switch the run driving the panel, check it, and come back.
await page.selectOption('#draw-run', other);
s = await settled(page, `s => s.run === ${JSON.stringify(expected.other)} && s.logits`);
const otherCheck = await selfCheck(page);
check(otherCheck.run === other && otherCheck.status === 'ok' && otherCheck.diff <= TOLERANCE, 'the panel switches to ' + s.run + ' and its self-check passes (' + otherCheck.diff + ')');
check(maxDiff(s.logits, known.logits) > 0, 'and shows that run\'s logits');
check(s.why.length > 0 && JSON.stringify(s.why.map(([label]) => label)) === JSON.stringify(known.other_why),
  'and explains them with the components bilens explain names (' + known.other_why.join(', ') + ')');
check(s.why.every(([label, words]) => words === known.other_words[label]),
  'each worded, as bilens words it, by its evidence for or against the class explained (' + s.why[0][1] + ')');
await page.selectOption('#draw-run', main);
await settled(page, `s => s.run === ${JSON.stringify(expected.main)}`);

// A blank pad claims nothing.
await page.click('#pad-clear');
s = await settled(page, 's => s.input === null');
check(/draw a digit/i.test(await page.textContent('#logit-note')) && await page.locator('#logit-bars button').count() === 0, 'a blank pad says "draw a digit" and shows no logits');
check((await page.textContent('#why')).trim() === '', 'nor the last input\'s explanation');

// Draw a "1": one vertical stroke, tall and centred; then the same stroke small in a corner.
await draw(page, [[[0.52, 0.12], [0.5, 0.5], [0.48, 0.88]]]);
s = await settled(page, 's => s.input !== null && s.logits');
const big = s, bigShape = shapeOf(s.input);
console.log('      drawn 1: decomposition predicts ' + s.top + ', base model ' + s.baseTop);
check(s.baseTop === 1, 'the base model reads the drawn stroke as a 1');
check([1, 7, 4].includes(s.top), 'the decomposition reads it as a sensible digit (' + s.top + ')');
check(bigShape.size >= 18 && bigShape.size <= 22, 'the drawing is scaled so its ink fits the central 20×20 box (' + bigShape.size + ' px)');
check(Math.abs(bigShape.cx - 14) < 0.6 && Math.abs(bigShape.cy - 14) < 0.6, 'and its centre of mass is at the centre (' + bigShape.cx.toFixed(2) + ', ' + bigShape.cy.toFixed(2) + ')');
// Each vote is drawn over the outline of the drawn digit's ink: black pixels, which the
// patterns' blue-white-red scale never paints.
const outlined = await page.evaluate(() => Array.from(document.querySelectorAll('#contrib canvas')).map(cv => {
  const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
  for (let i = 0; i < d.length; i += 4) { if (d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 0) { return true; } }
  return false;
}));
check(outlined.length > 0 && outlined.every(Boolean), 'every vote is drawn over the outline of the drawn digit (' + outlined.filter(Boolean).length + ' of ' + outlined.length + ')');
writeFileSync(outPath, JSON.stringify({ run: s.run, input: s.input, logits: s.logits, base_logits: s.baseLogits }));
await page.click('#pad-clear');
await settled(page, 's => s.input === null');
await draw(page, [[[0.86, 0.05], [0.85, 0.18], [0.84, 0.3]]]);
s = await settled(page, 's => s.input !== null && s.logits');
const l1 = s.input.reduce((t, v, i) => t + Math.abs(v - big.input[i]), 0) / big.input.reduce((t, v) => t + v, 0);
check(l1 < 0.25 && s.baseTop === 1, 'a small stroke in a corner is prepared like the large one (relative L1 ' + l1.toFixed(3) + ')');
await page.check('#pad-view');
check(await page.isChecked('#pad-view'), 'the pad can show the prepared input');

// A voting component links to its card.
await page.click('#contrib a');
const card = await page.evaluate(() => location.hash.slice(1));
await page.waitForSelector(`[id="${card}"]`);
check(card.startsWith('card-' + main) && await inView(page, card) && await isOpen(page, 'run-' + main), 'a voting component opens its card (' + card + ')');

await axe(page, 'desktop, panel in use and a run open');
await page.close();

// An address opens its run on load.
const direct = await open({ width: 1400, height: 1000 }, '#run-' + other);
await direct.waitForTimeout(300);
check(await isOpen(direct, 'run-' + other) && await inView(direct, 'run-' + other), 'loading #run-' + expected.other + ' opens it and scrolls to it');
await direct.evaluate(() => { location.hash = '#run-' + document.querySelector('details.run:not([open])').id.slice(4); });
await direct.waitForTimeout(300);
const hashed = await direct.evaluate(() => location.hash.slice(1));
check(await isOpen(direct, hashed) && await inView(direct, hashed), 'a hash change opens that run too');
await direct.close();

// A phone.
const phone = await open({ width: 390, height: 844 }, '', true);
// The layout viewport of a phone grows to fit content that overflows, so compare with 390.
const width = await phone.evaluate(() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth));
check(width <= 390, 'the phone layout has no horizontal scroll (' + width + ' px wide on a 390 px screen)');
await phone.click('#toc-toggle');
check(await phone.isVisible('#toc-body a[href="#results"]'), 'the contents open from the phone\'s top bar');
await phone.click(`#toc-body a[href="#run-${other}"]`);
await phone.waitForTimeout(200);
check(await isOpen(phone, 'run-' + other) && await inView(phone, 'run-' + other), 'a contents entry opens its run on the phone');
const wide = await phone.evaluate(() => Math.max(document.documentElement.scrollWidth, innerWidth));
check(wide <= 390, 'still no horizontal scroll with a run open (' + wide + ' px)');
await phone.locator('#recommended .atlas').scrollIntoViewIfNeeded();
await phone.waitForSelector('#recommended .atlas canvas');
await phone.locator(`[id="run-${other}"] .card`).first().waitFor();
const least = await smallestText(phone);
check(least.px >= 10, 'no visible text under 10 px on the phone, charts included (smallest ' + least.px.toFixed(2) + ' px: ' + least.where + ')');
await axe(phone, 'phone, a run open');
await phone.close();

problems.forEach(p => console.log('      ' + p));
check(problems.length === 0, 'no console errors, page errors or network requests');
await browser.close();
console.log(failures.length === 0 ? 'browser test passed (' + timing + ' ms to load)' : failures.length + ' check(s) failed');
process.exit(failures.length === 0 ? 0 : 1);
