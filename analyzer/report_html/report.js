/*
 * The report's script: reads the JSON block cprof wrote (export_html.c)
 * and draws every view from it: header and warnings, the flame graph
 * (canvas; click to zoom and select, search to highlight), the sortable
 * function table, the callers and callees of the selected function, the
 * line tables, heap figures and the run's processes. No framework, nothing
 * fetched. Strings from the data only ever enter the page as text
 * (textContent, createTextNode, canvas fillText): never as markup.
 */
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('cprof-data').textContent);
  var F = D.functions;
  var T = D.tree;
  var timed = D.run.timed;
  var hasHeap = !!D.heap;
  var selected = -1;

  /* ---- helpers ---- */
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function three(v) { return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2); }
  function fmtNs(ns) {
    if (ns === null || ns === undefined) return '-';
    var a = Math.abs(ns);
    if (a < 1000) return ns.toFixed(0) + ' ns';
    if (a < 1e6) return three(ns / 1e3) + ' \u00b5s';
    if (a < 1e9) return three(ns / 1e6) + ' ms';
    return three(ns / 1e9) + ' s';
  }
  function fmtBytes(b, sign) {
    if (b === null || b === undefined) return '-';
    var a = Math.abs(b), s = sign && b > 0 ? '+' : '';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], u = 0;
    if (a < 1024) return s + b.toFixed(0) + ' B';
    while (a >= 1024 && u < units.length - 1) { a /= 1024; b /= 1024; u++; }
    return s + three(b) + ' ' + units[u];
  }
  function fmtInt(n) {
    if (n === null || n === undefined) return '-';
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }
  function fmtPct(p) { return p === null || !isFinite(p) ? '-' : p.toFixed(p >= 10 ? 1 : 2) + '%'; }
  function fnName(i) { return i >= 0 && F[i] ? F[i].name : i === -1 ? '(thread start)' : '?'; }
  function fnLocation(f) {
    if (f.file) return f.line ? f.file + ':' + f.line : f.file;
    return f.module || '';
  }
  /* the last two parts of a path: the table stays narrow (the whole path
   * is the cell's tooltip) */
  function shortPath(p) { return p.split('/').slice(-2).join('/'); }
  function perCall(t, n) { return t === null || !n ? null : t / n; }
  function addRow(tbody, cells, cls) {
    var tr = el('tr', cls);
    cells.forEach(function (c) {
      var td = el('td', c[1], c[0]);
      if (c[2]) td.title = c[2];
      tr.appendChild(td);
    });
    tbody.appendChild(tr);
    return tr;
  }
  function headRow(thead, titles) {
    var tr = el('tr');
    titles.forEach(function (t) { tr.appendChild(el('th', t[1] || '', t[0])); });
    thead.appendChild(tr);
  }

  /* ---- header, warnings ---- */
  var procs = D.run.processes;
  (function header() {
    var p0 = procs[0];
    var prog = p0 ? (p0.argv && p0.argv.length ? p0.argv.join(' ') : p0.exe) : '';
    $('title').textContent = 'cprof report' + (prog ? ': ' + prog : '');
    document.title = 'cprof: ' + (prog || 'report');
    var meta = $('meta');
    function item(label, value) {
      var s = el('span');
      s.appendChild(el('b', null, label + ' '));
      s.appendChild(document.createTextNode(value));
      meta.appendChild(s);
    }
    var pids = procs.map(function (p) { return p.pid; });
    item(pids.length === 1 ? 'pid' : 'pids', pids.slice(0, 8).join(', ') + (pids.length > 8 ? ', \u2026 (' + pids.length + ')' : ''));
    var modes = {};
    procs.forEach(function (p) { modes[p.mode] = 1; });
    item('mode', Object.keys(modes).join(', '));
    var dur = null, threads = 0;
    procs.forEach(function (p) {
      if (p.duration_ns !== null && (dur === null || p.duration_ns > dur)) dur = p.duration_ns;
      threads += p.threads.length;
    });
    if (dur !== null) item('duration', fmtNs(dur) + (procs.length > 1 ? ' (longest process)' : ''));
    item('threads', threads);
    item('functions', F.length);
    item('calls', fmtInt(D.totals.calls));
    if (timed) item('self time', fmtNs(D.totals.self_ns));
    else item('count mode', 'no times recorded');
    if (D.warnings.length) {
      var w = $('warnings');
      w.hidden = false;
      w.appendChild(el('b', null, D.warnings.length === 1 ? 'Warning' : 'Warnings'));
      var ul = el('ul');
      D.warnings.forEach(function (t) { ul.appendChild(el('li', null, t)); });
      w.appendChild(ul);
    }
  })();

  /* ---- flame graph ---- */
  var ROW = 18;
  if (!timed) $('flame-hint').textContent = '(width: calls of the subtree; click a frame to zoom and select)';
  var canvas = $('flame'), ctx = canvas.getContext('2d');
  var kids = T.map(function () { return []; });
  var depth = new Int32Array(T.length);
  for (var i = 1; i < T.length; i++) {
    kids[T[i][1]].push(i);
    depth[i] = depth[T[i][1]] + 1;
  }
  kids.forEach(function (k) { k.sort(function (a, b) { return T[b][5] - T[a][5]; }); });
  var zoom = 0;
  var rects = []; /* drawn frames: [x, y, w, node] */
  var matches = null; /* search: set of function indexes, or null */
  var palette = {};
  function colour(fn) {
    if (palette[fn]) return palette[fn];
    var name = fnName(fn), h = 0, h2 = 0;
    for (var i = 0; i < name.length; i++) {
      h = (h * 31 + name.charCodeAt(i)) >>> 0;
      h2 = (h2 * 17 + name.charCodeAt(i) * 7) >>> 0;
    }
    var v1 = (h % 1000) / 1000, v2 = (h2 % 1000) / 1000;
    var c = 'rgb(' + (205 + Math.round(50 * v2)) + ',' + Math.round(80 + 150 * v1) + ',' + Math.round(55 * v2) + ')';
    palette[fn] = c;
    return c;
  }
  function frameName(n) { return n === 0 ? 'all' : fnName(T[n][0]); }
  function layout(width) {
    rects = [];
    var z = zoom, chain = [];
    for (var a = z; a !== -1; a = a === 0 ? -1 : T[a][1]) chain.unshift(a);
    chain.forEach(function (n, d) { rects.push([0, d * ROW, width, n, n !== z]); });
    var total = T[z][5] || 1, scale = width / total;
    var stack = [[z, 0, chain.length - 1]];
    while (stack.length) {
      var top = stack.pop(), n = top[0], x = top[1], d = top[2];
      var k = kids[n], cx = x;
      for (var j = 0; j < k.length; j++) {
        var c = k[j], w = T[c][5] * scale;
        if (w >= 0.5 && d + 1 < 1000) {
          rects.push([cx, (d + 1) * ROW, w, c, false]);
          stack.push([c, cx, d + 1]);
        }
        cx += w;
      }
    }
  }
  function draw() {
    var width = canvas.parentNode.clientWidth || 1200;
    layout(width);
    var rows = 1;
    rects.forEach(function (r) { rows = Math.max(rows, r[1] / ROW + 1); });
    var dpr = window.devicePixelRatio || 1;
    canvas.style.height = rows * ROW + 'px';
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(rows * ROW * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, rows * ROW);
    ctx.font = '12px system-ui, "DejaVu Sans", sans-serif';
    ctx.textBaseline = 'middle';
    var matchedWeight = 0;
    rects.forEach(function (r) {
      var n = r[3], fn = n === 0 ? -2 : T[n][0];
      var hit = matches && n !== 0 && matches[fn];
      ctx.globalAlpha = r[4] ? 0.55 : 1;
      ctx.fillStyle = hit ? 'rgb(220,60,220)' : n === 0 ? 'rgb(200,200,200)' : colour(fn);
      ctx.fillRect(r[0], r[1], Math.max(r[2] - 0.5, 0.5), ROW - 1);
      if (selected >= 0 && fn === selected) {
        ctx.strokeStyle = '#102a60';
        ctx.lineWidth = 2;
        ctx.strokeRect(r[0] + 1, r[1] + 1, Math.max(r[2] - 2.5, 0.5), ROW - 3);
      }
      if (r[2] > 24) {
        var name = frameName(n), max = Math.floor((r[2] - 6) / 6.5);
        if (name.length > max) name = max > 2 ? name.slice(0, max - 2) + '..' : '';
        if (name) {
          ctx.fillStyle = '#000';
          ctx.fillText(name, r[0] + 3, r[1] + ROW / 2);
        }
      }
      if (hit && !r[4]) matchedWeight += T[n][4] !== null ? (timed ? T[n][4] : T[n][2]) : 0;
    });
    ctx.globalAlpha = 1;
    canvas.setAttribute('data-frames', String(rects.length));
    canvas.setAttribute('data-nodes', String(T.length));
    /* where the graph shows on the page (its box scrolls past 540 px) */
    var b = canvas.getBoundingClientRect(), shown = Math.min(b.height, canvas.parentNode.clientHeight || b.height);
    canvas.setAttribute('data-rect', [Math.round(b.left + window.scrollX), Math.round(b.top + window.scrollY), Math.round(b.width), Math.round(shown)].join(','));
    var info = '';
    if (matches) {
      var nf = Object.keys(matches).length;
      info = nf + ' function' + (nf === 1 ? '' : 's') + ' match';
      if (timed && T[zoom][5]) info += ', ' + fmtPct(100 * matchedWeight / T[zoom][5]) + ' of the self time shown';
    }
    if (D.tree_dropped) info += (info ? '; ' : '') + D.tree_dropped + ' light call paths left out of the data';
    $('match').textContent = info;
  }
  function frameAt(ev) {
    var b = canvas.getBoundingClientRect(), x = ev.clientX - b.left, y = ev.clientY - b.top;
    for (var i = rects.length - 1; i >= 0; i--) {
      var r = rects[i];
      if (y >= r[1] && y < r[1] + ROW && x >= r[0] && x < r[0] + r[2]) return r[3];
    }
    return -1;
  }
  var tip = $('tooltip');
  canvas.addEventListener('mousemove', function (ev) {
    var n = frameAt(ev);
    if (n < 0) { tip.hidden = true; return; }
    tip.textContent = '';
    tip.appendChild(el('b', null, frameName(n)));
    var all = T[0][5] || 1;
    var lines = ['calls: ' + fmtInt(n === 0 ? D.totals.calls : T[n][2])];
    if (timed) {
      if (n !== 0) lines.push('total: ' + fmtNs(T[n][3]), 'self: ' + fmtNs(T[n][4]));
      lines.push('subtree self time: ' + fmtNs(T[n][5]) + ' (' + fmtPct(100 * T[n][5] / all) + ' of all)');
    }
    if (n !== 0 && F[T[n][0]]) lines.push(fnLocation(F[T[n][0]]));
    lines.forEach(function (l) { tip.appendChild(el('div', null, l)); });
    tip.hidden = false;
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth) x = Math.max(0, ev.clientX - tip.offsetWidth - 8);
    if (y + tip.offsetHeight > window.innerHeight) y = Math.max(0, ev.clientY - tip.offsetHeight - 8);
    tip.style.left = x + 'px';
    tip.style.top = y + 'px';
  });
  canvas.addEventListener('mouseleave', function () { tip.hidden = true; });
  canvas.addEventListener('click', function (ev) {
    var n = frameAt(ev);
    if (n < 0) return;
    zoom = n;
    if (n !== 0 && T[n][0] >= 0) select(T[n][0]); else draw();
  });
  $('reset').addEventListener('click', function () { zoom = 0; draw(); });
  $('zoom-out').addEventListener('click', function () { if (zoom) { zoom = T[zoom][1]; draw(); } });
  $('search').addEventListener('input', function () {
    var q = this.value.trim(), re = null;
    if (!q) { matches = null; draw(); renderFunctions(); return; }
    var m = /^\/(.*)\/([a-z]*)$/.exec(q);
    try { re = m ? new RegExp(m[1], m[2]) : null; } catch (e) { re = null; }
    var lower = q.toLowerCase();
    matches = {};
    F.forEach(function (f, i) {
      if (re ? re.test(f.name) : f.name.toLowerCase().indexOf(lower) >= 0) matches[i] = true;
    });
    draw();
    renderFunctions();
  });
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(draw, 100);
  });

  /* ---- function table ---- */
  var anyPct = F.some(function (f) { return f.p50_ns !== null; });
  var cols = [
    {key: 'name', title: 'Function', cls: 'name', get: function (f) { return f.name; }, text: true},
    {key: 'file', title: 'Location', cls: 'file', get: fnLocation, show: shortPath, text: true},
    {key: 'calls', title: 'Calls', get: function (f) { return f.calls; }, show: fmtInt}
  ];
  if (timed) {
    cols.push(
      {key: 'self', title: 'Self', get: function (f) { return f.self_ns; }, show: fmtNs},
      {key: 'self_pct', title: 'Self %', get: function (f) { return D.totals.self_ns ? 100 * f.self_ns / D.totals.self_ns : null; }, show: fmtPct, bar: true},
      {key: 'total', title: 'Total', get: function (f) { return f.total_ns; }, show: fmtNs},
      {key: 'self_call', title: 'Self/call', get: function (f) { return perCall(f.self_ns, f.calls); }, show: fmtNs},
      {key: 'total_call', title: 'Total/call', get: function (f) { return perCall(f.total_ns, f.calls); }, show: fmtNs},
      {key: 'min', title: 'Min', get: function (f) { return f.min_ns; }, show: fmtNs},
      {key: 'max', title: 'Max', get: function (f) { return f.max_ns; }, show: fmtNs});
    if (anyPct)
      ['p50', 'p90', 'p99'].forEach(function (p) {
        cols.push({key: p, title: p, get: function (f) { return f[p + '_ns']; }, show: fmtNs});
      });
  }
  if (hasHeap)
    cols.push(
      {key: 'alloc', title: 'Allocated', get: function (f) { return f.alloc_bytes; }, show: fmtBytes},
      {key: 'net', title: 'Heap net (total)', get: function (f) { return f.total_alloc_bytes - f.total_freed_bytes; }, show: function (v) { return fmtBytes(v, true); }},
      {key: 'peak', title: 'Peak', get: function (f) { return f.peak_bytes; }, show: fmtBytes},
      {key: 'leaked', title: 'Leaked', get: function (f) { return f.leaked_bytes; }, show: fmtBytes});
  var sortCol = timed ? 3 : 2, sortDesc = true, showAll = false, LIMIT = 300;
  function order() {
    var c = cols[sortCol], idx = F.map(function (f, i) { return i; });
    if (matches) idx = idx.filter(function (i) { return matches[i]; });
    idx.sort(function (a, b) {
      var va = c.get(F[a]), vb = c.get(F[b]), r;
      if (c.text) r = va < vb ? -1 : va > vb ? 1 : 0;
      else r = (va === null ? -Infinity : va) - (vb === null ? -Infinity : vb);
      if (sortDesc) r = -r;
      if (r !== r) r = 0; /* null against null */
      return r || (F[a].name < F[b].name ? -1 : F[a].name > F[b].name ? 1 : a - b);
    });
    return idx;
  }
  var table = $('functions');
  (function head() {
    var tr = el('tr');
    cols.forEach(function (c, i) {
      var th = el('th', 'sortable ' + (c.cls || ''), c.title);
      th.addEventListener('click', function () {
        if (sortCol === i) sortDesc = !sortDesc;
        else { sortCol = i; sortDesc = !c.text; }
        renderFunctions();
      });
      tr.appendChild(th);
    });
    table.tHead.appendChild(tr);
  })();
  function renderFunctions() {
    var ths = table.tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) {
      ths[i].classList.remove('sorted-asc', 'sorted-desc');
      if (i === sortCol) ths[i].classList.add(sortDesc ? 'sorted-desc' : 'sorted-asc');
    }
    var idx = order(), body = el('tbody'), n = showAll ? idx.length : Math.min(idx.length, LIMIT);
    for (var r = 0; r < n; r++) {
      var f = F[idx[r]], tr = el('tr', 'fn-row' + (idx[r] === selected ? ' selected' : ''));
      tr.setAttribute('data-fn', String(idx[r]));
      cols.forEach(function (c) {
        var v = c.get(f), td = el('td', c.cls || '');
        if (c.bar && v !== null) {
          var bar = el('span', 'bar');
          bar.style.width = Math.round(Math.min(v, 100) * 0.6) + 'px';
          td.appendChild(bar);
        }
        td.appendChild(document.createTextNode(c.show ? c.show(v) : v));
        if (c.text) td.title = v;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    }
    table.replaceChild(body, table.tBodies[0]);
    var more = $('functions-more');
    more.textContent = '';
    if (n < idx.length) {
      var btn = el('button', null, 'Show all ' + idx.length + ' functions');
      btn.type = 'button';
      btn.addEventListener('click', function () { showAll = true; renderFunctions(); });
      more.appendChild(document.createTextNode((idx.length - n) + ' more rows hidden. '));
      more.appendChild(btn);
    }
  }
  table.addEventListener('click', function (ev) {
    var tr = ev.target.closest('tr.fn-row');
    if (tr) select(Number(tr.getAttribute('data-fn')));
  });

  /* ---- the selected function: callers and callees ---- */
  var callers = F.map(function () { return []; }), callees = F.map(function () { return []; });
  D.edges.forEach(function (e) {
    if (e[1] >= 0) callers[e[1]].push(e);
    if (e[0] >= 0) callees[e[0]].push(e);
  });
  function neighbours(title, edges, other) {
    var box = el('div');
    box.appendChild(el('h3', null, title + ' (' + edges.length + ')'));
    if (!edges.length) { box.appendChild(el('p', 'hint', 'none')); return box; }
    var t = el('table'), thead = el('thead'), tbody = el('tbody');
    headRow(thead, [['Function', 'name'], ['Calls'], timed ? ['Total'] : null, timed ? ['Self'] : null].filter(Boolean));
    edges.slice().sort(function (a, b) { return timed ? b[3] - a[3] : b[2] - a[2]; }).forEach(function (e) {
      var fn = e[other], cells = [[fnName(fn), 'name', fn >= 0 ? fnLocation(F[fn]) : ''], [fmtInt(e[2])]];
      if (timed) cells.push([fmtNs(e[3])], [fmtNs(e[4])]);
      var tr = addRow(tbody, cells, fn >= 0 ? 'nb-row' : '');
      if (fn >= 0) tr.addEventListener('click', function () { select(fn); });
    });
    t.appendChild(thead);
    t.appendChild(tbody);
    box.appendChild(t);
    return box;
  }
  function select(fn) {
    selected = fn;
    var f = F[fn], box = $('selected');
    box.textContent = '';
    box.setAttribute('data-fn', String(fn));
    box.appendChild(el('h3', null, f.name));
    var dl = el('dl');
    function item(k, v) { dl.appendChild(el('dt', null, k)); dl.appendChild(el('dd', null, v)); }
    item('location', fnLocation(f) || '-');
    if (f.module) item('module', f.module);
    item('calls', fmtInt(f.calls));
    if (timed) {
      item('self', fmtNs(f.self_ns) + ' (' + fmtPct(D.totals.self_ns ? 100 * f.self_ns / D.totals.self_ns : null) + ')');
      item('total', fmtNs(f.total_ns));
      item('per call', fmtNs(perCall(f.total_ns, f.calls)) + ' total, min ' + fmtNs(f.min_ns) + ', max ' + fmtNs(f.max_ns));
      if (f.p50_ns !== null) item('percentiles', 'p50 ' + fmtNs(f.p50_ns) + ', p90 ' + fmtNs(f.p90_ns) + ', p99 ' + fmtNs(f.p99_ns) + (f.pct_exact ? ' (exact)' : ' (estimated)'));
    }
    if (hasHeap)
      item('heap', 'allocated ' + fmtBytes(f.alloc_bytes) + ' in ' + fmtInt(f.alloc_calls) + ' calls (self), total net ' + fmtBytes(f.total_alloc_bytes - f.total_freed_bytes, true) + ', peak ' + fmtBytes(f.peak_bytes) + ', leaked ' + fmtBytes(f.leaked_bytes));
    box.appendChild(dl);
    if (f.lines) {
      var a = el('a', null, 'line by line \u2193');
      a.href = '#lines-' + fn;
      a.addEventListener('click', function () { var d = $('lines-' + fn); if (d) d.open = true; });
      box.appendChild(a);
    }
    var nb = el('div', 'neighbours');
    nb.appendChild(neighbours('Callers', callers[fn], 0));
    nb.appendChild(neighbours('Callees', callees[fn], 1));
    box.appendChild(nb);
    var rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++)
      rows[i].classList.toggle('selected', rows[i].getAttribute('data-fn') === String(fn));
    draw();
  }

  /* ---- line tables ---- */
  function renderLines() {
    if (!D.lines.length) return;
    $('lines-section').hidden = false;
    var box = $('lines');
    D.lines.forEach(function (g, gi) {
      var f = g.function >= 0 ? F[g.function] : null;
      var det = el('details');
      if (g.function >= 0) det.id = 'lines-' + g.function;
      if (gi < 3) det.open = true;
      var total = f ? f.total_ns : null;
      det.appendChild(el('summary', null, (f ? f.name : g.name) + (f ? '  \u2014  ' + fnLocation(f) + (timed ? ', total ' + fmtNs(total) : '') + ' in ' + fmtInt(f.calls) + ' call' + (f.calls === 1 ? '' : 's') : '')));
      g.files.forEach(function (file, fi) {
        if (fi > 0) det.appendChild(el('h3', null, 'lines in ' + file.file));
        if (!file.source) det.appendChild(el('p', 'hint', 'source file not found: ' + file.file + ' (lines are shown without their text)'));
        var t = el('table', 'lines'), thead = el('thead'), tbody = el('tbody');
        var titles = [['Line #'], ['Hits']];
        if (timed) titles.push(['Time'], ['Self'], ['Per Hit'], ['% Time']);
        titles.push(['Line Contents', 'text']);
        headRow(thead, titles);
        file.rows.forEach(function (r) {
          var data = r[1] !== null;
          var cells = [[r[0]], [data ? fmtInt(r[1]) : '']];
          if (timed) cells.push([data ? fmtNs(r[2]) : ''], [data ? fmtNs(r[3]) : ''], [data && r[1] ? fmtNs(r[2] / r[1]) : ''], [data && total ? fmtPct(100 * r[2] / total) : '']);
          cells.push([r[4] === null ? '' : r[4], 'text']);
          addRow(tbody, cells, data ? 'data' : 'nodata');
        });
        t.appendChild(thead);
        t.appendChild(tbody);
        var s = el('div', 'scroll');
        s.appendChild(t);
        det.appendChild(s);
      });
      box.appendChild(det);
    });
  }

  /* ---- heap ---- */
  function renderHeap() {
    if (!hasHeap) return;
    $('heap-section').hidden = false;
    var h = D.heap, box = $('heap'), t = el('table'), tb = el('tbody');
    function row(k, calls, bytes) { addRow(tb, [[k, 'name'], [calls === null ? '' : fmtInt(calls)], [fmtBytes(bytes)]]); }
    row('allocations', h.alloc_calls, h.alloc_bytes);
    row('frees', h.free_calls, h.freed_bytes);
    row('allocations outside instrumented calls', h.outside_alloc_calls, h.outside_alloc_bytes);
    row('frees outside instrumented calls', h.outside_free_calls, h.outside_freed_bytes);
    row('peak heap in use' + (h.processes > 1 ? ' (largest process)' : ''), null, h.peak_bytes);
    row('peak RSS', null, h.peak_rss_bytes);
    row('still allocated at exit (blocks)', h.leaked_blocks, h.leaked_bytes);
    row('\u2026 by instrumented functions', h.func_leaked_blocks, h.func_leaked_bytes);
    row('\u2026 outside instrumented calls', h.outside_leaked_blocks, h.outside_leaked_bytes);
    if (h.foreign_frees) row('foreign frees (not counted)', h.foreign_frees, 0);
    var th = el('thead');
    headRow(th, [['', 'name'], ['Calls / blocks'], ['Bytes']]);
    t.appendChild(th);
    t.appendChild(tb);
    box.appendChild(t);
    var leaks = F.map(function (f, i) { return i; }).filter(function (i) { return F[i].leaked_bytes || F[i].leaked_blocks; });
    leaks.sort(function (a, b) { return F[b].leaked_bytes - F[a].leaked_bytes; });
    box.appendChild(el('h3', null, 'Still allocated at exit, by allocating function'));
    if (!leaks.length) { box.appendChild(el('p', 'hint', 'nothing allocated by instrumented functions was left allocated')); return; }
    var lt = el('table'), lh = el('thead'), lb = el('tbody');
    headRow(lh, [['Function', 'name'], ['Location', 'file'], ['Blocks'], ['Bytes']]);
    leaks.forEach(function (i) {
      var tr = addRow(lb, [[F[i].name, 'name'], [fnLocation(F[i]), 'file'], [fmtInt(F[i].leaked_blocks)], [fmtBytes(F[i].leaked_bytes)]], 'nb-row');
      tr.addEventListener('click', function () { select(i); });
    });
    lt.appendChild(lh);
    lt.appendChild(lb);
    box.appendChild(lt);
  }

  /* ---- the run's processes ---- */
  function renderRun() {
    var t = $('processes'), th = el('thead'), tb = el('tbody');
    headRow(th, [['pid'], ['ppid'], ['Program', 'name'], ['Mode'], ['Clock'], ['Duration'], ['Threads'], ['End'], ['File', 'file']]);
    procs.forEach(function (p) {
      var names = p.threads.map(function (x) { return x.tid + (x.name ? ' ' + x.name : ''); }).join(', ');
      addRow(tb, [[p.pid], [p.ppid], [p.argv && p.argv.length ? p.argv.join(' ') : p.exe, 'name', p.exe], [p.mode], [p.clock],
        [fmtNs(p.duration_ns)], [p.threads.length, '', names], [p.complete ? p.end_reason || 'complete' : 'cut short'], [p.file, 'file', p.file]]);
    });
    t.appendChild(th);
    t.appendChild(tb);
  }

  renderFunctions();
  renderLines();
  renderHeap();
  renderRun();
  /* #fn=NAME in the address selects that function (links, screenshots) */
  var want = /^#fn=(.+)$/.exec(location.hash);
  var wanted = want ? F.findIndex(function (f) { return f.name === decodeURIComponent(want[1]); }) : -1;
  if (wanted >= 0) select(wanted);
  draw();
  document.body.setAttribute('data-ready', '1');
})();
