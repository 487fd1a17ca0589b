// api-to-etw report: decompresses the embedded data and builds the views. Every name from the binary
// goes into the page through textContent (never as markup); call-path drawings are SVG that the
// report generator rebuilt from Graphviz's output with shapes and escaped text only.
'use strict';
(async function () {
  const view = document.getElementById('view');
  let D;
  try {
    D = await load();
  } catch (err) {
    view.textContent = 'Cannot read the data of this report: ' + err;
    return;
  }
  const S = D.s;
  const idx = (names) => Object.fromEntries(names.map((n, i) => [n, i]));
  const EF = idx(D.ef), PF = idx(D.pf), RF = idx(D.rf);
  const txt = (v) => (v === null || v === undefined) ? '' : (typeof v === 'number' ? S[v] : String(v));
  const num = (v) => (v === null || v === undefined) ? '' : String(v);

  const providers = D.p.map((p, i) => ({
    i, guid: S[p[PF.ProviderGuid]], symbol: S[p[PF.ProviderSymbol]], name: S[p[PF.ProviderName]],
    label: S[p[PF.Label]], events: [], apis: new Set(), kinds: new Set(), rows: [],
  }));
  const events = D.e.map((e, i) => ({
    i, p: e[EF.P], label: S[e[EF.Label]], kind: S[e[EF.Kind]], symbol: S[e[EF.EventDescriptorSymbol]],
    id: num(e[EF.Id]), version: num(e[EF.Version]), channel: num(e[EF.Channel]), level: num(e[EF.Level]),
    opcode: num(e[EF.Opcode]), task: num(e[EF.Task]), keyword: S[e[EF.Keyword]], name: S[e[EF.EventName]],
    taskName: S[e[EF.TaskName]], opcodeName: S[e[EF.OpcodeName]], keywordNames: S[e[EF.KeywordNames]],
    fields: S[e[EF.Fields]] ? S[e[EF.Fields]].split(' ') : [], message: S[e[EF.Message]],
    writer: S[e[EF.WriteFunction]], reghandle: S[e[EF.ReghandleSymbol]], groupMask: S[e[EF.GroupMask]],
    hookId: S[e[EF.HookId]], resolved: S[e[EF.Resolved]], opaque: e[EF.O] === 1, graph: e[EF.G], rows: [],
    apis: new Set(),
  }));
  const apis = new Map();  // string index of the API name -> {name, rows, events, entries}
  const rows = D.r.map((r, i) => {
    const row = {
      i, apiS: r[RF.Function], api: S[r[RF.Function]], e: r[RF.E], containing: S[r[RF.ContainingFunction]],
      site: S[r[RF.EventSite]], entry: S[r[RF.Entry]], ioctl: S[r[RF.Ioctl]], type: S[r[RF.T]],
      exported: r[RF.ExportedCallDepth], rva: S[r[RF.WriteRva]], path: r[RF.CallPath].map((s) => S[s]),
      bin: S[r[RF.B]],
    };
    row.depth = row.path.length;
    const ev = events[row.e], pr = providers[ev.p];
    ev.rows.push(row); ev.apis.add(row.apiS);
    pr.rows.push(row); pr.apis.add(row.apiS); pr.kinds.add(ev.kind);
    let api = apis.get(row.apiS);
    if (!api) apis.set(row.apiS, api = { s: row.apiS, name: row.api, rows: [], events: new Set(), entries: new Set() });
    api.rows.push(row); api.events.add(row.e);
    if (row.entry) api.entries.add(row.entry);
    return row;
  });
  events.forEach((ev) => providers[ev.p].events.push(ev));
  const cols = new Set(D.columns);
  if (D.b.length) cols.add('Binary');
  const HF = idx(D.hf);

  // ------------------------------------------------------------------------------ filters
  const $ = (id) => document.getElementById(id);
  const F = { q: '', kind: '', provider: '', field: '', entry: '', opaque: false };
  const hay = new Map();
  function haystack(r) {
    let h = hay.get(r.i);
    if (h === undefined) {
      const ev = events[r.e], pr = providers[ev.p];
      h = [r.bin, r.api, r.containing, r.site, r.entry, r.ioctl, r.rva, r.path.join('->'), ev.label, ev.kind, ev.symbol,
        ev.id, ev.version, ev.channel, ev.level, ev.opcode, ev.task, ev.keyword, ev.name, ev.taskName,
        ev.opcodeName, ev.keywordNames, ev.fields.join(' '), ev.message, ev.writer, ev.reghandle, ev.groupMask,
        ev.hookId, pr.guid, pr.symbol, pr.name].join('\u0001').toLowerCase();
      hay.set(r.i, h);
    }
    return h;
  }
  function passes(r) {
    const ev = events[r.e];
    if (F.kind && ev.kind !== F.kind) return false;
    if (F.provider !== '' && String(ev.p) !== F.provider) return false;
    if (F.opaque && !ev.opaque) return false;
    if (F.entry && !r.type.split(' ').includes(F.entry)) return false;
    if (F.field && !ev.fields.some((f) => f.toLowerCase().includes(F.field))) return false;
    if (F.q && !haystack(r).includes(F.q)) return false;
    return true;
  }
  const filtering = () => F.q || F.kind || F.provider !== '' || F.field || F.entry || F.opaque;
  function filtered() { return filtering() ? rows.filter(passes) : rows; }

  const allFields = new Set();
  events.forEach((ev) => ev.fields.forEach((f) => allFields.add(f)));
  const dl = $('field-names');
  Array.from(allFields).sort().slice(0, 5000).forEach((f) => { const o = document.createElement('option'); o.value = f; dl.appendChild(o); });

  let timer = null;
  function readFilters(initial) {
    F.q = $('q').value.trim().toLowerCase();
    F.kind = $('kind').value; F.provider = $('provider').value; F.entry = $('entry').value;
    F.field = $('field').value.trim().toLowerCase(); F.opaque = $('opaque').checked;
    document.body.dataset.query = F.q;  // the search text the view applies (scripts wait for it)
    if (initial === true) return;
    const [name] = route();
    const list = { api: 'apis', provider: 'providers', event: 'events' }[name];
    if (list) location.hash = '#' + list; else render();
  }
  ['q', 'field'].forEach((id) => $(id).addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(readFilters, 150); }));
  ['kind', 'provider', 'entry', 'opaque'].forEach((id) => $(id).addEventListener('change', readFilters));
  $('reset').addEventListener('click', () => { $('filters').reset(); readFilters(); });

  // ------------------------------------------------------------------------------ building blocks
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  const LONG = 160;
  // A name cut to LONG characters for tables and links; the full text is the element's tooltip.
  function short(node, text) {
    text = String(text);
    if (text.length > LONG) { node.textContent = text.slice(0, LONG - 1) + '\u2026'; node.title = text; }
    else node.textContent = text;
    return node;
  }
  function link(text, hash, cls) {
    const a = short(el('a', null, 'link' + (cls ? ' ' + cls : '')), text);
    a.href = hash;
    return a;
  }
  function fieldList(fields) {
    const shown = fields.slice(0, 4).join(' ');
    return fields.length > 4 ? shown + ' \u2026 (+' + (fields.length - 4) + ')' : shown;
  }
  const eventLink = (ev) => link(ev.label, '#event/' + ev.i, ev.opaque ? 'opaque' : '');
  const providerLink = (pr) => link(pr.label, '#provider/' + pr.i);
  const apiLink = (s) => link(S[s], '#api/' + s);
  function facts(pairs) {
    const d = el('dl', null, 'facts');
    pairs.forEach(([k, v]) => {
      if (v === '' || v === null || v === undefined) return;
      d.appendChild(el('dt', k));
      const dd = el('dd');
      if (v instanceof Node) dd.appendChild(v); else short(dd, v);
      d.appendChild(dd);
    });
    return d;
  }
  function chips(values, make) {
    const box = el('div', null, 'chips');
    values.forEach((v) => { const c = el('span'); if (make) c.appendChild(make(v)); else c.textContent = v; box.appendChild(c); });
    return box;
  }
  const compare = (a, b) => {
    const an = typeof a === 'number' || (a !== '' && !isNaN(a)), bn = typeof b === 'number' || (b !== '' && !isNaN(b));
    if (an && bn) return Number(a) - Number(b);
    if (an !== bn) return an ? -1 : 1;
    return String(a).localeCompare(String(b), undefined, { sensitivity: 'base' });
  };
  const LIMIT = 500;
  // A sortable table: columns are [title, value(item) for sorting, cell(item) -> text or Node, class];
  // opts.sort names the column sorted first.
  function table(items, columns, opts) {
    opts = opts || {};
    const box = el('div');
    const state = { col: columns.findIndex((c) => c[0] === opts.sort), dir: 1, all: false };
    function draw() {
      box.textContent = '';
      let list = items.slice();
      if (state.col >= 0) {
        const key = columns[state.col][1];
        list.sort((a, b) => state.dir * compare(key(a), key(b)));
      }
      const t = el('table'), head = el('tr');
      columns.forEach((c, n) => {
        const th = el('th', c[0]);
        if (n === state.col) th.className = state.dir > 0 ? 'asc' : 'desc';
        th.addEventListener('click', () => { state.dir = state.col === n ? -state.dir : 1; state.col = n; draw(); });
        head.appendChild(th);
      });
      const thead = el('thead'); thead.appendChild(head); t.appendChild(thead);
      const body = el('tbody');
      (state.all ? list : list.slice(0, LIMIT)).forEach((item) => {
        const tr = el('tr');
        columns.forEach((c) => {
          const value = c[2](item);
          const td = el('td', null, c[3] || '');
          if (value instanceof Node) td.appendChild(value); else if (value !== undefined && value !== null) short(td, value);
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      t.appendChild(body);
      if (!list.length) box.appendChild(el('p', opts.empty || 'Nothing matches the filters.', 'empty'));
      else box.appendChild(t);
      if (!state.all && list.length > LIMIT) {
        const more = el('button', 'Show all ' + list.length + ' (' + (list.length - LIMIT) + ' more)', 'more');
        more.addEventListener('click', () => { state.all = true; draw(); });
        box.appendChild(more);
      }
      document.body.dataset.ready = '1';  // drawn (tests and scripts wait for this)
    }
    draw();
    return box;
  }
  function heading(title, count, what) {
    const frag = document.createDocumentFragment();
    frag.appendChild(el('h2', title));
    const p = el('p', count + ' ' + what + (filtering() ? ' (filtered)' : ''), 'summary');
    p.id = 'count';
    p.dataset.count = String(count);
    frag.appendChild(p);
    return frag;
  }
  function keywordMask(evs) {
    let mask = 0n;
    evs.forEach((ev) => { if (/^0x[0-9a-f]+$/i.test(ev.keyword)) mask |= BigInt(ev.keyword); });
    return mask;
  }
  const maxLevel = (evs) => evs.reduce((m, ev) => (ev.level !== '' && Number(ev.level) > m ? Number(ev.level) : m), 0);
  const isGuid = (g) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(g);

  // ------------------------------------------------------------------------------ views
  const rowColumns = () => {
    const c = cols.has('Binary') ? [['Binary', (r) => r.bin, (r) => r.bin]] : [];
    c.push(
      ['API', (r) => r.api, (r) => apiLink(r.apiS)],
      ['Event', (r) => events[r.e].label, (r) => eventLink(events[r.e])],
      ['Provider', (r) => providers[events[r.e].p].label, (r) => providerLink(providers[events[r.e].p])],
      ['Kind', (r) => events[r.e].kind, (r) => events[r.e].kind, 'nw'],
      ['Id', (r) => events[r.e].id, (r) => events[r.e].id, 'num'],
      ['ContainingFunction', (r) => r.containing, (r) => r.containing]);
    if (cols.has('EventSite')) c.push(['EventSite', (r) => r.site, (r) => r.site]);
    if (cols.has('Entry')) c.push(['Entry', (r) => r.entry, (r) => r.entry]);
    if (cols.has('Ioctl')) c.push(['Ioctl', (r) => r.ioctl, (r) => r.ioctl]);
    c.push(['Depth', (r) => r.depth, (r) => r.depth, 'num']);
    c.push(['CallPath', (r) => r.path.join('->'), (r) => r.path.join(' \u2192 '), 'path']);
    return c;
  };

  function viewApis() {
    const list = new Map();
    filtered().forEach((r) => {
      let a = list.get(r.apiS);
      if (!a) list.set(r.apiS, a = { s: r.apiS, name: r.api, events: new Set(), providers: new Set(), depth: 99, entries: new Set() });
      a.events.add(r.e); a.providers.add(events[r.e].p); a.depth = Math.min(a.depth, r.depth);
      if (r.entry) a.entries.add(r.entry);
    });
    const items = Array.from(list.values());
    view.appendChild(heading('APIs', items.length, 'APIs (syscalls and entry points) reach ETW events'));
    const c = [['API', (a) => a.name, (a) => apiLink(a.s)]];
    if (cols.has('Entry')) c.push(['Entry', (a) => Array.from(a.entries).join(' '), (a) => Array.from(a.entries).join(' ')]);
    c.push(['Events', (a) => a.events.size, (a) => a.events.size, 'num'],
      ['Providers', (a) => a.providers.size, (a) => Array.from(a.providers).map((p) => providers[p].label).join(', ')],
      ['Shortest path', (a) => a.depth, (a) => a.depth, 'num']);
    view.appendChild(table(items, c, { sort: 'API' }));
  }

  function viewApi(s) {
    const api = apis.get(s);
    if (!api) { view.appendChild(el('p', 'No such API in this report.', 'empty')); return; }
    view.appendChild(short(el('h2'), api.name));
    view.appendChild(facts([['Entry', Array.from(api.entries).join(', ')], ['Events', api.events.size],
      ['Rows', api.rows.length]]));
    view.appendChild(el('h3', 'Events it can emit'));
    view.appendChild(table(api.rows, rowColumns().filter((c) => c[0] !== 'API'), { sort: 'Event' }));
  }

  function viewProviders() {
    const list = new Map();
    filtered().forEach((r) => {
      const ev = events[r.e];
      let p = list.get(ev.p);
      if (!p) list.set(ev.p, p = { pr: providers[ev.p], events: new Set(), apis: new Set() });
      p.events.add(ev); p.apis.add(r.apiS);
    });
    const items = Array.from(list.values());
    view.appendChild(heading('Providers', items.length, 'providers'));
    view.appendChild(table(items, [
      ['Provider', (p) => p.pr.label, (p) => providerLink(p.pr)],
      ['GUID', (p) => p.pr.guid, (p) => p.pr.guid],
      ['Kind', (p) => Array.from(p.pr.kinds).join(' '), (p) => Array.from(p.pr.kinds).join(' ')],
      ['Events', (p) => p.events.size, (p) => p.events.size, 'num'],
      ['APIs', (p) => p.apis.size, (p) => p.apis.size, 'num'],
      ['Keywords (any of)', (p) => '0x' + keywordMask(Array.from(p.events)).toString(16), (p) => '0x' + keywordMask(Array.from(p.events)).toString(16)],
      ['Max level', (p) => maxLevel(Array.from(p.events)), (p) => maxLevel(Array.from(p.events)), 'num'],
    ], { sort: 'Provider' }));
  }

  function viewProvider(i) {
    const pr = providers[i];
    if (!pr) { view.appendChild(el('p', 'No such provider in this report.', 'empty')); return; }
    view.appendChild(short(el('h2'), pr.label));
    const mask = keywordMask(pr.events), level = maxLevel(pr.events);
    const groups = Array.from(new Set(pr.events.map((e) => e.groupMask).filter((g) => g)));
    view.appendChild(facts([['GUID', pr.guid], ['Symbol', pr.symbol], ['Name', pr.name],
      ['Kind', Array.from(pr.kinds).join(', ')], ['Events', pr.events.length], ['APIs', pr.apis.size],
      ['To enable every event', groups.length ? 'kernel logger group mask ' + groups.join(', ')
        : 'keywords (any of) 0x' + mask.toString(16) + ', level ' + level + ' or more'],
      ['e.g.', isGuid(pr.guid) ? 'logman start trace -p {' + pr.guid + '} 0x' + mask.toString(16) + ' ' + level + ' -ets' : ''],
    ]));
    const byKeyword = new Map();
    pr.events.forEach((ev) => {
      const k = ev.keyword || '(none)';
      let g = byKeyword.get(k);
      if (!g) byKeyword.set(k, g = { keyword: k, names: ev.keywordNames, events: 0, level: 0 });
      g.events += 1; g.level = Math.max(g.level, ev.level === '' ? 0 : Number(ev.level));
    });
    view.appendChild(el('h3', 'Keywords'));
    view.appendChild(table(Array.from(byKeyword.values()), [
      ['Keyword', (g) => g.keyword, (g) => g.keyword], ['Keyword names', (g) => g.names, (g) => g.names],
      ['Events', (g) => g.events, (g) => g.events, 'num'], ['Max level', (g) => g.level, (g) => g.level, 'num'],
    ], { sort: 'Keyword' }));
    view.appendChild(el('h3', 'Events'));
    view.appendChild(eventTable(pr.events));
    view.appendChild(el('h3', 'APIs that reach it'));
    view.appendChild(chips(Array.from(pr.apis).sort((a, b) => compare(S[a], S[b])), apiLink));
  }

  function eventTable(list) {
    const c = [
      ['Event', (e) => e.label, (e) => eventLink(e)],
      ['Symbol', (e) => e.symbol, (e) => e.symbol],
      ['Provider', (e) => providers[e.p].label, (e) => providerLink(providers[e.p])],
      ['Kind', (e) => e.kind, (e) => e.kind, 'nw'],
      ['Id', (e) => e.id, (e) => e.id, 'num'], ['Ver', (e) => e.version, (e) => e.version, 'num'],
      ['Level', (e) => e.level, (e) => e.level, 'num'], ['Opcode', (e) => e.opcode, (e) => e.opcode, 'num'],
      ['Task', (e) => e.task, (e) => e.task, 'num'], ['Keyword', (e) => e.keyword, (e) => e.keyword, 'nw'],
      ['Fields', (e) => e.fields.join(' '), (e) => fieldList(e.fields)],
      ['APIs', (e) => e.apis.size, (e) => e.apis.size, 'num'],
    ];
    return table(list, c, { sort: 'Event' });
  }

  function viewEvents() {
    const seen = new Set();
    filtered().forEach((r) => seen.add(r.e));
    const list = Array.from(seen).map((e) => events[e]);
    view.appendChild(heading('Events', list.length, 'events'));
    view.appendChild(eventTable(list));
  }

  function viewEvent(i) {
    const ev = events[i];
    if (!ev) { view.appendChild(el('p', 'No such event in this report.', 'empty')); return; }
    const pr = providers[ev.p];
    const h = short(el('h2'), ev.label);
    h.appendChild(document.createTextNode(' '));
    if (ev.opaque) h.appendChild(el('span', '(opaque name)', 'opaque'));
    view.appendChild(h);
    view.appendChild(facts([['Provider', providerLink(pr)], ['Provider GUID', pr.guid], ['Kind', ev.kind],
      ['Descriptor symbol', ev.symbol], ['Event name', ev.name], ['Id', ev.id], ['Version', ev.version],
      ['Channel', ev.channel], ['Level', ev.level], ['Opcode', ev.opcode + (ev.opcodeName ? ' (' + ev.opcodeName + ')' : '')],
      ['Task', ev.task + (ev.taskName ? ' (' + ev.taskName + ')' : '')],
      ['Keyword', ev.keyword + (ev.keywordNames ? ' (' + ev.keywordNames + ')' : '')],
      ['Group mask', ev.groupMask], ['Hook id', ev.hookId], ['REGHANDLE', ev.reghandle], ['Written by', ev.writer],
      ['Resolved', ev.resolved === 'no' ? 'no: provider or event partly recovered' : ''],
      ['Enabled by', ev.groupMask ? 'kernel logger group mask ' + ev.groupMask
        : (ev.keyword && ev.keyword !== '0x0' ? 'keyword ' + ev.keyword + ', ' : 'any keyword, ') + 'level ' + (ev.level || 0) + ' or more'],
      ['Message', ev.message]]));
    if (ev.fields.length) {
      view.appendChild(el('h3', 'Template fields'));
      const f = chips(ev.fields);
      f.id = 'fields';
      view.appendChild(f);
    }
    view.appendChild(el('h3', 'Call paths (' + ev.rows.length + ')'));
    const svg = ev.graph >= 0 && D.g[ev.graph];
    if (svg) {
      const legend = el('p', null, 'legend');
      [['api', 'API'], ['fn', 'function'], ['site', 'EventSite'], ['write', 'ETW write']].filter(
        ([c]) => c !== 'site' || cols.has('EventSite')).forEach(([c, t]) => legend.appendChild(el('span', t, c)));
      view.appendChild(legend);
      view.appendChild(drawing(svg));
    } else if (!D.g.length && ev.graph === -1 && D.notes.length) {
      view.appendChild(el('p', 'No drawing in this report (Graphviz was not available when it was made).', 'empty'));
    }
    view.appendChild(table(ev.rows, rowColumns().filter((c) => !['Event', 'Provider', 'Kind', 'Id'].includes(c[0])), { sort: 'Depth' }));
    if (cols.has('Binary')) {
      view.appendChild(el('h3', 'Binaries and builds that have it'));
      view.appendChild(chips(Array.from(new Set(ev.rows.map((r) => r.bin))).sort()));
      const changes = D.h.filter((h) => h[HF.E] === ev.i);
      if (changes.length) view.appendChild(changeTable(changes));
    }
  }

  function changeTable(list) {
    return table(list, [
      ['Build', (h) => S[h[HF.Build]], (h) => S[h[HF.Build]]],
      ['Previous', (h) => S[h[HF.Previous]], (h) => S[h[HF.Previous]]],
      ['Change', (h) => S[h[HF.Change]], (h) => S[h[HF.Change]], 'nw'],
      ['API', (h) => S[h[HF.Function]], (h) => apis.has(h[HF.Function]) ? apiLink(h[HF.Function]) : S[h[HF.Function]]],
      ['Event', (h) => S[h[HF.Event]], (h) => h[HF.E] >= 0 ? eventLink(events[h[HF.E]]) : S[h[HF.Event]]],
      ['ContainingFunction', (h) => S[h[HF.ContainingFunction]], (h) => S[h[HF.ContainingFunction]]],
      ['What changed', (h) => S[h[HF.Changes]], (h) => S[h[HF.Changes]]],
    ], { sort: 'Build' });
  }

  function drawing(text) {
    const box = el('div', null, 'graph');
    box.id = 'graph';
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const svg = doc.documentElement;
    if (svg.nodeName !== 'svg') { box.textContent = 'The drawing could not be read.'; return box; }
    svg.querySelectorAll('g.node[data-s]').forEach((g) => {
      const s = Number(g.getAttribute('data-s'));
      if (apis.has(s)) g.setAttribute('data-api', '');
      const label = g.querySelector('text[data-t]');
      if (label) label.textContent = S[s];  // a label equal to the name is stored once, in the string table
    });
    box.appendChild(document.importNode(svg, true));
    box.querySelectorAll('g.node[data-api]').forEach((g) => {
      const s = Number(g.getAttribute('data-s'));
      g.addEventListener('click', () => { location.hash = '#api/' + s; });
    });
    return box;
  }

  function viewRows() {
    const list = filtered();
    view.appendChild(heading('All rows', list.length, 'rows'));
    view.appendChild(table(list, rowColumns(), {}));
  }

  function viewBinaries() {
    const list = D.b;
    view.appendChild(heading('Binaries', list.length, 'binaries in the store'));
    if (!list.length) return;
    const keys = Object.keys(list[0]);
    view.appendChild(table(list, keys.map((k) => [k, (b) => b[k], (b) => b[k]]), { sort: keys[0] }));
  }

  function viewBuilds() {
    const list = D.h.filter((h) => {
      if (!filtering()) return true;
      const ev = h[HF.E] >= 0 ? events[h[HF.E]] : null;
      return ev ? ev.rows.some(passes) : (F.q && [h[HF.Build], h[HF.Function], h[HF.Event]].some((s) => S[s].toLowerCase().includes(F.q)));
    });
    view.appendChild(heading('Builds', list.length, 'rows added, removed or changed from one build of a binary to the next'));
    view.appendChild(changeTable(list));
  }

  // ------------------------------------------------------------------------------ routing
  function route() {
    const [name, arg] = location.hash.replace(/^#/, '').split('/');
    return [name || 'apis', arg === undefined ? null : Number(arg)];
  }
  function render() {
    const [name, arg] = route();
    view.textContent = '';
    document.querySelectorAll('#tabs a').forEach((a) => {
      const v = a.dataset.view;
      a.classList.toggle('active', v === name || v === name + 's');
    });
    const views = {
      apis: viewApis, api: () => viewApi(arg), providers: viewProviders, provider: () => viewProvider(arg),
      events: viewEvents, event: () => viewEvent(arg), rows: viewRows, binaries: viewBinaries, builds: viewBuilds,
    };
    (views[name] || viewApis)();
    document.body.dataset.ready = '1';
  }
  window.addEventListener('hashchange', () => { window.scrollTo(0, 0); render(); });
  readFilters(true);
  render();

  async function load() {
    const b64 = document.getElementById('payload').textContent.trim();
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return JSON.parse(await new Response(stream).text());
  }
})();
