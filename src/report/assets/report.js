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
