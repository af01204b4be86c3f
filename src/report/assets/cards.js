// cards.js: every component of a run as a card, drawn from the run's record when its section
// opens (the first STUDY.cards of them, the rest on request): patterns, head, strength share,
// measures, and the test images that activate it most in each direction. Also the pattern
// thumbnails elsewhere on the page (canvas.pat with data-run, data-k, data-which), painted
// as they come into view.

/** Draws the cards of the run section `details`, through component `upTo` if given. Calls
 *  are queued per run, so a card is never drawn twice. */
function showCards(details, upTo) {
  const box = details.querySelector('.cards');
  if (!box || !STUDY) { return Promise.resolve(); }
  box.queue = (box.queue || Promise.resolve()).then(() => drawCards(box, upTo)).catch(err => {
    box.replaceChildren(element('p', 'missing', 'The cards could not be drawn: ' + err));
    console.error(err);
  });
  return box.queue;
}

async function drawCards(box, upTo) {
  const run = await runRecord(box.dataset.run);
  const pixels = run.examples ? await pool() : null;
  const shown = Number(box.dataset.shown || 0);
  const want = Math.min(run.n, Math.max(STUDY.cards, upTo === undefined ? 0 : upTo + 1));
  if (want <= shown) { return; }
  const more = box.querySelector('button.more');
  if (more) { more.remove(); }
  for (let k = shown; k < want; k++) {
    if (k === 0 && run.displayed > 0) { box.append(element('p', 'cards-group', 'Displayed components (' + run.displayed + ')')); }
    if (k === run.displayed) { box.append(element('p', 'cards-group', 'Residual components (' + (run.n - run.displayed) + ')')); }
    box.append(card(run, k, pixels));
  }
  box.dataset.shown = String(want);
  if (want < run.n) {
    const button = element('button', 'more', 'Show all ' + run.n + ' components');
    button.type = 'button';
    button.addEventListener('click', () => showCards(box.closest('details'), run.n - 1));
    box.append(button);
  }
}

function card(run, k, pixels) {
  const residual = k >= run.displayed;
  const el = element('article', 'card' + (residual ? ' residual' : ''));
  el.id = cardId(run.anchor, k);
  el.setAttribute('aria-label', 'component ' + run.label[k] + ' of ' + run.id);
  const title = element('p', 'card-title');
  title.append(element('strong', '', run.label[k]), ' \u00b7 ' + headClass(run, k) + ' \u00b7 ' + run.form[k]);
  el.append(title, element('p', 'card-words', run.description[k]));
  const pictures = element('div', 'pictures');
  const names = patternNames(run.form[k]);
  ['plus', 'minus'].forEach((which, j) => {
    const p = pattern(run, k, which);
    if (!p) { return; }
    const fig = element('figure'), cv = element('canvas');
    paintSigned(cv, p, run.width, run.height);
    cv.setAttribute('role', 'img');
    cv.setAttribute('aria-label', names[j] + ' pattern of ' + run.label[k]);
    fig.append(cv, element('figcaption', '', names[j]));
    pictures.append(fig);
  });
  pictures.append(headBars(run, k));
  el.append(pictures);
  el.append(element('p', 'share', (100 * run.share[k]).toFixed(1) + '% of the ' + (residual ? 'residual' : 'displayed') + ' components\u2019 strength'));
  const dl = element('dl', 'measures');
  run.columns.forEach((name, j) => {
    const v = run.metrics[k][j];
    if (v === null || v === undefined) { return; }
    const row = element('div', typeof v === 'number' ? '' : 'wide');
    // A form with one pattern (symmetric) has no plus to tell apart from a minus.
    const label = names[1] ? name.replace(/_/g, ' ') : name.replace(/_/g, ' ').replace(/ plus$/, '');
    row.append(element('dt', '', label), element('dd', '', typeof v === 'number' ? v.toFixed(3) : String(v)));
    dl.append(row);
  });
  el.append(dl);
  if (pixels) { el.append(examples(run, k, pixels)); }
  return el;
}

/** The head as one bar per class: up and red for positive weights, down and blue for negative. */
function headBars(run, k) {
  const C = run.classes, head = run.H.subarray(k * C, (k + 1) * C);
  const m = maxAbs(head);
  const fig = element('figure', 'head'), bars = element('div', 'bars');
  bars.setAttribute('role', 'img');
  bars.setAttribute('aria-label', 'head weights: ' + Array.from(head, (v, c) => className(run, c) + ' ' + fmt(v, 2)).join(', '));
  head.forEach((v, c) => {
    const col = element('span', 'bar-col'), track = element('span', 'track'), bar = element('span', 'bar ' + (v >= 0 ? 'pos' : 'neg'));
    bar.style.height = (50 * Math.abs(v) / m).toFixed(1) + '%';
    col.title = className(run, c) + ': ' + fmt(v);
    track.append(bar);
    col.append(track, element('span', 'cls', run.class_names ? className(run, c).slice(0, 3) : String(c)));
    bars.append(col);
  });
  fig.append(bars, element('figcaption', '', 'head'));
  return fig;
}

/** The test images with the most positive activation (they vote as the head says) and the
 *  most negative (they vote against it). */
function examples(run, k, pixels) {
  const [pos, neg, posValues, negValues] = run.examples[k];
  const box = element('div', 'examples');
  [['most positive', pos, posValues], ['most negative', neg, negValues]].forEach(([label, picks, values]) => {
    if (picks.length === 0) { return; }
    const row = element('div', 'ex-row');
    row.append(element('span', 'ex-label', label));
    picks.forEach((p, j) => {
      const cv = element('canvas');
      paintInk(cv, poolImage(pixels, p), STUDY.width, STUDY.height);
      const text = 'test image ' + STUDY.images.index[p] + ' (digit ' + STUDY.images.label[p] + '), activation ' + fmt(values[j]);
      cv.setAttribute('role', 'img');
      cv.setAttribute('aria-label', text);
      cv.title = text;
      row.append(cv);
    });
    box.append(row);
  });
  return box;
}

document.querySelectorAll('details.run').forEach(d => {
  d.addEventListener('toggle', () => { if (d.open) { showCards(d); } });
  if (d.open) { showCards(d); }
});

async function paintThumb(cv) {
  try {
    const run = await runRecord(cv.dataset.run);
    const p = pattern(run, Number(cv.dataset.k), cv.dataset.which);
    if (p) { paintSigned(cv, p, run.width, run.height); }
  } catch (err) {
    console.error(err);
  }
}
const thumbs = new IntersectionObserver(entries => entries.forEach(e => {
  if (e.isIntersecting) {
    thumbs.unobserve(e.target);
    paintThumb(e.target);
  }
}), { rootMargin: '300px' });
document.querySelectorAll('canvas.pat').forEach(cv => thumbs.observe(cv));
