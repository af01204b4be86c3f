// atlas.js: concept atlases (analysis/atlas.rs; atlas.png in every analysed run folder) drawn
// from a run's record as they come into view: per class, the patterns that weigh most in its
// logit (a component's two side by side), numbered as its card, over the outline of its mean
// training digit, one colour scale per class.

/** Pixels per image pixel of an atlas canvas: room for the outline between pixels. */
const ATLAS_ZOOM = 4;

let outlinesPromise = null;
function outlines() {
  if (!outlinesPromise) { outlinesPromise = unpack(STUDY.outlines); }
  return outlinesPromise;
}

/** `values` on the scale `m`, `z` canvas pixels per image pixel, with a black line wherever
 *  `inside` changes between neighbouring pixels (and around inside pixels at the border). */
function paintOutlined(canvas, values, m, inside, w, h, z = ATLAS_ZOOM) {
  canvas.width = w * z; canvas.height = h * z;
  const ctx = canvas.getContext('2d');
  for (let i = 0; i < w * h; i++) {
    const rgb = colour(values[i] / m);
    ctx.fillStyle = 'rgb(' + rgb.join(',') + ')';
    ctx.fillRect((i % w) * z, Math.floor(i / w) * z, z, z);
  }
  ctx.fillStyle = '#000';
  const at = (x, y) => x >= 0 && y >= 0 && x < w && y < h && inside[y * w + x] === 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!at(x, y)) { continue; }
      if (!at(x - 1, y)) { ctx.fillRect(x * z, y * z, 1, z); }
      if (!at(x + 1, y)) { ctx.fillRect((x + 1) * z - 1, y * z, 1, z); }
      if (!at(x, y - 1)) { ctx.fillRect(x * z, y * z, z, 1); }
      if (!at(x, y + 1)) { ctx.fillRect(x * z, (y + 1) * z - 1, z, 1); }
    }
  }
}

/** A pattern at unit norm, as the atlas figure draws it. */
function unit(p) {
  let s = 0;
  for (let i = 0; i < p.length; i++) { s += p[i] * p[i]; }
  const n = Math.sqrt(s) || 1;
  return p.map(v => v / n);
}

async function drawAtlas(box) {
  const run = await runRecord(box.dataset.run);
  if (!run.atlas || !STUDY.outlines) {
    box.replaceChildren(element('p', 'missing', 'No concept atlas: it needs image inputs and labelled training images.'));
    return;
  }
  const mask = await outlines(), P = run.width * run.height;
  let next = 0;
  const rows = run.atlas.map((cells, c) => {
    const first = next;
    next += cells.length;
    const row = element('div', 'atlas-row');
    row.append(element('span', 'atlas-class', run.class_names ? className(run, c) : 'class ' + c));
    const patterns = cells.map(([k, minus]) => unit(pattern(run, k, minus ? 'minus' : 'plus')));
    const m = patterns.reduce((m, p) => maxAbs(p, m), 1e-12);
    cells.forEach(([k, minus, share], j) => {
      const words = run.atlasWords[first + j];
      const fig = element('figure'), link = element('a'), cv = element('canvas');
      paintOutlined(cv, patterns[j], m, mask.subarray(c * P, (c + 1) * P), run.width, run.height);
      const signed = (share >= 0 ? '+' : '\u2212') + Math.abs(100 * share).toFixed(1) + '%';
      const which = minus ? 'minus' : run.form[k] === 'symmetric' ? '' : 'plus';
      cv.setAttribute('role', 'img');
      cv.setAttribute('aria-label', (which ? which + ' pattern of ' : '') + run.label[k] + ', ' + signed + ' of ' + className(run, c) + ': ' + words);
      link.href = '#' + cardId(run.anchor, k);
      link.title = run.label[k] + (which ? ' (' + which + ')' : '') + ': ' + signed + ' of ' + className(run, c) + '\u2019s pattern weight';
      link.append(cv);
      fig.append(element('figcaption', '', run.label[k] + ' ' + signed), link, element('figcaption', 'atlas-words', words));
      row.append(fig);
    });
    return row;
  });
  box.replaceChildren(...rows);
}

const atlases = new IntersectionObserver(entries => entries.forEach(e => {
  if (e.isIntersecting) {
    atlases.unobserve(e.target);
    drawAtlas(e.target).catch(err => {
      e.target.replaceChildren(element('p', 'missing', 'The atlas could not be drawn: ' + err));
      console.error(err);
    });
  }
}), { rootMargin: '300px' });
document.querySelectorAll('.atlas[data-run]').forEach(box => atlases.observe(box));
