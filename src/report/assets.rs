//! The page's embedded stylesheet and script (kept here, not fetched, so the page works offline).

/// Light, readable styling: system fonts, a centred column, quiet tables.
pub const CSS: &str = r#"
:root { --fg: #1d1d1f; --muted: #666a73; --line: #e2e4e8; --soft: #f5f6f8; --accent: #2166ac; --neg: #b2182b; --warn-bg: #fff8e5; --warn: #7a5a00; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 80px; }
h1 { font-size: 1.8rem; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.35rem; margin: 2em 0 0.6em; padding-bottom: 0.25em; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.3em 0 0.5em; }
h4 { font-size: 0.95rem; margin: 1em 0 0.4em; color: var(--muted); }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.lead { font-size: 1.02rem; max-width: 62em; }
.muted { color: var(--muted); }
nav { display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 8px 0; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); }
.missing { color: var(--warn); background: var(--warn-bg); border: 1px solid #f0e0b0; border-radius: 6px; padding: 6px 10px; margin: 8px 0; font-size: 0.9rem; }
.two-col { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 8px 32px; }
.table-wrap { overflow: auto; width: fit-content; max-width: 100%; max-height: 70vh; border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; }
table { border-collapse: collapse; font-size: 0.82rem; }
th, td { padding: 4px 8px; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable thead th { vertical-align: bottom; position: sticky; top: 0; background: var(--soft); cursor: pointer; user-select: none; min-width: 4.5em; font-weight: 600; }
table.sortable thead th:hover { background: #e9ecf1; }
table.sortable th.asc::after { content: " \25B2"; font-size: 0.7em; }
table.sortable th.desc::after { content: " \25BC"; font-size: 0.7em; }
table.sortable tbody tr:hover { background: #fafbfc; }
#results table.sortable td:first-child { min-width: 12em; max-width: 24em; overflow-wrap: anywhere; }
.nested { margin-left: 4px; padding-left: 14px; border-left: 2px solid var(--line); }
table.kv { margin: 4px 0; }
table.kv th { font-weight: 500; color: var(--muted); padding-right: 16px; white-space: nowrap; }
table.kv td { overflow-wrap: anywhere; }
table.kv td.num { text-align: left; }
.kv-cols { columns: 3 300px; column-gap: 28px; }
.kv-cols table.kv { width: 100%; }
figure { margin: 10px 0; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; cursor: zoom-in; }
figure.zoom { overflow-x: auto; }
figure.zoom img { max-width: none; cursor: zoom-out; }
figcaption { color: var(--muted); font-size: 0.8rem; margin-top: 3px; overflow-wrap: anywhere; }
.figs { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 4px 18px; align-items: start; }
.figs.two { grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); }
.figs figure.zoom { grid-column: 1 / -1; }
pre, .mono { font: 0.8rem/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--soft); padding: 10px; border-radius: 6px; overflow: auto; max-height: 420px; }
details.run { border: 1px solid var(--line); border-radius: 8px; margin: 10px 0; padding: 0 16px; }
details.run[open] { padding-bottom: 12px; }
details.run > summary { cursor: pointer; padding: 10px 0; display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 14px; }
.run-id { font-weight: 600; overflow-wrap: anywhere; }
.stat { color: var(--muted); font-size: 0.85rem; font-variant-numeric: tabular-nums; }
.tag { background: var(--accent); color: #fff; border-radius: 10px; padding: 0 8px; font-size: 0.75rem; }
details.sub > summary { cursor: pointer; color: var(--muted); font-size: 0.9rem; margin: 6px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 6px 8px; }
.card figure { margin: 0 0 4px; }
.card figure img { border: none; }
.card table.kv { font-size: 0.76rem; width: 100%; }
.card table.kv th, .card table.kv td { padding: 1px 4px; }
.draw { display: grid; grid-template-columns: 300px minmax(260px, 1fr) minmax(320px, 1.3fr); gap: 24px; align-items: start; }
.draw h3 { margin-top: 0; }
#pad { width: 280px; height: 280px; border: 1px solid #999; border-radius: 4px; touch-action: none; cursor: crosshair; background: #fff; }
.pad-tools { display: flex; gap: 8px; margin: 8px 0; width: 280px; }
.pad-tools select { flex: 1; min-width: 0; }
button, select { font: inherit; font-size: 0.88rem; padding: 3px 8px; }
.selfcheck { font-size: 0.8rem; color: var(--muted); width: 280px; }
.selfcheck[data-status="fail"] { color: var(--neg); font-weight: 600; }
.logit-bars .row { display: grid; grid-template-columns: 4em 1fr 5em 3.8em; white-space: nowrap; gap: 6px; align-items: center; font-size: 0.85rem; cursor: pointer; padding: 1px 4px; border-radius: 4px; }
.logit-bars .row:hover { background: var(--soft); }
.logit-bars .row.top { font-weight: 700; }
.logit-bars .row.sel { background: #e8f0f8; }
.track { position: relative; height: 14px; background: var(--soft); border-radius: 3px; }
.track .zero { position: absolute; left: 50%; top: 0; bottom: 0; width: 1px; background: #888; }
.track .fill { position: absolute; top: 2px; bottom: 2px; border-radius: 2px; }
.fill.pos { background: var(--accent); }
.fill.neg { background: var(--neg); }
.logit-bars .val, .logit-bars .prob { text-align: right; font-variant-numeric: tabular-nums; }
.logit-bars .prob { color: var(--muted); font-size: 0.78rem; }
.contrib h4 { margin: 0.6em 0 0.3em; }
.contrib .item { display: grid; grid-template-columns: 36px 36px 1fr 4.8em; gap: 6px; align-items: center; font-size: 0.82rem; margin: 3px 0; }
.contrib canvas { width: 36px; height: 36px; image-rendering: pixelated; border: 1px solid var(--line); }
.contrib .val { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
.contrib .val.pos { color: var(--accent); }
.contrib .val.neg { color: var(--neg); }
.contrib .rest { color: var(--muted); font-size: 0.8rem; margin-top: 6px; }
@media (max-width: 980px) { .draw { grid-template-columns: 1fr; } }
"#;

/// Sortable tables, click-to-zoom figures and the draw-a-digit panel.
pub const JS: &str = r#"
(function () {
  'use strict';

  // Sortable tables: numbers numerically, the rest as text; a second click reverses.
  function sortKey(cell) { return cell ? cell.getAttribute('data-v') || '' : ''; }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.querySelectorAll('thead th');
    heads.forEach(function (th, col) {
      th.addEventListener('click', function () {
        var asc = !th.classList.contains('asc');
        heads.forEach(function (o) { o.classList.remove('asc', 'desc'); });
        th.classList.add(asc ? 'asc' : 'desc');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var a = sortKey(r1.cells[col]), b = sortKey(r2.cells[col]);
          var x = Number(a), y = Number(b);
          var c = (a !== '' && b !== '' && isFinite(x) && isFinite(y)) ? x - y : a.localeCompare(b, undefined, { numeric: true });
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });

  // Figures open at full size on click (wide grids are shrunk to the column otherwise).
  document.querySelectorAll('figure img').forEach(function (img) {
    img.addEventListener('click', function () { img.parentNode.classList.toggle('zoom'); });
  });

  var dataEl = document.getElementById('digit-data');
  if (!dataEl) { return; }
  var D = JSON.parse(dataEl.textContent);
  var P = D.pixels, R = D.rank, C = D.classes, SIDE = D.side;

  function bytes(b64) {
    var s = atob(b64), out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) { out[i] = s.charCodeAt(i); }
    return out;
  }
  function floats(b64) {
    var u = bytes(b64), view = new DataView(u.buffer), out = new Float64Array(u.length / 4);
    for (var i = 0; i < out.length; i++) { out[i] = view.getFloat32(4 * i, true); }
    return out;
  }
  var A = floats(D.a), B = floats(D.b);

  // act_r = (a.x)(b.x) for CP, (a.x)^2 symmetric, (a.x)^2 - (b.x)^2 split.
  function activations(x) {
    var act = new Float64Array(R);
    for (var r = 0; r < R; r++) {
      var o = r * P, sa = 0, sb = 0;
      for (var i = 0; i < P; i++) {
        var v = x[i];
        if (v !== 0) { sa += A[o + i] * v; sb += B[o + i] * v; }
      }
      var f = D.form[r];
      act[r] = f === 'cp' ? sa * sb : f === 'symmetric' ? sa * sa : sa * sa - sb * sb;
    }
    return act;
  }
  function logits(act) {
    var z = new Float64Array(C);
    for (var c = 0; c < C; c++) {
      var s = D.bias[c], h = D.heads[c];
      for (var r = 0; r < R; r++) { s += h[r] * act[r]; }
      z[c] = s;
    }
    return z;
  }
  function image(k) {
    var u = bytes(D.images[k].pixels), x = new Float64Array(P);
    for (var i = 0; i < P; i++) { x[i] = u[i] / 255; }
    return x;
  }
  function fmt(v) { return (v >= 0 ? '+' : '\u2212') + Math.abs(v).toFixed(3); }

  // Self-check: bilens's logits for stored test images against this page's.
  (function selfCheck() {
    var el = document.getElementById('selfcheck');
    var maxDiff = 0;
    D.check.forEach(function (ch) {
      var z = logits(activations(image(ch.image)));
      for (var c = 0; c < C; c++) { maxDiff = Math.max(maxDiff, Math.abs(z[c] - ch.logits[c])); }
    });
    var ok = D.check.length > 0 && maxDiff <= D.tolerance;
    el.setAttribute('data-maxdiff', maxDiff.toExponential(3));
    el.setAttribute('data-status', ok ? 'ok' : 'fail');
    el.textContent = 'Self-check on ' + D.check.length + ' test images: max |logit(page) \u2212 logit(bilens)| = ' +
      maxDiff.toExponential(2) + (ok ? ' \u2714' : ' \u2718 (exceeds ' + D.tolerance + ')');
    if (!ok) { console.error('bilens self-check failed: max logit difference ' + maxDiff + ' over ' + D.check.length + ' images'); }
  })();

  // Component thumbnails: plus/minus display patterns (red > 0, blue < 0), drawn once.
  function pattern(r, which) {
    var f = D.form[r], o = r * P, out = new Float64Array(P);
    if (which === 'minus' && f === 'symmetric') { return null; }
    for (var i = 0; i < P; i++) {
      var a = A[o + i], b = B[o + i];
      out[i] = f === 'cp' ? (which === 'plus' ? a + b : a - b) : (which === 'plus' ? a : b);
    }
    return out;
  }
  var thumbCache = {};
  function thumb(r, which) {
    var key = which + r;
    if (!(key in thumbCache)) {
      var p = pattern(r, which), cv = document.createElement('canvas');
      cv.width = SIDE; cv.height = SIDE;
      var ctx = cv.getContext('2d'), img = ctx.createImageData(SIDE, SIDE);
      var m = 1e-12;
      if (p) { for (var i = 0; i < P; i++) { m = Math.max(m, Math.abs(p[i])); } }
      for (var j = 0; j < P; j++) {
        var t = p ? p[j] / m : 0, k = 4 * j, rgb;
        rgb = t >= 0 ? [255 - (255 - 178) * t, 255 - (255 - 24) * t, 255 - (255 - 43) * t]
                     : [255 + (255 - 33) * t, 255 + (255 - 102) * t, 255 + (255 - 172) * t];
        img.data[k] = rgb[0]; img.data[k + 1] = rgb[1]; img.data[k + 2] = rgb[2]; img.data[k + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      thumbCache[key] = cv;
    }
    var copy = document.createElement('canvas');
    copy.width = SIDE; copy.height = SIDE;
    copy.getContext('2d').drawImage(thumbCache[key], 0, 0);
    copy.title = which + ' pattern of ' + D.label[r];
    return copy;
  }

  // The drawing: a 28x28 array in [0, 1], painted with a soft round brush.
  var x = new Float64Array(P);
  var pad = document.getElementById('pad'), pctx = pad.getContext('2d');
  var SCALE = pad.width / SIDE, R_IN = 0.9, R_OUT = 1.9;
  var selected = null, pending = false;

  function paintPad() {
    var img = pctx.createImageData(pad.width, pad.height);
    for (var py = 0; py < pad.height; py++) {
      for (var px = 0; px < pad.width; px++) {
        var v = x[Math.floor(py / SCALE) * SIDE + Math.floor(px / SCALE)];
        var g = Math.round(255 * (1 - v)), k = 4 * (py * pad.width + px);
        img.data[k] = g; img.data[k + 1] = g; img.data[k + 2] = g; img.data[k + 3] = 255;
      }
    }
    pctx.putImageData(img, 0, 0);
  }
  function stroke(x0, y0, x1, y1) {
    var dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    var lo = Math.floor(Math.min(x0, x1) - R_OUT), hi = Math.ceil(Math.max(x0, x1) + R_OUT);
    var top = Math.floor(Math.min(y0, y1) - R_OUT), bot = Math.ceil(Math.max(y0, y1) + R_OUT);
    for (var i = Math.max(0, top); i < Math.min(SIDE, bot); i++) {
      for (var j = Math.max(0, lo); j < Math.min(SIDE, hi); j++) {
        var cx = j + 0.5, cy = i + 0.5;
        var t = len2 > 0 ? Math.max(0, Math.min(1, ((cx - x0) * dx + (cy - y0) * dy) / len2)) : 0;
        var ex = cx - (x0 + t * dx), ey = cy - (y0 + t * dy), d = Math.sqrt(ex * ex + ey * ey);
        var v = Math.max(0, Math.min(1, (R_OUT - d) / (R_OUT - R_IN)));
        if (v > x[i * SIDE + j]) { x[i * SIDE + j] = v; }
      }
    }
  }
  function schedule() {
    if (pending) { return; }
    pending = true;
    requestAnimationFrame(function () { pending = false; paintPad(); update(); });
  }

  var last = null;
  function at(ev) {
    var rect = pad.getBoundingClientRect();
    return [(ev.clientX - rect.left) / rect.width * SIDE, (ev.clientY - rect.top) / rect.height * SIDE];
  }
  pad.addEventListener('pointerdown', function (ev) {
    ev.preventDefault();
    if (pad.setPointerCapture) { try { pad.setPointerCapture(ev.pointerId); } catch (e) { /* synthetic events */ } }
    last = at(ev);
    stroke(last[0], last[1], last[0], last[1]);
    schedule();
  });
  pad.addEventListener('pointermove', function (ev) {
    if (!last) { return; }
    ev.preventDefault();
    var p = at(ev);
    stroke(last[0], last[1], p[0], p[1]);
    last = p;
    schedule();
  });
  ['pointerup', 'pointercancel', 'pointerleave'].forEach(function (t) { pad.addEventListener(t, function () { last = null; }); });

  document.getElementById('pad-clear').addEventListener('click', function () {
    x = new Float64Array(P);
    document.getElementById('pad-pick').value = '';
    schedule();
  });
  var pick = document.getElementById('pad-pick');
  D.images.forEach(function (im, k) {
    var opt = document.createElement('option');
    opt.value = String(k);
    opt.textContent = 'Test image ' + im.index + ' (digit ' + im.label + ')';
    pick.appendChild(opt);
  });
  pick.addEventListener('change', function () {
    if (pick.value !== '') { x = image(Number(pick.value)); schedule(); }
  });

  function update() {
    var act = activations(x), z = logits(act);
    var top = 0, zmax = 1e-9, sum = 0, m = -Infinity;
    for (var c = 0; c < C; c++) {
      if (z[c] > z[top]) { top = c; }
      zmax = Math.max(zmax, Math.abs(z[c]));
      m = Math.max(m, z[c]);
    }
    for (var c2 = 0; c2 < C; c2++) { sum += Math.exp(z[c2] - m); }
    var cls = selected === null ? top : selected;

    var bars = document.getElementById('logit-bars');
    bars.textContent = '';
    for (var k = 0; k < C; k++) {
      var row = document.createElement('div');
      row.className = 'row' + (k === top ? ' top' : '') + (k === cls ? ' sel' : '');
      row.title = 'click to show the components voting on class ' + k;
      var w = 50 * Math.abs(z[k]) / zmax;
      row.innerHTML = '<span>digit ' + k + '</span><span class="track"><span class="zero"></span><span class="fill ' +
        (z[k] >= 0 ? 'pos" style="left:50%;width:' : 'neg" style="right:50%;width:') + w.toFixed(2) + '%"></span></span>' +
        '<span class="val">' + fmt(z[k]) + '</span><span class="prob">' + (100 * Math.exp(z[k] - m) / sum).toFixed(1) + '%</span>';
      row.addEventListener('click', (function (kk) { return function () { selected = selected === kk ? null : kk; update(); }; })(k));
      bars.appendChild(row);
    }

    var contrib = [];
    for (var r = 0; r < R; r++) { contrib.push([r, D.heads[cls][r] * act[r]]); }
    var pos = contrib.filter(function (e) { return e[1] > 0; }).sort(function (p, q) { return q[1] - p[1]; }).slice(0, 5);
    var neg = contrib.filter(function (e) { return e[1] < 0; }).sort(function (p, q) { return p[1] - q[1]; }).slice(0, 5);
    var shown = 0;
    pos.concat(neg).forEach(function (e) { shown += e[1]; });
    document.getElementById('contrib-title').textContent = 'Components voting on digit ' + cls + (selected === null ? ' (top class)' : ' (selected)');
    var box = document.getElementById('contrib');
    box.textContent = '';
    [['For', pos], ['Against', neg]].forEach(function (group) {
      var h = document.createElement('h4');
      h.textContent = group[0] + ' digit ' + cls;
      box.appendChild(h);
      if (group[1].length === 0) {
        var none = document.createElement('div');
        none.className = 'rest';
        none.textContent = 'none';
        box.appendChild(none);
      }
      group[1].forEach(function (e) {
        var item = document.createElement('div');
        item.className = 'item';
        var minus = thumb(e[0], 'minus');
        item.appendChild(thumb(e[0], 'plus'));
        item.appendChild(minus);
        var name = document.createElement('span');
        name.textContent = D.label[e[0]] + ' (' + D.form[e[0]] + ')';
        var val = document.createElement('span');
        val.className = 'val ' + (e[1] >= 0 ? 'pos' : 'neg');
        val.textContent = fmt(e[1]);
        item.appendChild(name);
        item.appendChild(val);
        box.appendChild(item);
      });
    });
    var rest = document.createElement('div');
    rest.className = 'rest';
    rest.textContent = 'logit ' + fmt(z[cls]) + ' = bias ' + fmt(D.bias[cls]) + ' + these ' + fmt(shown) + ' + the other ' +
      (R - pos.length - neg.length) + ' components ' + fmt(z[cls] - D.bias[cls] - shown) + '. Thumbnails: plus and minus patterns (red > 0, blue < 0).';
    box.appendChild(rest);
  }

  // Start from the first test image so the panel explains something before anyone draws.
  if (D.images.length > 0) { pick.value = '0'; x = image(0); }
  paintPad();
  update();

  // `#synthetic-draw` in the address: clear, draw a stroke with synthetic pointer events and
  // record the result in #drawcheck (used by the headless-browser test).
  if (location.hash === '#synthetic-draw') {
    document.getElementById('pad-clear').click();
    var rect = pad.getBoundingClientRect();
    var pts = [[0.5, 0.2], [0.5, 0.4], [0.5, 0.6], [0.5, 0.8]];
    pts.forEach(function (p, i) {
      pad.dispatchEvent(new PointerEvent(i === 0 ? 'pointerdown' : 'pointermove', {
        bubbles: true, cancelable: true, pointerId: 1, isPrimary: true,
        clientX: rect.left + p[0] * rect.width, clientY: rect.top + p[1] * rect.height
      }));
    });
    pad.dispatchEvent(new PointerEvent('pointerup', { bubbles: true, pointerId: 1 }));
    paintPad();
    update();
    var ink = 0;
    for (var i = 0; i < P; i++) { ink += x[i]; }
    var z = logits(activations(x)), top = 0;
    for (var c = 1; c < C; c++) { if (z[c] > z[top]) { top = c; } }
    var out = document.createElement('p');
    out.id = 'drawcheck';
    out.setAttribute('data-ink', ink.toFixed(3));
    out.setAttribute('data-top', String(top));
    out.setAttribute('data-items', String(document.querySelectorAll('#contrib .item').length));
    document.getElementById('selfcheck').after(out);
  }
})();
"#;
