// draw.js: the draw-a-digit panel. The chosen run's decomposition (act_r from the form,
// logit_c = bias_c + Σ_r head[r][c] act_r) and the base model (W_u((W_l h) ⊙ (W_r h)) + bias,
// h = W_e x) evaluated on a test image or on a drawing prepared as MNIST's digits were: the
// strokes' bounding box scaled to fit the central 20×20 of 28×28 (in proportion to the shorter
// side for other sizes, as `bilens explain --png` does) keeping its aspect ratio, strokes
// about 2.4 pixels wide, the centre of mass shifted to the centre. On load and on every change
// of run, the page recomputes bilens's logits for a few test images and reports the largest
// difference in #selfcheck.

/** Share of the field the ink's box fills, and the stroke width, as in MNIST. */
const INK_BOX = 20 / 28, BRUSH = 2.4 / 28;
/** Supersampling of the rendered input, per side. */
const SUPERSAMPLE = 8;

const panel = {
  run: null,
  base: null,
  pixels: null,
  /** The drawing: strokes of [x, y] points, in [0, 1] pad coordinates. */
  strokes: [],
  /** Pool position of the test image shown, or null for the drawing. */
  image: null,
  /** The model's input, or null when there is nothing to evaluate. */
  x: null,
  /** The class whose votes are listed (null: the decomposition's top class). */
  selected: null,
  out: null,
};

/** The field the strokes are rendered into (SUPERSAMPLE² field pixels an input pixel). */
const field = document.createElement('canvas');

