// core.js: what the rest of the script shares. The study's record (#report-data), packed
// arrays (see pack.rs), the one colour convention, and the runs' records, each decoded once
// when first needed.

const STUDY_EL = document.getElementById('report-data');
const STUDY = STUDY_EL ? JSON.parse(STUDY_EL.textContent) : null;

/** The bytes of a base64 string. */
function bytesOf(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) { out[i] = s.charCodeAt(i); }
  return out;
}

/** The values of a packed array: inflated, bytes regrouped; floats as a Float64Array
 *  (zigzag-coded fixed point times its segment's scale for 'q'). */
async function unpack(p) {
  const stream = new Blob([bytesOf(p.z)]).stream().pipeThrough(new DecompressionStream('deflate'));
  const planes = new Uint8Array(await new Response(stream).arrayBuffer());
  const n = p.n;
  if (p.type === 'u8') { return planes; }
  const out = new Float64Array(n);
  if (p.type === 'q') {
    const scale = await unpack(p.scale);
    for (let i = 0; i < n; i++) {
      const u = planes[i] | planes[n + i] << 8, q = (u >>> 1) ^ -(u & 1);
      // Rounded to f32 as bilens rounds it, so the page computes with bilens's numbers.
      out[i] = Math.fround(q * scale[Math.floor(i / p.seg)]);
    }
  } else {
    const word = new Uint8Array(4), view = new DataView(word.buffer);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 4; k++) { word[k] = planes[k * n + i]; }
      out[i] = view.getFloat32(0, true);
    }
  }
  return out;
}

/** The diverging colour of t in [-1, 1]: red positive, blue negative, white zero (Rust's colormap). */
function colour(t) {
  const pal = STUDY.palette, pos = (Math.max(-1, Math.min(1, t)) + 1) * 0.5 * (pal.length - 1);
  const i = Math.min(Math.floor(pos), pal.length - 2), f = pos - i;
  return [0, 1, 2].map(c => Math.round(pal[i][c] + (pal[i + 1][c] - pal[i][c]) * f));
}

/** The largest |value| of `values`, or `floor` if that is larger: a colour scale never 0. */
function maxAbs(values, floor = 1e-12) {
  let m = floor;
  for (let i = 0; i < values.length; i++) { m = Math.max(m, Math.abs(values[i])); }
  return m;
}

/** Paints signed values on a w×h canvas, on their own symmetric scale. */
function paintSigned(canvas, values, w, h) {
  const m = maxAbs(values);
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext('2d'), img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const rgb = colour(values[i] / m);
    img.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/** Paints pixel intensities in [0, 1] (black ink on white) on a w×h canvas. */
function paintInk(canvas, values, w, h, scale) {
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext('2d'), img = ctx.createImageData(w, h);
  for (let i = 0; i < w * h; i++) {
    const g = Math.round(255 * (1 - Math.max(0, Math.min(1, values[i] * (scale || 1)))));
    img.data.set([g, g, g, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/** A signed number with a proper minus sign. */
function fmt(v, digits) {
  return (v >= 0 ? '+' : '\u2212') + Math.abs(v).toFixed(digits === undefined ? 3 : digits);
}

/** An element with a class and text. */
function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) { el.className = className; }
  if (text !== undefined) { el.textContent = text; }
  return el;
}

const runCache = new Map();

/** A run's record (payload.rs) with its factors and heads decoded: A, B (n × inputs), H (n × classes). */
function runRecord(anchor) {
  if (!runCache.has(anchor)) {
    runCache.set(anchor, (async () => {
      const el = document.getElementById('data-run-' + anchor);
      if (!el) { throw new Error('the page holds no record for run ' + anchor); }
      const run = JSON.parse(el.textContent);
      let b, words, sides, atlasWords;
      [run.A, b, run.H, words, sides, atlasWords] = await Promise.all([unpack(run.a), unpack(run.b), unpack(run.heads),
        unpack(run.description), unpack(run.sides), run.atlas_words ? unpack(run.atlas_words) : null]);
      const lines = bytes => new TextDecoder().decode(bytes).split('\n');
      run.description = lines(words);
      run.sides = lines(sides);
      run.atlasWords = atlasWords && lines(atlasWords);
      run.B = everyB(run, b);
      run.anchor = anchor;
      return run;
    })());
  }
  return runCache.get(anchor);
}

/** B of every component from the record's `b`, which holds only the components whose b is a
 *  factor of its own (b = a for symmetric ones). */
function everyB(run, b) {
  const P = run.inputs, B = new Float64Array(run.n * P);
  let j = 0;
  for (let k = 0; k < run.n; k++) {
    if (run.form[k] === 'symmetric') {
      B.set(run.A.subarray(k * P, (k + 1) * P), k * P);
    } else {
      B.set(b.subarray(j * P, (j + 1) * P), k * P);
      j++;
    }
  }
  return B;
}

/** The test images the records point to, decoded once. */
let poolPromise = null;
function pool() {
  if (!poolPromise) { poolPromise = unpack(STUDY.images.pixels); }
  return poolPromise;
}

/** Pixels of pool image k in [0, 1]. */
function poolImage(pixels, k) {
  const P = STUDY.width * STUDY.height, x = new Float64Array(P);
  for (let i = 0; i < P; i++) { x[i] = pixels[k * P + i] / 255; }
  return x;
}

/** Pattern `which` ('plus' or 'minus') of component k, as components.rs displays it: CP
 *  a+b and a−b, split a and b, symmetric a (no minus: null). */
function pattern(run, k, which) {
  const f = run.form[k], P = run.inputs, o = k * P;
  if (which === 'minus' && f === 'symmetric') { return null; }
  const out = new Float64Array(P);
  for (let i = 0; i < P; i++) {
    const a = run.A[o + i], b = run.B[o + i];
    out[i] = f === 'cp' ? (which === 'plus' ? a + b : a - b) : (which === 'plus' ? a : b);
  }
  return out;
}

/** The names of a form's two patterns (Form::pattern_names). */
function patternNames(form) {
  return form === 'split' ? ['positive p', 'negative n'] : form === 'symmetric' ? ['pattern v', ''] : ['plus (a+b)', 'minus (a\u2212b)'];
}

/** The class component k's head votes for most strongly (argmax |head|, the first of ties). */
function strongestClass(run, k) {
  const C = run.classes;
  let best = 0;
  for (let c = 1; c < C; c++) { if (Math.abs(run.H[k * C + c]) > Math.abs(run.H[k * C + best])) { best = c; } }
  return best;
}

/** What component k's plus pattern does, by its head's strongest class: 'for 7' or 'against 0'. */
function headClass(run, k) {
  const best = strongestClass(run, k);
  return (run.H[k * run.classes + best] < 0 ? 'against ' : 'for ') + className(run, best);
}

/** Class c by its name where the run's data name classes, else its index. */
function className(run, c) {
  return run.class_names ? run.class_names[c] : String(c);
}

/** The address of component k's card. */
function cardId(anchor, k) {
  return 'card-' + anchor + '-' + k;
}
