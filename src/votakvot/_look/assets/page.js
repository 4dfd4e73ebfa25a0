/* The votakvot report page: a virtual table of trials, metric curves of the ticked ones, a
 * panel for the clicked one and params against a result. Everything shown comes from trial
 * folders, so it is only ever put in the page as text: textContent, never markup. */
(function () {
  'use strict';

  const DATA = JSON.parse(document.getElementById('votakvot-data').textContent);
  const LIVE = DATA.live;
  const ROW_H = 24;
  const BUFFER_ROWS = 8;
  const MAX_PARAM_PLOTS = 8;
  const STANDARD = [
    { name: 'tid', kind: 'text', section: 'trial' },
    { name: 'status', kind: 'text', section: 'trial' },
    { name: 'created', kind: 'time', section: 'trial' },
    { name: 'finished', kind: 'time', section: 'trial' },
    { name: 'duration', kind: 'number', section: 'trial' },
    { name: 'error', kind: 'text', section: 'trial' },
  ];
  const STANDARD_NAMES = new Set(STANDARD.map((c) => c.name));
  const LIVE_STATUSES = new Set(['running', 'resumed']);

  const state = {
    columns: DATA.columns,
    trials: [],
    byTid: new Map(),
    view: [],
    sort: { name: null, dir: 1 },
    terms: [],
    hiddenStatuses: new Set(),
    selected: [],
    focused: null,
    generation: DATA.generation,
    curves: new Map(),
    details: new Map(),
  };

  const $ = (id) => document.getElementById(id);
  const viewport = $('viewport');
  const table = $('trials');

  /* ---------- building DOM from data, as text only ---------- */

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const key of Object.keys(props)) {
        const value = props[key];
        if (value === undefined || value === null) continue;
        if (key === 'text') node.textContent = String(value);
        else if (key === 'class') node.className = value;
        else node.setAttribute(key, String(value));
      }
    }
    for (const child of children || []) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  // Plotly reads a small markup language in names and titles; escaped, they show as typed.
  function plotText(value) {
    return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  /* ---------- values ---------- */

  function shortTid(tid) {
    return tid.replace(/(^|[^0-9a-f])([0-9a-f]{8})[0-9a-f]{24}(?![0-9a-f])/g, '$1$2');
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  function formatTime(ms) {
    if (ms === null || ms === undefined) return '';
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  function formatDuration(seconds) {
    if (typeof seconds !== 'number' || !isFinite(seconds)) return '';
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)}s`;
    const s = Math.floor(seconds);
    const minutes = Math.floor(s / 60);
    if (minutes < 60) return `${minutes}m${pad(s % 60)}s`;
    return `${Math.floor(minutes / 60)}h${pad(minutes % 60)}m`;
  }

  function asNumber(value) {
    if (value === null || value === undefined || value === '') return null;
    const n = typeof value === 'number' ? value : Number(value);
    return Number.isNaN(n) && value !== 'NaN' ? null : n;
  }

  function formatValue(value, kind) {
    if (value === null || value === undefined) return '';
    if (kind === 'time') return formatTime(value);
    if (typeof value === 'number') {
      if (Number.isInteger(value)) return String(value);
      return String(Number(value.toPrecision(6)));
    }
    return String(value);
  }

  function cellOf(trial, name) {
    return STANDARD_NAMES.has(name) ? trial[name] : trial.cells[name];
  }

  function columnOf(name) {
    return STANDARD.find((c) => c.name === name) || state.columns.find((c) => c.name === name) || null;
  }

  /* ---------- filtering and sorting ---------- */

  const OPERATOR = /^([^<>=!]+?)(<=|>=|!=|=|<|>)(.*)$/;

  function parseFilter(text) {
    const terms = [];
    const problems = [];
    for (const token of text.trim().split(/\s+/).filter(Boolean)) {
      const m = OPERATOR.exec(token);
      const column = m ? columnOf(m[1]) : null;
      if (m && column) {
        const numeric = column.kind === 'number' || column.kind === 'time';
        let wanted = m[3];
        if (numeric) {
          wanted = column.kind === 'time' ? Date.parse(m[3]) : Number(m[3]);
          if (Number.isNaN(wanted)) {
            problems.push(`${m[3]} is not a ${column.kind === 'time' ? 'time' : 'number'} (in ${token})`);
            continue;
          }
        }
        terms.push({ column, op: m[2], wanted, numeric });
      } else {
        if (m) problems.push(`no column ${m[1]}: ${token} is matched as text`);
        terms.push({ text: token.toLowerCase() });
      }
    }
    return { terms, problems };
  }

  function haystack(trial) {
    if (trial._text === undefined) {
      const parts = [trial.tid, trial.status, trial.error || ''];
      for (const key of Object.keys(trial.cells)) parts.push(String(trial.cells[key]));
      trial._text = parts.join('\u0000').toLowerCase();
    }
    return trial._text;
  }

  function matches(trial) {
    if (state.hiddenStatuses.has(trial.status)) return false;
    for (const term of state.terms) {
      if (term.text !== undefined) {
        if (!haystack(trial).includes(term.text)) return false;
        continue;
      }
      const raw = cellOf(trial, term.column.name);
      if (term.numeric) {
        const v = asNumber(raw);
        if (v === null) return false;
        if (!compare(v, term.op, term.wanted)) return false;
      } else {
        const v = raw === null || raw === undefined ? '' : String(raw).toLowerCase();
        if (!compare(v, term.op, String(term.wanted).toLowerCase())) return false;
      }
    }
    return true;
  }

  function compare(a, op, b) {
    switch (op) {
      case '=': return a === b;
      case '!=': return a !== b;
      case '<': return a < b;
      case '>': return a > b;
      case '<=': return a <= b;
      default: return a >= b;
    }
  }

  function sortKey(trial, column) {
    const raw = cellOf(trial, column.name);
    if (raw === null || raw === undefined) return null;
    if (column.kind === 'number' || column.kind === 'time') return asNumber(raw);
    return String(raw);
  }

  function refreshView() {
    let view = state.trials.filter(matches);
    const { name, dir } = state.sort;
    if (name !== null) {
      const column = columnOf(name);
      const keyed = view.map((t, i) => [sortKey(t, column), i, t]);
      keyed.sort((a, b) => {
        if (a[0] === null || b[0] === null) return a[0] === b[0] ? a[1] - b[1] : a[0] === null ? 1 : -1;
        if (a[0] < b[0]) return -dir;
        if (a[0] > b[0]) return dir;
        return a[1] - b[1];
      });
      view = keyed.map((k) => k[2]);
    }
    state.view = view;
    // A short table takes the room it needs; a long one scrolls within 42% of the window.
    viewport.style.height = `${Math.max(120, Math.min(window.innerHeight * 0.42, (view.length + 1) * ROW_H + 12))}px`;
    $('shown-count').textContent = `${view.length} of ${state.trials.length} trials shown, ${state.selected.length} ticked`;
    renderRows();
    scheduleParams();
  }

  /* ---------- the virtual table ---------- */

  function allColumns() { return STANDARD.filter((c) => c.name !== 'error').concat(state.columns, [STANDARD[5]]); }

  function width(column) {
    let chars = column.name.length + 2;
    const sample = state.trials.slice(0, 300);
    for (const t of sample) {
      const text = column.name === 'tid' ? shortTid(t.tid) : formatShown(t, column);
      chars = Math.max(chars, text.length);
    }
    return Math.round(Math.min(Math.max(chars, 5), column.name === 'error' ? 60 : 36) * 7.2 + 14);
  }

  function formatShown(trial, column) {
    if (column.name === 'duration') return formatDuration(trial.duration);
    if (column.name === 'tid') return shortTid(trial.tid);
    return formatValue(cellOf(trial, column.name), column.kind);
  }

  function renderHeader() {
    const columns = allColumns();
    const colgroup = table.querySelector('colgroup');
    colgroup.replaceChildren(el('col', { style: 'width:30px' }), ...columns.map((c) => el('col', { style: `width:${width(c)}px` })));
    const cells = [el('th', { title: 'tick to overlay curves', text: '\u2713' })];
    for (const column of columns) {
      let cls = `sec-${column.section}`;
      if (state.sort.name === column.name) cls += state.sort.dir > 0 ? ' sorted-asc' : ' sorted-desc';
      const th = el('th', { class: cls, title: `${column.section === 'trial' ? '' : column.section + ': '}${column.name}`, text: column.name });
      th.dataset.column = column.name;
      cells.push(th);
    }
    table.querySelector('thead').replaceChildren(el('tr', null, cells));
  }

  function renderRows() {
    const columns = allColumns();
    const view = state.view;
    const top = viewport.scrollTop;
    const height = viewport.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_H) - BUFFER_ROWS);
    const last = Math.min(view.length, Math.ceil((top + height) / ROW_H) + BUFFER_ROWS);
    const span = columns.length + 1;
    const rows = [el('tr', { class: 'spacer' }, [el('td', { colspan: span, style: `height:${first * ROW_H}px` })])];
    const ticked = new Set(state.selected);
    for (let i = first; i < last; i++) {
      const trial = view[i];
      let cls = `row status-${trial.status.replace(/[^a-z]/g, '')}`;
      if (state.focused === trial.tid) cls += ' focused';
      const box = el('input', { type: 'checkbox', 'aria-label': 'overlay curves' });
      box.checked = ticked.has(trial.tid);
      const cells = [el('td', null, [box])];
      for (const column of columns) {
        const text = formatShown(trial, column);
        const numeric = column.kind === 'number';
        const full = column.name === 'tid' ? trial.tid : text;
        cells.push(el('td', { class: `${numeric ? 'num' : ''}${column.name === 'status' ? ' status' : ''}`, title: full, text }));
      }
      const tr = el('tr', { class: cls }, cells);
      tr.dataset.index = String(i);
      rows.push(tr);
    }
    rows.push(el('tr', { class: 'spacer' }, [el('td', { colspan: span, style: `height:${(view.length - last) * ROW_H}px` })]));
    table.querySelector('tbody').replaceChildren(...rows);
    if (!window.__votakvotTableShown && view.length) {
      window.__votakvotTableShown = true;
      performance.mark('votakvot-table-shown');
    }
  }

  let rowsQueued = false;
  viewport.addEventListener('scroll', () => {
    if (rowsQueued) return;
    rowsQueued = true;
    requestAnimationFrame(() => { rowsQueued = false; renderRows(); });
  });
  window.addEventListener('resize', () => renderRows());

  table.querySelector('thead').addEventListener('click', (event) => {
    const th = event.target.closest('th');
    if (!th || !th.dataset.column) return;
    const name = th.dataset.column;
    if (state.sort.name !== name) state.sort = { name, dir: 1 };
    else if (state.sort.dir > 0) state.sort = { name, dir: -1 };
    else state.sort = { name: null, dir: 1 };
    renderHeader();
    refreshView();
  });

  table.querySelector('tbody').addEventListener('click', (event) => {
    const tr = event.target.closest('tr.row');
    if (!tr) return;
    const trial = state.view[Number(tr.dataset.index)];
    if (!trial) return;
    if (event.target.matches('input[type=checkbox]')) toggleSelected(trial.tid, event.target.checked);
    else focus(trial.tid);
  });

  let filterTimer = null;
  $('filter').addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      const parsed = parseFilter($('filter').value);
      state.terms = parsed.terms;
      $('filter-problem').textContent = parsed.problems.join('; ');
      viewport.scrollTop = 0;
      refreshView();
    }, 120);
  });

  $('clear-selection').addEventListener('click', () => {
    state.selected = [];
    refreshView();
    drawChart();
  });

  function renderStatusFilters() {
    const counts = new Map();
    for (const t of state.trials) counts.set(t.status, (counts.get(t.status) || 0) + 1);
    const boxes = [];
    for (const [status, count] of [...counts.entries()].sort()) {
      const box = el('input', { type: 'checkbox' });
      box.checked = !state.hiddenStatuses.has(status);
      box.addEventListener('change', () => {
        if (box.checked) state.hiddenStatuses.delete(status);
        else state.hiddenStatuses.add(status);
        refreshView();
      });
      boxes.push(el('label', null, [box, ` ${status} (${count})`]));
    }
    $('status-filters').replaceChildren(...boxes);
    const summary = [el('span', { text: `${state.trials.length} trials` })];
    for (const [status, count] of [...counts.entries()].sort()) summary.push(el('span', { text: `${status}: ${count}` }));
    $('summary').replaceChildren(...summary);
  }

  /* ---------- selection, details ---------- */

  function toggleSelected(tid, on) {
    state.selected = state.selected.filter((t) => t !== tid);
    if (on) state.selected.push(tid);
    $('shown-count').textContent = `${state.view.length} of ${state.trials.length} trials shown, ${state.selected.length} ticked`;
    drawChart();
  }

  function focus(tid) {
    state.focused = tid;
    renderRows();
    showDetail(tid);
  }

  async function getDetail(trial) {
    if (!LIVE) {
      const panel = DATA.details[trial._position];
      const meta = {};
      for (const provider of Object.keys(panel.meta)) meta[provider] = DATA.meta[provider][panel.meta[provider]];
      return Object.assign({}, panel, { meta });
    }
    const cached = state.details.get(trial.tid);
    if (cached && cached.rev === trial.rev) return cached.panel;
    const panel = await fetchJson(`api/trial?tid=${encodeURIComponent(trial.tid)}`);
    state.details.set(trial.tid, { rev: trial.rev, panel });
    return panel;
  }

  function fieldsTable(fields) {
    const rows = Object.keys(fields).map((key) => el('tr', null, [el('th', { text: key }), el('td', { text: formatValue(fields[key]) })]));
    return el('table', null, rows);
  }

  async function showDetail(tid) {
    const trial = state.byTid.get(tid);
    if (!trial) return;
    let panel;
    try {
      panel = await getDetail(trial);
    } catch (e) {
      $('detail').replaceChildren(el('p', { class: 'problem', text: `cannot load the details: ${e}` }));
      return;
    }
    if (state.focused !== tid) return;
    const parts = [
      el('h2', { text: trial.tid }),
      el('div', null, [el('span', { class: `badge status-${trial.status}`, text: trial.status })]),
    ];
    const times = { created: formatTime(trial.created), finished: formatTime(trial.finished), duration: formatDuration(trial.duration) };
    for (const key of Object.keys(panel.document).filter((k) => k.startsWith('at.'))) times[key.slice(3)] = panel.document[key];
    parts.push(el('h3', { text: 'times' }), fieldsTable(times));
    if (trial.error) parts.push(el('h3', { text: 'error' }), el('div', { class: 'error', text: trial.error }));
    if (panel.traceback) {
      const note = panel.traceback_cut ? `(the first ${panel.traceback_cut} characters are not shown)\n` : '';
      parts.push(el('h3', { text: 'traceback' }), el('pre', { text: note + panel.traceback }));
    }
    for (const section of ['params', 'info', 'result']) {
      const fields = {};
      for (const column of state.columns) {
        if (column.section === section && trial.cells[column.name] !== undefined) fields[column.name] = trial.cells[column.name];
      }
      if (Object.keys(fields).length) parts.push(el('h3', { text: section }), fieldsTable(fields));
    }
    for (const provider of Object.keys(panel.meta)) {
      const block = el('details', provider === 'git' ? { open: '' } : null, [el('summary', { text: `meta: ${provider}` }), fieldsTable(panel.meta[provider])]);
      parts.push(block);
    }
    const other = {};
    for (const key of Object.keys(panel.document)) if (!key.startsWith('at.')) other[key] = panel.document[key];
    other.path = panel.path;
    parts.push(el('h3', { text: 'document' }), fieldsTable(other));
    parts.push(el('h3', { text: `attached files (${panel.attached.length})` }), el('ul', null, panel.attached.map((name) => el('li', { text: name }))));
    $('detail').replaceChildren(...parts);
  }

  /* ---------- metric curves ---------- */

  async function fetchJson(url) {
    const response = await fetch(url, { cache: 'no-store' });
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    return response.json();
  }

  async function getCurves(trial) {
    if (!LIVE) return DATA.curves[String(trial._position)] || { series: [] };
    const cached = state.curves.get(trial.tid);
    if (cached && !cached.stale) return cached.curves;
    const sig = cached && cached.curves.sig ? `&sig=${encodeURIComponent(cached.curves.sig)}` : '';
    const got = await fetchJson(`api/curves?tid=${encodeURIComponent(trial.tid)}${sig}`);
    const curves = got.unchanged ? cached.curves : got;
    state.curves.set(trial.tid, { curves, stale: false });
    return curves;
  }

  function metricKey(series, metric) { return JSON.stringify([series, metric]); }

  let chartToken = 0;
  async function drawChart() {
    const token = ++chartToken;
    const chosen = state.selected.map((tid) => state.byTid.get(tid)).filter(Boolean);
    let loaded;
    try {
      loaded = await Promise.all(chosen.map(async (t) => [t, await getCurves(t)]));
    } catch (e) {
      $('chart-note').textContent = `cannot load the curves: ${e}`;
      return;
    }
    if (token !== chartToken) return;
    const select = $('metric');
    const keys = new Map();
    for (const [, curves] of loaded) {
      for (const s of curves.series) for (const m of Object.keys(s.metrics)) keys.set(metricKey(s.name, m), s.name ? `${s.name} / ${m}` : m);
    }
    const previous = select.value;
    select.replaceChildren(...[...keys.entries()].map(([key, label]) => { const o = el('option', { text: label }); o.value = key; return o; }));
    if (keys.has(previous)) select.value = previous;
    if (!window.Plotly) { $('chart-note').textContent = 'the chart library did not load'; return; }
    const div = $('chart');
    if (!chosen.length || !keys.size) {
      $('chart-note').textContent = chosen.length ? 'the ticked trials have no metrics' : 'Tick trials in the table to overlay their curves.';
      Plotly.react(div, [], chartLayout(''), PLOT_CONFIG);
      div.dataset.curves = '0';
      return;
    }
    const [seriesName, metric] = JSON.parse(select.value);
    const x = $('xaxis').value;
    const traces = [];
    const cut = [];
    for (const [trial, curves] of loaded) {
      const s = curves.series.find((c) => c.name === seriesName);
      if (!s || !s.metrics[metric]) continue;
      let xs = s.step;
      if (x === 'elapsed') xs = s.time;
      else if (x === 'wall') xs = s.time.map((t) => (t === null || s.t0 === null ? null : (s.t0 + t) * 1000));
      traces.push({
        type: 'scatter', mode: s.step.length > 1 ? 'lines' : 'markers', x: xs, y: s.metrics[metric],
        name: plotText(shortTid(trial.tid)), line: { width: 1.6 }, hoverinfo: 'x+y+name',
      });
      if (s.rows > s.step.length) cut.push(`${shortTid(trial.tid)}: ${s.step.length} of ${s.rows} rows`);
    }
    $('chart-note').textContent = cut.length ? `Downsampled for the overview (min and max of each bucket kept): ${cut.join(', ')}` : '';
    const layout = chartLayout(keys.get(select.value));
    layout.xaxis.type = x === 'wall' ? 'date' : '-';
    layout.xaxis.title = { text: x === 'step' ? 'step' : x === 'elapsed' ? 'seconds since the first row' : 'time' };
    layout.yaxis.type = $('logy').checked ? 'log' : '-';
    await Plotly.react(div, traces, layout, PLOT_CONFIG);
    div.dataset.curves = String(traces.length);
  }

  const PLOT_CONFIG = { displaylogo: false, responsive: true, showLink: false, showSendToCloud: false, showEditInChartStudio: false };

  function chartLayout(title) {
    return {
      margin: { l: 56, r: 12, t: 28, b: 44 }, title: { text: plotText(title), font: { size: 13 } },
      xaxis: { automargin: true }, yaxis: { automargin: true }, legend: { orientation: 'h', y: -0.2 },
      showlegend: true, uirevision: 'keep',
    };
  }

  $('metric').addEventListener('change', () => drawChart());
  $('xaxis').addEventListener('change', () => drawChart());
  $('logy').addEventListener('change', () => drawChart());

  /* ---------- params against a result ---------- */

  function renderResultChoices() {
    const select = $('result-column');
    const numeric = state.columns.filter((c) => c.kind === 'number' && c.section !== 'params');
    const ordered = numeric.filter((c) => c.section === 'result').concat(numeric.filter((c) => c.section !== 'result'), [STANDARD[4]]);
    const previous = select.value;
    select.replaceChildren(...ordered.map((c) => { const o = el('option', { text: c.name }); o.value = c.name; return o; }));
    if (ordered.some((c) => c.name === previous)) select.value = previous;
  }

  let paramsTimer = null;
  function scheduleParams() {
    clearTimeout(paramsTimer);
    paramsTimer = setTimeout(drawParams, 60);
  }

  async function drawParams() {
    if (!window.Plotly) return;
    const div = $('params-chart');
    const result = columnOf($('result-column').value);
    const points = result ? state.view.filter((t) => asNumber(cellOf(t, result.name)) !== null) : [];
    const params = state.columns.filter((c) => c.section === 'params').filter((c) => {
      const seen = new Set();
      for (const t of points) { seen.add(String(t.cells[c.name])); if (seen.size > 1) return true; }
      return false;
    });
    const shown = params.slice(0, MAX_PARAM_PLOTS);
    const dropped = params.length - shown.length;
    $('params-note').textContent = !result ? 'no numeric result to plot' : !shown.length ? 'no param varies among the shown trials'
      : `${points.length} shown trials; click a point for its details${dropped > 0 ? `; ${dropped} more params not drawn` : ''}`;
    if (!result || !shown.length) { Plotly.react(div, [], {}, PLOT_CONFIG); return; }
    const y = points.map((t) => asNumber(cellOf(t, result.name)));
    const tids = points.map((t) => t.tid);
    const labels = points.map((t) => plotText(shortTid(t.tid)));
    const colors = points.map((t) => (t.status === 'failed' || t.status === 'crashed' ? '#b3261e' : LIVE_STATUSES.has(t.status) ? '#2f6fd0' : '#2e7d4f'));
    const layout = { grid: { rows: 1, columns: shown.length, pattern: 'independent' }, showlegend: false, margin: { l: 56, r: 12, t: 16, b: 48 } };
    const traces = shown.map((c, i) => {
      const axis = i ? String(i + 1) : '';
      layout[`xaxis${axis}`] = { title: { text: plotText(c.name) }, type: c.kind === 'number' ? '-' : 'category', automargin: true };
      layout[`yaxis${axis}`] = i ? { matches: 'y', showticklabels: false } : { title: { text: plotText(result.name) }, automargin: true };
      return {
        type: 'scatter', mode: 'markers', xaxis: `x${axis}`, yaxis: `y${axis}`,
        x: points.map((t) => { const v = t.cells[c.name]; return v === undefined ? null : c.kind === 'number' ? asNumber(v) : plotText(v); }),
        y, text: labels, customdata: tids, marker: { size: 6, opacity: 0.75, color: colors },
        hovertemplate: '%{text}<br>%{x}: %{y}<extra></extra>',
      };
    });
    await Plotly.react(div, traces, layout, PLOT_CONFIG);
    if (!div._votakvotClick) {
      div._votakvotClick = true;
      div.on('plotly_click', (event) => { const p = event.points && event.points[0]; if (p && p.customdata) focus(p.customdata); });
    }
  }

  $('result-column').addEventListener('change', () => drawParams());

  /* ---------- loading the data, and keeping it live ---------- */

  function adopt(records) {
    for (const record of records) {
      const known = state.byTid.get(record.tid);
      if (known) {
        for (const key of Object.keys(record)) known[key] = record[key];
        delete known._text;
      } else {
        state.byTid.set(record.tid, record);
      }
    }
  }

  function start() {
    state.trials = DATA.trials;
    state.trials.forEach((t, i) => { t._position = i; state.byTid.set(t.tid, t); });
    $('root-name').textContent = DATA.root;
    const ds = DATA.downsample;
    $('downsample-note').textContent = `Curves longer than ${ds.max_points} rows are downsampled for this ${LIVE ? 'page' : 'report'} `
      + `(${ds.rule})${ds.series_cut ? `: ${ds.series_cut} of ${ds.series} series here` : ''}. `
      + 'The full rows are in the trial folders (votakvot.load_metrics). '
      + `${LIVE ? 'Live' : 'Written'} by votakvot ${DATA.version}${LIVE ? '' : ` on ${DATA.generated}`}.`;
    renderHeader();
    renderStatusFilters();
    refreshView();
    renderResultChoices();
  }

  start();

  window.addEventListener('DOMContentLoaded', () => {
    drawChart();
    drawParams();
    if (LIVE) setTimeout(poll, LIVE.poll_ms);
  });

  async function poll() {
    try {
      const change = await fetchJson(`api/trials?after=${state.generation}`);
      apply(change);
      $('live-state').textContent = `live: updated ${formatTime(Date.now())}`;
      $('live-state').className = '';
    } catch (e) {
      $('live-state').textContent = `live: cannot reach the server (${e}); retrying`;
      $('live-state').className = 'down';
    } finally {
      setTimeout(poll, LIVE.poll_ms);
    }
  }

  function apply(change) {
    const changed = new Set(change.trials.map((t) => t.tid));
    if (change.generation !== state.generation) {
      const columnsChanged = Boolean(change.columns);
      if (columnsChanged) state.columns = change.columns;
      adopt(change.trials);
      if (change.order) {
        const kept = new Set(change.order);
        for (const tid of [...state.byTid.keys()]) if (!kept.has(tid)) state.byTid.delete(tid);
        state.selected = state.selected.filter((tid) => kept.has(tid));
        state.trials = change.order.map((tid) => state.byTid.get(tid));
      }
      state.generation = change.generation;
      if (columnsChanged) { renderHeader(); renderResultChoices(); }
      renderStatusFilters();
      refreshView();
      if (state.focused && changed.has(state.focused)) showDetail(state.focused);
    }
    // Curves grow without the document changing: a ticked live trial is asked again (the
    // server answers "unchanged" while its metric files are).
    let redraw = false;
    for (const tid of state.selected) {
      const trial = state.byTid.get(tid);
      const cached = state.curves.get(tid);
      if (trial && cached && (changed.has(tid) || LIVE_STATUSES.has(trial.status))) {
        cached.stale = true;
        redraw = true;
      }
    }
    if (redraw) drawChart();
  }
})();