/** Renders the strokes into an h×w input: pad point p ↦ scale·p + shift, in pixels. */
function render(strokes, h, w, scale, shift, brush) {
  field.width = w * SUPERSAMPLE;
  field.height = h * SUPERSAMPLE;
  const ctx = field.getContext('2d', { willReadFrequently: true });
  ctx.clearRect(0, 0, field.width, field.height);
  ctx.setTransform(SUPERSAMPLE * scale, 0, 0, SUPERSAMPLE * scale, SUPERSAMPLE * shift[0], SUPERSAMPLE * shift[1]);
  ctx.lineWidth = brush / scale;
  ctx.lineCap = ctx.lineJoin = 'round';
  ctx.strokeStyle = ctx.fillStyle = '#000';
  strokes.forEach(s => {
    if (s.length === 1) {
      ctx.beginPath();
      ctx.arc(s[0][0], s[0][1], brush / scale / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(s[0][0], s[0][1]);
    s.slice(1).forEach(p => ctx.lineTo(p[0], p[1]));
    ctx.stroke();
  });
  const alpha = ctx.getImageData(0, 0, field.width, field.height).data, x = new Float64Array(h * w);
  for (let i = 0; i < field.height; i++) {
    for (let j = 0; j < field.width; j++) {
      x[Math.floor(i / SUPERSAMPLE) * w + Math.floor(j / SUPERSAMPLE)] += alpha[4 * (i * field.width + j) + 3] / 255 / SUPERSAMPLE ** 2;
    }
  }
  return x;
}

/** Centre of mass (column, row) of an h×w image, pixel centres at i + 0.5. */
function centreOfMass(x, h, w) {
  let m = 0, cx = 0, cy = 0;
  for (let i = 0; i < h; i++) {
    for (let j = 0; j < w; j++) {
      const v = x[i * w + j];
      m += v; cx += v * (j + 0.5); cy += v * (i + 0.5);
    }
  }
  return m > 0 ? [cx / m, cy / m] : [w / 2, h / 2];
}

/** The strokes as the model's h×w input, prepared as MNIST's digits were (box and brush in
 *  proportion to the shorter side); null when blank. */
function prepare(strokes, h, w) {
  const pts = strokes.flat();
  if (pts.length === 0) { return null; }
  const xs = pts.map(p => p[0]), ys = pts.map(p => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const side = Math.min(h, w), brush = BRUSH * side, scale = (INK_BOX * side - brush) / Math.max(x1 - x0, y1 - y0, 1e-3);
  const centred = [w / 2 - scale * (x0 + x1) / 2, h / 2 - scale * (y0 + y1) / 2];
  const [cx, cy] = centreOfMass(render(strokes, h, w, scale, centred, brush), h, w);
  return render(strokes, h, w, scale, [centred[0] + w / 2 - cx, centred[1] + h / 2 - cy], brush);
}

/** [a·x, b·x] of component r (the input's zero pixels skipped). */
function projections(run, r, x) {
  const P = run.inputs, o = r * P;
  let sa = 0, sb = 0;
  for (let i = 0; i < P; i++) {
    const v = x[i];
    if (v !== 0) { sa += run.A[o + i] * v; sb += run.B[o + i] * v; }
  }
  return [sa, sb];
}

/** act_r = (a·x)(b·x) for CP, (a·x)² symmetric, (a·x)² − (b·x)² split. */
function activations(run, x) {
  const act = new Float64Array(run.n);
  for (let r = 0; r < run.n; r++) {
    const [sa, sb] = projections(run, r, x), f = run.form[r];
    act[r] = f === 'cp' ? sa * sb : f === 'symmetric' ? sa * sa : sa * sa - sb * sb;
  }
  return act;
}

function decompositionLogits(run, act) {
  const C = run.classes, z = Float64Array.from(run.bias);
  for (let r = 0; r < run.n; r++) {
    for (let c = 0; c < C; c++) { z[c] += run.H[r * C + c] * act[r]; }
  }
  return z;
}

/** W_u((W_l h) ⊙ (W_r h)) + bias with h = W_e x (h = x without an embedding). */
function baseLogits(m, x) {
  const W = m.width, Hd = m.hidden, C = m.classes;
  const h = m.E ? new Float64Array(W) : x;
  if (m.E) {
    for (let j = 0; j < W; j++) {
      let s = 0;
      for (let i = 0; i < m.inputs; i++) { if (x[i] !== 0) { s += m.E[j * m.inputs + i] * x[i]; } }
      h[j] = s;
    }
  }
  const y = new Float64Array(Hd);
  for (let o = 0; o < Hd; o++) {
    let l = 0, r = 0;
    for (let j = 0; j < W; j++) { l += m.L[o * W + j] * h[j]; r += m.R[o * W + j] * h[j]; }
    y[o] = l * r;
  }
  const z = Float64Array.from(m.bias);
  for (let c = 0; c < C; c++) {
    for (let o = 0; o < Hd; o++) { z[c] += m.U[c * Hd + o] * y[o]; }
  }
  return z;
}

function argmax(z) {
  let best = 0;
  for (let c = 1; c < z.length; c++) { if (z[c] > z[best]) { best = c; } }
  return best;
}

/** Largest |page − bilens| over the self-check images, or null without them. */
function checkDiff(expected, logitsOf) {
  if (!expected) { return null; }
  let worst = 0;
  STUDY.images.check.forEach((p, k) => {
    const z = logitsOf(poolImage(panel.pixels, p));
    expected[k].forEach((want, c) => { worst = Math.max(worst, Math.abs(z[c] - want)); });
  });
  return worst;
}

function selfCheck() {
  const el = document.getElementById('selfcheck'), run = panel.run;
  const dRun = checkDiff(run.check, x => decompositionLogits(run, activations(run, x)));
  const dBase = panel.base ? checkDiff(panel.base.check, x => baseLogits(panel.base, x)) : null;
  el.dataset.run = run.anchor;
  if (dRun === null) {
    el.dataset.status = 'none';
    el.textContent = 'No self-check: the study\u2019s test images do not fit this run.';
    return;
  }
  const worst = Math.max(dRun, dBase || 0), ok = worst <= STUDY.tolerance, n = STUDY.images.check.length;
  el.dataset.status = ok ? 'ok' : 'fail';
  el.dataset.maxdiff = worst.toExponential(3);
  let text = 'Self-check on ' + n + ' test images: this page reproduces bilens\u2019s logits to ' + dRun.toExponential(1) + ' (decomposition)' +
    (dBase === null ? '' : ' and ' + dBase.toExponential(1) + ' (base model)') + (ok ? ' \u2714' : ' \u2718, more than ' + STUDY.tolerance);
  if (run.precision !== 'full') {
    text += '. To keep the page small, this run\u2019s factors are stored as ' + run.a.bits + '-bit integers times one scale per factor, which moves its logits by at most ' +
      run.rounding.toExponential(1) + ' from the full-precision decomposition (the main run is stored exactly).';
  }
  el.textContent = text;
  if (!ok) { console.error('bilens self-check failed for ' + run.id + ': max logit difference ' + worst); }
}

const padCtx = document.getElementById('pad') && document.getElementById('pad').getContext('2d');

/** The pad: the drawing as drawn, or (with the toggle, and for test images) the model's input. */
function paintPad() {
  const pad = document.getElementById('pad'), viewInput = document.getElementById('pad-view').checked;
  padCtx.setTransform(1, 0, 0, 1, 0, 0);
  padCtx.fillStyle = '#fff';
  padCtx.fillRect(0, 0, pad.width, pad.height);
  if (panel.x && (viewInput || panel.image !== null)) {
    const small = document.createElement('canvas');
    paintInk(small, panel.x, STUDY.width, STUDY.height);
    // In its own proportions, centred on the square pad.
    const k = Math.min(pad.width / STUDY.width, pad.height / STUDY.height), dw = STUDY.width * k, dh = STUDY.height * k;
    padCtx.imageSmoothingEnabled = false;
    padCtx.drawImage(small, (pad.width - dw) / 2, (pad.height - dh) / 2, dw, dh);
    return;
  }
  padCtx.setTransform(pad.width, 0, 0, pad.height, 0, 0);
  padCtx.lineWidth = 0.065;
  padCtx.lineCap = padCtx.lineJoin = 'round';
  padCtx.strokeStyle = padCtx.fillStyle = '#111';
  panel.strokes.forEach(s => {
    padCtx.beginPath();
    if (s.length === 1) {
      padCtx.arc(s[0][0], s[0][1], 0.0325, 0, 2 * Math.PI);
      padCtx.fill();
      return;
    }
    padCtx.moveTo(s[0][0], s[0][1]);
    s.slice(1).forEach(p => padCtx.lineTo(p[0], p[1]));
    padCtx.stroke();
  });
}

/** A bar on a track centred at zero: right and red for positive values, left and blue for negative. */
function bar(value, scale) {
  const track = element('span', 'track'), fill = element('span', 'fill ' + (value >= 0 ? 'pos' : 'neg'));
  fill.style.width = (50 * Math.abs(value) / scale).toFixed(2) + '%';
  fill.style[value >= 0 ? 'left' : 'right'] = '50%';
  track.append(element('span', 'zero'), fill);
  return track;
}

function showOutputs() {
  const run = panel.run, note = document.getElementById('logit-note'), bars = document.getElementById('logit-bars');
  const box = document.getElementById('contrib'), title = document.getElementById('contrib-title');
  if (!panel.x) {
    panel.out = null;
    note.textContent = 'Draw a digit, or pick a test image, to see the logits.';
    document.getElementById('why').textContent = '';
    bars.replaceChildren();
    box.replaceChildren();
    title.textContent = 'Components';
    return;
  }
  const act = activations(run, panel.x), z = decompositionLogits(run, act);
  const zb = panel.base ? baseLogits(panel.base, panel.x) : null;
  const top = argmax(z), baseTop = zb ? argmax(zb) : null;
  const reading = why(run, panel.x, act, z, zb ? baseTop : top);
  panel.out = { logits: Array.from(z), baseLogits: zb && Array.from(zb), top, baseTop, why: reading.parts };
  const m = Math.max(...z), sum = z.reduce((s, v) => s + Math.exp(v - m), 0);
  note.textContent = 'The decomposition predicts ' + className(run, top) + ' (' + (100 / sum).toFixed(1) + '%)' +
    (zb ? '; the base model predicts ' + className(run, baseTop) + '.' : '; this study has no base model to compare with.');
  document.getElementById('why').textContent = reading.text;
  const scale = Math.max(1e-9, ...Array.from(z, Math.abs), ...(zb ? Array.from(zb, Math.abs) : []));
  const head = element('div', 'row head');
  [['class', ''], ['decomposition', 'pair'], ['base model', 'pair'], ['p', '']].forEach(([t, c]) => head.append(element('span', c, t)));
  head.setAttribute('aria-hidden', 'true');
  const rows = [head];
  const cls = panel.selected === null ? top : panel.selected;
  for (let c = 0; c < run.classes; c++) {
    const row = element('button', 'row' + (c === top ? ' top' : '') + (c === cls ? ' sel' : ''));
    row.type = 'button';
    row.setAttribute('aria-pressed', String(c === cls));
    row.title = 'show the components voting on ' + className(run, c);
    row.append(element('span', 'cls', className(run, c)), bar(z[c], scale), element('span', 'val', fmt(z[c])));
    row.append(zb ? bar(zb[c], scale) : element('span'), element('span', 'val' + (c === baseTop ? ' top' : ''), zb ? fmt(zb[c]) : ''));
    row.append(element('span', 'prob', (100 * Math.exp(z[c] - m) / sum).toFixed(1) + '%'));
    row.addEventListener('click', () => {
      panel.selected = panel.selected === c ? null : c;
      showOutputs();
    });
    rows.push(row);
  }
  bars.replaceChildren(...rows);
  panel.out.votes = votes(run, act, z, cls, box, title);
}

/** Every component's vote on class c, [r, head_c · act_r], in the components' order. */
function votesOn(run, act, c) {
  return Array.from(act, (a, r) => [r, run.H[r * run.classes + c] * a]);
}

/** Whether a vote [r, v] on a class whose logit before the bias is `unbiased` is large enough
 *  to name: at least `negligible_share` of it (Rust's `explain::said`; `strongest` checks the
 *  sign). */
function notNegligible(unbiased) {
  return ([, v]) => Math.abs(v / unbiased) >= STUDY.negligible_share;
}

/** The n votes of `contrib` most for class c (sign 1) or most against it (sign −1), strongest first. */
function strongest(contrib, sign, n) {
  return contrib.filter(e => sign * e[1] > 0).sort((p, q) => sign * (q[1] - p[1])).slice(0, n);
}

/** The prediction in a sentence, as `bilens explain` prints it: the model's class (the base
 *  model's where the page has it), then the four displayed components carrying it and the two
 *  counting most against it, each in words as it read the input x and with its share of the
 *  class's logit before the bias, then the residual components' share, unnamed; a share under
 *  `negligible_share` (0% when printed) is left out. Returns the sentence and its parts'
 *  [label, words]. */
function why(run, x, act, z, c) {
  const unbiased = z[c] - run.bias[c], contrib = votesOn(run, act, c), said = notNegligible(unbiased);
  const share = v => (v >= 0 ? '+' : '\u2212') + Math.abs(100 * v / unbiased).toFixed(0) + '%';
  const part = ([r, v]) => [run.label[r], describeOn(run, r, x, c), share(v)];
  const shown = contrib.slice(0, run.displayed), residual = contrib.slice(run.displayed).reduce((s, [, v]) => s + v, 0);
  const pos = strongest(shown, 1, 4), neg = strongest(shown, -1, 2);
  const agrees = argmax(z) === c ? 'the decomposition agrees' : 'the decomposition predicts ' + className(run, argmax(z));
  const parts = pos.concat(neg).filter(said).map(part);
  const words = parts.map(([label, text, s]) => text + ': ' + s + ' (' + label + ')');
  if (said([null, residual])) { words.push('the residual components: ' + share(residual)); }
  return {
    text: 'Why ' + className(run, c) + ' (' + agrees + '): ' + (words.length ? words.join('; ') : 'no component reads this input for it') + '.',
    parts: parts.map(([label, words]) => [label, words]),
  };
}

/** Component r in words as it read the input x in the logit of class k (Rust's
 *  `describe_on`): its two patterns in the order of their terms in this input's vote,
 *  q (p·x)² with q = 1/4 for CP components, the second named when its term is at least a
 *  third of the first's; each with the evidence it gives for or against class k, or the class
 *  its head votes for most where its head leaves k alone. */
function describeOn(run, r, x, k) {
  const c = run.H[r * run.classes + k] !== 0 ? k : strongestClass(run, r), sign = run.H[r * run.classes + c] >= 0 ? 1 : -1;
  const role = side => 'evidence ' + ((side === 0 ? sign : -sign) > 0 ? 'for' : 'against') + ' ' + className(run, c);
  const words = [run.sides[2 * r], run.sides[2 * r + 1]];
  if (run.form[r] === 'symmetric') { return words[0] + ', ' + role(0); }
  const size = termsOn(run, r, x), [first, second] = sidesOn(size);
  let text = words[first] + ', ' + role(first);
  if (size[second] >= size[first] / 3) { text += '; ' + words[second] + ', ' + role(second); }
  return text;
}

/** Component r's display patterns' terms in its vote on x, [plus, minus]: q (p·x)² with
 *  q = 1/4 for CP components, the minus term 0 for symmetric ones (Rust's
 *  `Component::display_terms`). */
function termsOn(run, r, x) {
  const [sa, sb] = projections(run, r, x), f = run.form[r];
  const q = f === 'cp' ? 0.25 : 1, plus = f === 'cp' ? sa + sb : sa, minus = f === 'cp' ? sa - sb : f === 'split' ? sb : 0;
  return [q * plus * plus, q * minus * minus];
}

/** The sides (0 plus, 1 minus) in the order of their terms, the larger first. */
function sidesOn(terms) {
  return terms[0] >= terms[1] ? [0, 1] : [1, 0];
}

/** Pixels per image pixel of a vote's canvas: room for the outline of the input's ink. */
const VOTE_ZOOM = 2;

/** Where the input reaches the outline level of its maximum (1) or not (0): each vote is drawn
 *  over it, as `explanations.png` draws its votes. */
function inkOf(x) {
  let m = 0;
  for (let i = 0; i < x.length; i++) { m = Math.max(m, x[i]); }
  return Uint8Array.from(x, v => (m > 0 && v >= STUDY.outline_level * m ? 1 : 0));
}

/** The five components voting most for class c and the five voting most against it, less
 *  those the sentence would not name (under `negligible_share` of the class's logit before the
 *  bias), each pattern over the outline of the input's ink and each in words as it read the
 *  input, as the sentence above words it, the pattern it names first drawn first. Returns the
 *  votes' [label, words, the side drawn first, share of the class's logit before the bias]. */
function votes(run, act, z, c, box, title) {
  const unbiased = z[c] - run.bias[c], contrib = votesOn(run, act, c), ink = inkOf(panel.x), named = notNegligible(unbiased);
  const pos = strongest(contrib, 1, 5).filter(named), neg = strongest(contrib, -1, 5).filter(named);
  title.textContent = 'Components voting on ' + className(run, c) + (panel.selected === null ? ' (the top class)' : ' (selected)');
  const items = [], said = [];
  let shown = 0;
  [['For ' + className(run, c), pos], ['Against ' + className(run, c), neg]].forEach(([label, group]) => {
    items.push(element('h4', '', label));
    if (group.length === 0) { items.push(element('p', 'rest', 'none')); }
    group.forEach(([r, v]) => {
      shown += v;
      // The patterns in the order the words name them: what the input matched first.
      const item = element('div', 'item'), order = sidesOn(termsOn(run, r, panel.x)).map(side => ['plus', 'minus'][side]);
      order.forEach(which => {
        const p = pattern(run, r, which);
        if (!p) {
          // A form without this pattern (symmetric: no minus) keeps its column empty.
          item.append(element('span'));
          return;
        }
        const cv = element('canvas');
        paintOutlined(cv, p, maxAbs(p), ink, run.width, run.height, VOTE_ZOOM);
        cv.setAttribute('role', 'img');
        cv.setAttribute('aria-label', which + ' pattern of ' + run.label[r]);
        item.append(cv);
      });
      const link = element('a', '', run.label[r]);
      link.href = '#' + cardId(run.anchor, r);
      const name = element('span', 'name');
      const words = describeOn(run, r, panel.x, c);
      said.push([run.label[r], words, order[0], v / unbiased]);
      name.append(link, ' ' + words + (r >= run.displayed ? ' (residual)' : ''));
      item.append(name, element('span', 'val ' + (v >= 0 ? 'pos' : 'neg'), fmt(v)));
      items.push(item);
    });
  });
  const others = run.n - pos.length - neg.length;
  items.push(element('p', 'rest', 'logit ' + fmt(z[c]) + ' = bias ' + fmt(run.bias[c]) + ' + these ' + fmt(shown) + ' + the other ' + others +
    ' components ' + fmt(z[c] - run.bias[c] - shown) + '.'));
  box.replaceChildren(...items);
  return said;
}

let frame = 0;
function update() {
  if (frame) { return; }
  frame = requestAnimationFrame(() => {
    frame = 0;
    panel.x = panel.image !== null ? poolImage(panel.pixels, panel.image) : prepare(panel.strokes, STUDY.height, STUDY.width);
    paintPad();
    showOutputs();
  });
}

async function selectRun(anchor) {
  panel.run = await runRecord(anchor);
  panel.selected = null;
  selfCheck();
  update();
}

async function startPanel() {
  const pad = document.getElementById('pad'), pick = document.getElementById('pad-pick'), choose = document.getElementById('draw-run');
  panel.pixels = await pool();
  if (STUDY.base) {
    const b = STUDY.base;
    const [E, L, R, U] = await Promise.all([b.embed ? unpack(b.embed) : null, unpack(b.left), unpack(b.right), unpack(b.unembed)]);
    panel.base = Object.assign({ E, L, R, U }, b);
  }
  STUDY.images.menu.forEach(p => {
    const opt = element('option', '', 'test image ' + STUDY.images.index[p] + ' (digit ' + STUDY.images.label[p] + ')');
    opt.value = String(p);
    pick.append(opt);
  });
  let stroke = null;
  const at = ev => {
    const rect = pad.getBoundingClientRect();
    return [(ev.clientX - rect.left) / rect.width, (ev.clientY - rect.top) / rect.height];
  };
  pad.addEventListener('pointerdown', ev => {
    ev.preventDefault();
    if (pad.setPointerCapture) { try { pad.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic events have no capture */ } }
    if (panel.image !== null) {
      panel.image = null;
      pick.value = '';
    }
    stroke = [at(ev)];
    panel.strokes.push(stroke);
    update();
  });
  pad.addEventListener('pointermove', ev => {
    if (!stroke) { return; }
    ev.preventDefault();
    stroke.push(at(ev));
    update();
  });
  ['pointerup', 'pointercancel'].forEach(t => pad.addEventListener(t, () => { stroke = null; }));
  document.getElementById('pad-clear').addEventListener('click', () => {
    panel.strokes = [];
    panel.image = null;
    pick.value = '';
    update();
  });
  pick.addEventListener('change', () => {
    panel.image = pick.value === '' ? null : Number(pick.value);
    panel.strokes = [];
    update();
  });
  document.getElementById('pad-view').addEventListener('change', update);
  choose.addEventListener('change', () => selectRun(choose.value));
  // Start from the first test image, so that the panel explains something before anyone draws.
  if (STUDY.images.menu.length > 0) {
    panel.image = STUDY.images.menu[0];
    pick.value = String(panel.image);
  }
  await selectRun(choose.value);
}

/** For tests and the console: what the panel shows. */
window.bilensPanel = {
  ready: document.getElementById('pad') && STUDY ? startPanel().catch(err => {
    document.getElementById('selfcheck').textContent = 'The panel could not start: ' + err;
    console.error(err);
  }) : Promise.resolve(),
  state: () => Object.assign({ run: panel.run && panel.run.id, input: panel.x && Array.from(panel.x), image: panel.image }, panel.out),
};
