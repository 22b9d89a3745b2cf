// nanoadmin console: talks to /api/v4 and /_nanoadmin/v1 only, with credentials held in memory.
// Every value from the server reaches the page as text (textContent, DOM nodes), never as HTML:
// client ids, topics and payloads are chosen by whoever connects to the broker.
"use strict";

(() => {
  const API = "/api/v4";
  const CONTROL = "/_nanoadmin/v1";
  const PUBLISHER_ID = "nanoadmin-console";
  const POLL_MS = 2000;
  const CHART_POINTS = 60;
  const JOURNAL_ROWS = 500;
  const TREE_CHILDREN = 200;

  const state = { auth: null, control: false, timers: [], generation: 0, history: null };

  // The overview's samples, kept while signed in so that its charts survive a change of view.
  const freshHistory = () => ({ rates: [], connections: [], last: null });

  class AuthLost extends Error {}

  class ApiFailure extends Error {
    constructor(reply) {
      const body = reply.json || {};
      const detail = body.message ? `: ${body.message}` : "";
      const code = body.code !== undefined ? ` (code ${body.code})` : "";
      super(`HTTP ${reply.status}${code}${detail}`);
      this.reply = reply;
    }
  }

  // -- DOM helpers ---------------------------------------------------------------------------

  const $ = (selector) => document.querySelector(selector);

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function notice(text, kind = "") {
    return el("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status", text });
  }

  function table(headers, rows, emptyText = "Nothing to show.") {
    const head = el("tr", {}, headers.map((h) => el("th", { class: h.endsWith("#") ? "num" : "", text: h.replace(/#$/, "") })));
    const body = el("tbody");
    if (!rows.length) body.append(el("tr", {}, el("td", { class: "empty", colspan: headers.length, text: emptyText })));
    for (const row of rows) body.append(row);
    return el("div", { class: "table-wrap" }, el("table", {}, el("thead", {}, head), body));
  }

  function cell(value, cls = "") {
    return el("td", { class: cls, text: value === undefined || value === null ? "" : value });
  }

  function field(label, control) {
    return [el("label", { for: control.id, text: label }), control];
  }

  function select(id, options, value) {
    return el("select", { id, name: id }, options.map(([v, text]) => el("option", { value: v, text, selected: v === value })));
  }

  function heading(text, ...extra) {
    return el("div", { class: "toolbar" }, el("h2", { text }), el("span", { class: "spacer" }), extra);
  }

  const pretty = (value) => JSON.stringify(value, null, 2);
  const compact = (value) => (typeof value === "string" ? value : JSON.stringify(value));

  // Percent-encode what a raw path segment or query value cannot carry. The server matches
  // them un-decoded (as NanoMQ does), so everything else is sent as it is.
  const KEEP_IN_SEGMENT = /%(21|24|26|27|28|29|2A|2B|2C|3A|3B|3D|40)/gi;
  const KEEP_IN_QUERY = /%(21|24|27|28|29|2A|2C|2F|3A|3B|3F|40)/gi;
  const segment = (text) => encodeURIComponent(text).replace(KEEP_IN_SEGMENT, decodeURIComponent);
  const queryValue = (text) => encodeURIComponent(text).replace(KEEP_IN_QUERY, decodeURIComponent);

  function query(params) {
    const parts = [];
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined || value === null || value === "") continue;
      parts.push(`${key}=${queryValue(String(value))}`);
    }
    return parts.length ? `?${parts.join("&")}` : "";
  }

  // -- talking to the server -----------------------------------------------------------------

  async function call(method, path, body) {
    const init = { method, headers: { Authorization: state.auth }, cache: "no-store", credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (_) {
      json = null;
    }
    const reply = { status: response.status, json, text };
    if (response.status === 401) {
      signOut(`Signed out: ${new ApiFailure(reply).message}`);
      throw new AuthLost("unauthorized");
    }
    return reply;
  }

  // The JSON of a 200 whose code (where it has one) is 0; ApiFailure otherwise.
  async function getJson(path) {
    const reply = await call("GET", path);
    const code = reply.json && reply.json.code;
    if (reply.status !== 200 || reply.json === null || (code !== undefined && code !== 0)) throw new ApiFailure(reply);
    return reply.json;
  }

  async function getText(path) {
    const reply = await call("GET", path);
    if (reply.status !== 200) throw new ApiFailure(reply);
    return reply.text;
  }

  function parsePrometheus(text) {
    const values = {};
    for (const line of text.split("\n")) {
      const match = /^nanomq_(\w+) (\S+)$/.exec(line);
      if (match) values[match[1]] = Number(match[2]);
    }
    return values;
  }

  // -- sign-in -------------------------------------------------------------------------------

  function scheme() {
    return document.querySelector("input[name=scheme]:checked").value;
  }

  function showSchemeFields() {
    const jwt = scheme() === "jwt";
    $("#basic-fields").hidden = jwt;
    $("#jwt-fields").hidden = !jwt;
  }

  function basicValue(user, password) {
    const bytes = new TextEncoder().encode(`${user}:${password}`);
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return `Basic ${btoa(binary)}`;
  }

  async function signIn(event) {
    event.preventDefault();
    const form = event.target;
    const error = $("#login-error");
    error.textContent = "";
    if (scheme() === "jwt") {
      const token = form.token.value.trim();
      if (!token) return void (error.textContent = "Paste a token.");
      state.auth = `Bearer ${token}`;
    } else {
      state.auth = basicValue(form.username.value, form.password.value);
    }
    $("#login-submit").disabled = true;
    try {
      const brokers = await getJson(`${API}/brokers`);
      const broker = (brokers.data && brokers.data[0]) || {};
      $("#broker-info").textContent = `${broker.sysdescr || "NanoMQ"} ${broker.version || ""}`;
      const probe = await call("GET", `${CONTROL}/`);
      state.control = probe.status === 200;
      form.password.value = "";
      form.token.value = "";
      enterApp();
    } catch (err) {
      if (!(err instanceof AuthLost)) {
        state.auth = null;
        error.textContent = `Cannot reach the API: ${err.message}`;
      }
    } finally {
      $("#login-submit").disabled = false;
    }
  }

  function signOut(message = "") {
    stopView();
    state.auth = null;
    state.control = false;
    state.history = null;
    $("#main").replaceChildren();
    $("#app").hidden = true;
    $("#login").hidden = false;
    $("#login-error").textContent = message;
    const first = scheme() === "jwt" ? $("#login-token") : $("#login-username");
    first.focus();
  }

  function enterApp() {
    state.history = freshHistory();
    $("#login").hidden = true;
    $("#app").hidden = false;
    const badge = $("#control-badge");
    badge.textContent = state.control ? "control API on" : "control API off";
    badge.className = `badge ${state.control ? "on" : "off"}`;
    const nav = $("#nav");
    nav.replaceChildren(
      ...VIEWS.filter((v) => !v.control || state.control).map((v) =>
        el("a", { href: `#${v.name}`, "data-view": v.name, text: v.title }),
      ),
    );
    show(viewName());
  }

  // -- views ---------------------------------------------------------------------------------

  function viewName() {
    const name = location.hash.slice(1);
    const view = VIEWS.find((v) => v.name === name);
    return view && (!view.control || state.control) ? name : "overview";
  }

  function stopView() {
    state.generation += 1;
    for (const id of state.timers) clearInterval(id);
    state.timers = [];
  }

  // Calls ``task`` every POLL_MS while the current view stays open, one call at a time.
  function every(task, ms = POLL_MS) {
    const generation = state.generation;
    let busy = false;
    const id = setInterval(async () => {
      if (busy || generation !== state.generation) return;
      busy = true;
      try {
        await task();
      } catch (err) {
        if (!(err instanceof AuthLost)) console.warn("refresh failed:", err.message);
      } finally {
        busy = false;
      }
    }, ms);
    state.timers.push(id);
  }

  function show(name) {
    if (state.auth === null) return;
    stopView();
    const view = VIEWS.find((v) => v.name === name);
    for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.view === name);
    const root = el("section", { class: "view", "data-view": name, "aria-busy": "true" });
    $("#main").replaceChildren(root);
    document.title = `${view.title} · nanoadmin`;
    view.render(root)
      .then(() => root.removeAttribute("aria-busy"))
      .catch((err) => {
        if (err instanceof AuthLost) return;
        root.removeAttribute("aria-busy");
        root.append(notice(`Could not load: ${err.message}`, "error"));
      });
  }

  // A small line chart on a canvas: the last CHART_POINTS samples of one or more series.
  class Chart {
    constructor(title, names, samples) {
      this.names = names;
      this.samples = samples;
      this.canvas = el("canvas", { width: 600, height: 170, "aria-label": title, role: "img" });
      new ResizeObserver(() => this.draw()).observe(this.canvas);
      this.value = el("span", { class: "muted" });
      this.node = el(
        "div",
        { class: "panel chart" },
        el("div", { class: "toolbar" }, el("h3", { text: title }), el("span", { class: "spacer" }), this.value),
        this.canvas,
        el("div", { class: "legend" }, names.map((n, i) => el("span", { class: `s${i}`, text: n }))),
      );
    }

    push(values) {
      this.samples.push(values);
      if (this.samples.length > CHART_POINTS) this.samples.shift();
      this.draw();
    }

    draw() {
      const canvas = this.canvas;
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth;
      const height = canvas.clientHeight;
      if (!width || !height) return;
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      const g = canvas.getContext("2d");
      g.scale(ratio, ratio);
      const styles = getComputedStyle(document.documentElement);
      const line = styles.getPropertyValue("--line").trim() || "#ccc";
      const muted = styles.getPropertyValue("--muted").trim() || "#666";
      const max = Math.max(1, ...this.samples.flat());
      const top = niceCeiling(max);
      const left = 44;
      const bottom = height - 18;
      g.font = "11px system-ui, sans-serif";
      g.fillStyle = muted;
      g.strokeStyle = line;
      g.lineWidth = 1;
      for (let i = 0; i <= 4; i += 1) {
        const y = Math.round(8 + ((bottom - 8) * i) / 4) + 0.5;
        g.beginPath();
        g.moveTo(left, y);
        g.lineTo(width, y);
        g.stroke();
        g.fillText(formatNumber((top * (4 - i)) / 4), 2, y + 4);
      }
      const span = Math.max(0, this.samples.length - 1) * (POLL_MS / 1000);
      g.fillText(span >= 120 ? `last ${span / 60} min` : `last ${span} s`, left, height - 3);
      const newest = this.samples[this.samples.length - 1];
      this.value.textContent = newest ? newest.map((v) => formatNumber(v)).join(" / ") : "";
      // Until the window fills, the samples there are span the width.
      const step = (width - left - 1.5) / Math.max(1, this.samples.length - 1);
      const start = left;
      this.names.forEach((_, series) => {
        g.strokeStyle = styles.getPropertyValue(`--series-${series}`).trim() || "#2563eb";
        g.lineWidth = 2;
        g.fillStyle = g.strokeStyle;
        g.beginPath();
        this.samples.forEach((values, i) => {
          const x = start + i * step;
          const y = bottom - ((bottom - 8) * values[series]) / top;
          if (i === 0) g.moveTo(x, y);
          else g.lineTo(x, y);
        });
        g.stroke();
        if (newest) {
          g.beginPath();
          g.arc(width - 1.5, bottom - ((bottom - 8) * newest[series]) / top, 2.5, 0, 2 * Math.PI);
          g.fill();
        }
      });
    }
  }

  function niceCeiling(value) {
    const power = 10 ** Math.floor(Math.log10(value));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= value) return m * power;
    return 10 * power;
  }

  function formatNumber(value) {
    if (!Number.isFinite(value)) return String(value);
    if (Math.abs(value) >= 100 || Number.isInteger(value)) return Math.round(value).toLocaleString("en-US");
    return value.toFixed(1);
  }

  function formatBytes(text) {
    const bytes = Number(text);
    if (!Number.isFinite(bytes)) return String(text);
    const units = ["B", "KiB", "MiB", "GiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
  }

  function figure(label, value, key, kind = "") {
    return el("div", { class: "figure", "data-figure": key }, el("div", { class: "label", text: label }), el("div", { class: `value ${kind}`, text: value ?? "–" }));
  }

  async function overview(root) {
    const figures = el("div", { class: "cards" });
    const history = state.history;
    const rates = new Chart("Messages per second", ["received", "sent"], history.rates);
    const connections = new Chart("Connections", ["connected", "sessions"], history.connections);
    root.append(heading("Overview"), figures, el("div", { class: "charts" }, rates.node, connections.node));
    async function refresh() {
      const [brokers, nodes, metrics, prometheus] = await Promise.all([
        getJson(`${API}/brokers`),
        getJson(`${API}/nodes`),
        getJson(`${API}/metrics`),
        getText(`${API}/prometheus`),
      ]);
      const broker = brokers.data[0] || {};
      const node = nodes.data[0] || {};
      const p = parsePrometheus(prometheus);
      figures.replaceChildren(
        figure("Version", broker.version, "version"),
        figure("Status", broker.node_status, "node_status"),
        figure("Uptime", broker.uptime, "uptime", "text"),
        figure("Broker time", broker.datetime, "datetime", "text"),
        figure("Connections (nodes)", node.connections, "connections"),
        figure("Sessions (metrics)", metrics.connections, "metrics_connections"),
        figure("Subscribers", p.subscribers_count, "subscribers"),
        figure("Topics", p.topics_count, "topics"),
        figure("Messages received", p.messages_received, "messages_received"),
        figure("Messages sent", p.messages_sent, "messages_sent"),
        figure("Messages dropped", p.messages_dropped, "messages_dropped"),
        figure("CPU", metrics.cpuinfo, "cpu"),
        figure("Memory", formatBytes(metrics.memory), "memory"),
        figure("Bridge metrics", (metrics.metrics || []).length, "bridge_metrics"),
      );
      const now = performance.now();
      const last = history.last;
      if (last !== null) {
        const seconds = Math.max(0.001, (now - last.time) / 1000);
        rates.push([
          Math.max(0, (p.messages_received - last.received) / seconds),
          Math.max(0, (p.messages_sent - last.sent) / seconds),
        ]);
      }
      connections.push([Number(p.connections_count) || 0, Number(p.sessions_count) || 0]);
      history.last = { time: now, received: p.messages_received, sent: p.messages_sent };
    }
    await refresh();
    every(refresh);
  }

  async function clients(root) {
    const s = { page: 1, limit: 20, key: "clientid", value: "" };
    const status = el("div");
    const list = el("div");
    const info = el("span", { class: "muted" });
    const prev = el("button", { type: "button", class: "ghost", id: "client-prev", text: "‹ Previous", onclick: () => go(s.page - 1) });
    const next = el("button", { type: "button", class: "ghost", id: "client-next", text: "Next ›", onclick: () => go(s.page + 1) });
    const key = select("client-filter-key", [["clientid", "Client id"], ["username", "Username"]], s.key);
    const value = el("input", { id: "client-filter", type: "search", class: "grow", placeholder: "exact client id or username" });
    const limit = select("client-limit", [["20", "20 a page"], ["50", "50 a page"], ["100", "100 a page"]], "20");
    const form = el(
      "form",
      { class: "toolbar", onsubmit: (e) => { e.preventDefault(); s.key = key.value; s.value = value.value; go(1); } },
      key,
      value,
      el("button", { type: "submit", id: "client-filter-submit", text: "Filter" }),
      el("button", { type: "button", class: "ghost", text: "Clear", onclick: () => { value.value = ""; s.value = ""; go(1); } }),
      limit,
    );
    limit.addEventListener("change", () => { s.limit = Number(limit.value); go(1); });
    root.append(heading("Clients"), form, status, el("div", { class: "pager" }, prev, next, info), list);

    async function kick(clientId, button) {
      button.disabled = true;
      const reply = await call("DELETE", `${API}/clients/${segment(clientId)}`);
      if (reply.status === 200 && reply.json && reply.json.code === 0) {
        status.replaceChildren(notice(`Kicked ${clientId}.`, "ok"));
      } else {
        status.replaceChildren(notice(`Could not kick ${clientId}: ${new ApiFailure(reply).message}`, "error"));
      }
      await load();
    }

    async function load() {
      const params = { _page: s.page, _limit: s.limit };
      if (s.value) params[s.key] = s.value;
      const body = await getJson(`${API}/clients${query(params)}`);
      const meta = body.meta || { page: s.page, limit: s.limit, count: body.data.length, hasnext: false };
      const rows = body.data.map((c) =>
        el(
          "tr",
          { "data-clientid": c.client_id },
          cell(c.client_id, "mono"),
          cell(c.username),
          el("td", {}, el("span", { class: `state ${c.conn_state}`, text: c.conn_state })),
          cell(`${c.proto_name} ${c.proto_ver}`),
          cell(c.keepalive, "num"),
          cell(c.clean_start ? "yes" : "no"),
          el("td", {}, el("button", { type: "button", class: "danger small", text: "Kick", onclick: (e) => kick(c.client_id, e.target) })),
        ),
      );
      list.replaceChildren(table(["Client id", "Username", "State", "Protocol", "Keepalive#", "Clean start", ""], rows, "No clients."));
      const pages = Math.max(1, Math.ceil(meta.count / meta.limit));
      info.textContent = `Page ${meta.page} of ${pages} · ${meta.count.toLocaleString("en-US")} clients`;
      prev.disabled = meta.page <= 1;
      next.disabled = !meta.hasnext;
    }

    async function go(page) {
      s.page = Math.max(1, page);
      try {
        await load();
      } catch (err) {
        if (!(err instanceof AuthLost)) status.replaceChildren(notice(err.message, "error"));
      }
    }

    await load();
  }

  // NanoMQ's /topic-tree: the levels breadth first, each node with its child count.
  function buildTree(levels) {
    let parents = (levels[0] || []).map((n) => ({ ...n, children: [] }));
    const roots = parents;
    for (const level of levels.slice(1)) {
      const next = [];
      let k = 0;
      for (const parent of parents) {
        for (let c = 0; c < parent.cld_cnt && k < level.length; c += 1) {
          const node = { ...level[k], children: [] };
          k += 1;
          parent.children.push(node);
          next.push(node);
        }
      }
      parents = next;
    }
    return roots;
  }

  function treeItem(node, path) {
    const name = node.topic === "" ? "(root)" : node.topic;
    const full = path === null ? "" : path === "" ? node.topic : `${path}/${node.topic}`;
    const ids = node.clientid || [];
    const subs = ids.length ? el("span", { class: "subs", text: `${ids.length} subscriber${ids.length > 1 ? "s" : ""}: ${ids.slice(0, 5).join(", ")}${ids.length > 5 ? " …" : ""}` }) : null;
    const label = [el("span", { class: "topic", title: full, text: name }), subs];
    if (!node.children.length) return el("li", { class: "leaf" }, label);
    const list = el("ul");
    const details = el("details", {}, el("summary", {}, label, el("span", { class: "subs", text: `${node.children.length} below` })), list);
    // Children are built when first opened: a level can hold 100,000 nodes.
    const fill = () => {
      if (list.childElementCount) return;
      for (const child of node.children.slice(0, TREE_CHILDREN)) list.append(treeItem(child, full));
      if (node.children.length > TREE_CHILDREN) list.append(el("li", { class: "muted", text: `… ${node.children.length - TREE_CHILDREN} more` }));
    };
    details.addEventListener("toggle", () => details.open && fill());
    if (path === null) {
      details.open = true;
      fill();
    }
    return el("li", {}, details);
  }

  async function subscriptions(root) {
    const s = { page: 1, limit: 20, clientId: "" };
    const list = el("div");
    const info = el("span", { class: "muted" });
    const prev = el("button", { type: "button", class: "ghost", id: "subscription-prev", text: "‹ Previous", onclick: () => load(s.page - 1) });
    const next = el("button", { type: "button", class: "ghost", id: "subscription-next", text: "Next ›", onclick: () => load(s.page + 1) });
    const filter = el("input", { id: "subscription-filter", type: "search", class: "grow", placeholder: "exact client id" });
    const tree = el("div", { class: "panel tree" });
    root.append(
      heading("Subscriptions"),
      el("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); s.clientId = filter.value; load(1); } }, filter, el("button", { type: "submit", text: "Filter" })),
      el(
        "div",
        { class: "split" },
        el("div", {}, el("div", { class: "pager" }, prev, next, info), list),
        el("div", {}, el("h3", { text: "Topic tree" }), tree),
      ),
    );

    async function load(page) {
      s.page = Math.max(1, page);
      const base = s.clientId ? `${API}/subscriptions/${segment(s.clientId)}` : `${API}/subscriptions`;
      const body = await getJson(base + query({ _page: s.page, _limit: s.limit }));
      const rows = body.data.map((sub) => el("tr", {}, cell(sub.clientid, "mono"), cell(sub.topic, "mono"), cell(sub.qos, "num")));
      list.replaceChildren(table(["Client id", "Topic filter", "QoS#"], rows, "No subscriptions."));
      const meta = body.meta;
      info.textContent = `Page ${meta.page} of ${Math.max(1, Math.ceil(meta.count / meta.limit))} · ${meta.count.toLocaleString("en-US")} subscriptions`;
      prev.disabled = meta.page <= 1;
      next.disabled = !meta.hasnext;
    }

    await load(1);
    const levels = (await getJson(`${API}/topic-tree`)).data;
    const roots = buildTree(levels);
    tree.replaceChildren(roots.length ? el("ul", {}, roots.map((r) => treeItem(r, null))) : el("p", { class: "muted", text: "No topics." }));
  }

  const needsControl = (what) => notice(`${what} needs the control API (start nanoadmin with --control).`);

  async function retained(root) {
    root.append(heading("Retained messages", el("button", { type: "button", class: "ghost", text: "Refresh", onclick: () => show("retained") })));
    if (!state.control) return void root.append(needsControl("Listing retained messages"));
    const filter = el("input", { id: "retained-filter", type: "search", class: "grow", placeholder: "topic contains…" });
    const list = el("div");
    root.append(el("div", { class: "toolbar" }, filter), list);
    const messages = (await getJson(`${CONTROL}/state`)).data.retained || [];
    const render = () => {
      const needle = filter.value;
      const shown = messages.filter((m) => m.topic.includes(needle)).slice(0, 1000);
      const rows = shown.map((m) =>
        el(
          "tr",
          { "data-topic": m.topic },
          cell(m.topic, "mono"),
          cell(m.payload !== undefined ? m.payload : m.payload_base64, "mono"),
          cell(m.payload !== undefined ? "text" : "base64"),
          cell(m.qos, "num"),
        ),
      );
      list.replaceChildren(table(["Topic", "Payload", "Encoding", "QoS#"], rows, "No retained messages."));
    };
    filter.addEventListener("input", render);
    render();
  }

  const topics = (list, from, to) => (list || []).map((t) => `${t[from]} → ${t[to]}${t.qos !== undefined ? ` (QoS ${t.qos})` : ""}`).join("\n");

  async function bridgesRules(root) {
    root.append(heading("Bridges"));
    const bridges = await getJson(`${API}/bridges`);
    const nodes = (bridges.data && bridges.data.bridge && bridges.data.bridge.nodes) || [];
    const rows = nodes.map((b) => {
      const c = b.connector || {};
      return el(
        "tr",
        { "data-bridge": b.name },
        cell(b.name, "mono"),
        cell(b.enable ? "yes" : "no"),
        cell(c.server, "mono nowrap"),
        cell(c.proto_ver, "num"),
        cell(c.clientid ?? "", "mono"),
        cell(topics(b.forwards, "local_topic", "remote_topic"), "mono lines"),
        cell(topics(b.subscription, "remote_topic", "local_topic"), "mono lines"),
      );
    });
    root.append(table(["Name", "Enabled", "Server", "Protocol#", "Client id", "Forwards (local → remote)", "Subscriptions (remote → local)"], rows, "No bridges configured."));
    if (nodes.length) root.append(el("details", { class: "raw" }, el("summary", { text: "The whole answer" }), el("pre", { class: "json", text: pretty(bridges.data) })));
    root.append(el("h3", { text: "Rules" }));
    const reply = await call("GET", `${API}/rules`);
    if (reply.status === 200 && reply.json && reply.json.code === 0) {
      const ruleRows = (reply.json.data || []).map((r) => el("tr", {}, cell(r.id, "num"), cell(r.name, "mono"), cell(r.enabled ? "yes" : "no"), cell(r.rawsql, "mono")));
      root.append(table(["Id#", "Name", "Enabled", "SQL"], ruleRows, "No rules."));
    } else {
      const body = reply.json || {};
      root.append(notice(body.message ? `${body.message} (code ${body.code}).` : new ApiFailure(reply).message));
    }
  }

  async function configuration(root) {
    root.append(heading("Configuration"), el("p", { class: "muted", text: "GET /api/v4/configuration: the effective settings, secrets masked by the server." }));
    const body = await getJson(`${API}/configuration`);
    root.append(el("pre", { class: "json", id: "configuration-json", text: pretty(body.data) }));
  }

  async function publish(root) {
    const topic = el("input", { id: "publish-topic", required: true, placeholder: "sensors/room1/temp" });
    const payload = el("textarea", { id: "publish-payload", placeholder: "21.5" });
    const qos = select("publish-qos", [["0", "0 (at most once)"], ["1", "1 (at least once)"], ["2", "2 (exactly once)"]], "0");
    const retain = el("input", { id: "publish-retain", type: "checkbox" });
    const result = el("div", { id: "publish-result" });
    const submit = el("button", { type: "submit", id: "publish-submit", text: "Publish" });
    async function send(event) {
      event.preventDefault();
      const body = { topic: topic.value, payload: payload.value, qos: Number(qos.value), retain: retain.checked, clientid: PUBLISHER_ID };
      submit.disabled = true;
      try {
        const reply = await call("POST", `${API}/mqtt/publish`, body);
        const code = reply.json ? reply.json.code : undefined;
        const ok = reply.status === 200 && code === 0;
        const detail = ok ? "published" : new ApiFailure(reply).message;
        result.replaceChildren(notice(`HTTP ${reply.status}, code ${code}: ${detail}`, ok ? "ok" : "error"));
      } finally {
        submit.disabled = false;
      }
    }
    root.append(
      heading("Publish"),
      el("p", { class: "muted", text: `POST /api/v4/mqtt/publish as client "${PUBLISHER_ID}".` }),
      el(
        "form",
        { class: "panel form", onsubmit: (e) => send(e).catch((err) => err instanceof AuthLost || result.replaceChildren(notice(err.message, "error"))) },
        field("Topic", topic),
        field("Payload", payload),
        field("QoS", qos),
        el("label", { for: "publish-retain", text: "Retain" }),
        el("span", { class: "check" }, retain, "keep as the topic's retained message"),
        el("div", { class: "actions" }, submit, result),
      ),
    );
  }

  async function journal(root) {
    const s = { after: null, filters: {} };
    const method = select("journal-method", [["", "any method"], ["GET", "GET"], ["POST", "POST"], ["PUT", "PUT"], ["DELETE", "DELETE"]], "");
    const path = el("input", { id: "journal-path", type: "search", class: "grow", placeholder: "path glob, e.g. /api/v4/clients*" });
    const status = el("input", { id: "journal-status", type: "search", placeholder: "status", size: 6 });
    const body = el("tbody");
    const message = el("div");
    const apply = (e) => { e.preventDefault(); s.filters = { method: method.value, path: path.value, status: status.value }; restart(); };
    const clear = async () => {
      const reply = await call("DELETE", `${CONTROL}/requests`);
      if (reply.status !== 200) message.replaceChildren(notice(new ApiFailure(reply).message, "error"));
      restart();
    };
    root.append(
      heading("Request journal", el("button", { type: "button", class: "danger", id: "journal-clear", text: "Clear", onclick: () => clear().catch(() => {}) })),
      el("form", { class: "toolbar", onsubmit: apply }, method, path, status, el("button", { type: "submit", id: "journal-filter-submit", text: "Filter" })),
      message,
      el(
        "div",
        { class: "table-wrap" },
        el("table", {}, el("thead", {}, el("tr", {}, ["#", "Time", "Method", "Target", "Status", "Code", "Auth", "ms", "Body"].map((h, i) => el("th", { class: [0, 4, 5, 7, 8].includes(i) ? "num" : "", text: h })))), body),
      ),
    );

    function row(entry) {
      const auth = entry.auth ? `${entry.auth.scheme} ${entry.auth.outcome}` : "";
      const fault = entry.fault !== undefined && entry.fault !== null ? ` (fault rule ${entry.fault})` : "";
      return el(
        "tr",
        { "data-id": entry.id },
        cell(entry.id, "num"),
        cell(clockTime(entry.time)),
        cell(entry.method),
        cell(entry.target + fault, "mono"),
        cell(entry.status, "num"),
        cell(entry.code, "num"),
        cell(auth),
        cell(typeof entry.duration_ms === "number" ? entry.duration_ms.toFixed(1) : entry.duration_ms, "num"),
        cell(entry.body_size, "num"),
      );
    }

    async function poll() {
      const params = { ...s.filters, after: s.after };
      const entries = (await getJson(`${CONTROL}/requests${query(params)}`)).data || [];
      for (const entry of entries) {
        body.prepend(row(entry));
        if (typeof entry.id === "number") s.after = entry.id;
      }
      while (body.childElementCount > JOURNAL_ROWS) body.lastElementChild.remove();
      if (!body.childElementCount) body.append(el("tr", { class: "placeholder" }, el("td", { class: "empty", colspan: 9, text: "No requests yet." })));
      else if (entries.length) body.querySelectorAll("tr.placeholder").forEach((r) => r.remove());
    }

    function restart() {
      s.after = null;
      body.replaceChildren();
      message.replaceChildren();
      poll().catch((err) => err instanceof AuthLost || message.replaceChildren(notice(err.message, "error")));
    }

    await poll();
    every(poll);
  }

  function clockTime(seconds) {
    const date = new Date(Number(seconds) * 1000);
    if (Number.isNaN(date.getTime())) return String(seconds);
    const pad = (n, width = 2) => String(n).padStart(width, "0");
    return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
  }

  function effectText(rule) {
    const parts = [];
    if (rule.error) parts.push(`error ${rule.error.status}${rule.error.code !== undefined ? ` code ${rule.error.code}` : ""}`);
    if (rule.delay_ms !== undefined) parts.push(`delay ${Array.isArray(rule.delay_ms) ? rule.delay_ms.join("–") : rule.delay_ms} ms`);
    for (const flag of ["drop", "truncate", "hang"]) if (rule[flag]) parts.push(flag);
    return parts.join(" + ");
  }

  async function faults(root) {
    const list = el("div");
    const seedInfo = el("span", { class: "muted" });
    const message = el("div", { id: "fault-message" });
    let current = { seed: null, rules: [] };

    const method = select("fault-method", [["", "any"], ["GET", "GET"], ["POST", "POST"], ["PUT", "PUT"], ["DELETE", "DELETE"]], "GET");
    const path = el("input", { id: "fault-path", required: true, placeholder: "/clients*", value: "/clients*" });
    const effect = select("fault-effect", [["error", "error answer"], ["delay", "delay only"], ["drop", "drop the connection"], ["truncate", "truncate the answer"], ["hang", "hang"]], "error");
    const status = el("input", { id: "fault-status", type: "number", min: 400, max: 599, value: 503 });
    const code = el("input", { id: "fault-code", type: "number", min: 0, value: 102 });
    const delay = el("input", { id: "fault-delay", placeholder: "ms, or 100-300", size: 12 });
    const probability = el("input", { id: "fault-probability", type: "number", min: 0, max: 1, step: 0.05, value: 1 });
    const times = el("input", { id: "fault-times", type: "number", min: 1, placeholder: "unlimited" });
    const errorFields = [el("label", { for: "fault-status", text: "Error status / code" }), el("span", { class: "check" }, status, code)];
    effect.addEventListener("change", () => errorFields.forEach((n) => (n.hidden = effect.value !== "error")));

    function newRule() {
      const rule = { match: { path: path.value } };
      if (method.value) rule.match.method = method.value;
      if (effect.value === "error") rule.error = { status: Number(status.value), code: Number(code.value) };
      else if (effect.value !== "delay") rule[effect.value] = true;
      const range = /^\s*(\d+)\s*[-–,]\s*(\d+)\s*$/.exec(delay.value);
      if (range) rule.delay_ms = [Number(range[1]), Number(range[2])];
      else if (delay.value.trim()) rule.delay_ms = Number(delay.value);
      if (probability.value !== "" && Number(probability.value) !== 1) rule.probability = Number(probability.value);
      if (times.value !== "") rule.times = Number(times.value);
      return rule;
    }

    const withoutFired = (rule) => {
      const copy = { ...rule };
      delete copy.fired;
      return copy;
    };

    async function add(event) {
      event.preventDefault();
      const rule = newRule();
      let reply = await call("POST", `${CONTROL}/faults`, rule);
      if (reply.status === 404 || reply.status === 405) {
        const fresh = (await getJson(`${CONTROL}/faults`)).data;
        reply = await call("PUT", `${CONTROL}/faults`, { seed: fresh.seed, rules: [...fresh.rules.map(withoutFired), rule] });
      }
      if (reply.status === 200 && reply.json && reply.json.code === 0) message.replaceChildren(notice(`Added: ${compact(rule)}`, "ok"));
      else message.replaceChildren(notice(`Refused: ${new ApiFailure(reply).message}`, "error"));
      await load();
    }

    async function remove(index) {
      const reply = await call("DELETE", `${CONTROL}/faults/${index}`);
      if (reply.status !== 200) message.replaceChildren(notice(new ApiFailure(reply).message, "error"));
      await load();
    }

    async function clearAll() {
      const reply = await call("DELETE", `${CONTROL}/faults`);
      if (reply.status !== 200) message.replaceChildren(notice(new ApiFailure(reply).message, "error"));
      await load();
    }

    async function load() {
      current = (await getJson(`${CONTROL}/faults`)).data;
      seedInfo.textContent = `seed ${current.seed}`;
      const rows = current.rules.map((rule, index) =>
        el(
          "tr",
          { "data-index": index },
          cell(index, "num"),
          cell((rule.match && rule.match.method) || "any"),
          cell(rule.match && rule.match.path, "mono"),
          cell(effectText(rule)),
          cell(rule.probability ?? 1, "num"),
          cell(rule.times ?? "∞", "num"),
          cell(rule.fired ?? 0, "num"),
          el("td", {}, el("button", { type: "button", class: "danger small", text: "Remove", onclick: () => remove(index).catch(() => {}) })),
        ),
      );
      list.replaceChildren(table(["Rule#", "Method", "Path glob", "Effect", "Probability#", "Times#", "Fired#", ""], rows, "No fault rules: every request is answered normally."));
    }

    root.append(
      heading("Faults", seedInfo, el("button", { type: "button", class: "danger", id: "faults-clear", text: "Clear all", onclick: () => clearAll().catch(() => {}) })),
      message,
      list,
      el("h3", { text: "Add a rule" }),
      el(
        "form",
        { class: "panel form", id: "fault-form", onsubmit: (e) => add(e).catch((err) => err instanceof AuthLost || message.replaceChildren(notice(err.message, "error"))) },
        field("Method", method),
        el("label", { for: "fault-path", text: "Path glob" }),
        el("span", { class: "check" }, path, el("span", { class: "muted", text: "below /api/v4" })),
        field("Effect", effect),
        errorFields,
        field("Delay (ms)", delay),
        field("Probability", probability),
        field("Times", times),
        el("div", { class: "actions" }, el("button", { type: "submit", id: "fault-submit", text: "Add rule" })),
      ),
    );
    await load();
    every(load);
  }

  const VIEWS = [
    { name: "overview", title: "Overview", render: overview },
    { name: "clients", title: "Clients", render: clients },
    { name: "subscriptions", title: "Subscriptions", render: subscriptions },
    { name: "retained", title: "Retained", render: retained },
    { name: "bridges", title: "Bridges & rules", render: bridgesRules },
    { name: "configuration", title: "Configuration", render: configuration },
    { name: "publish", title: "Publish", render: publish },
    { name: "journal", title: "Journal", render: journal, control: true },
    { name: "faults", title: "Faults", render: faults, control: true },
  ];

  document.addEventListener("DOMContentLoaded", () => {
    for (const radio of document.querySelectorAll("input[name=scheme]")) radio.addEventListener("change", showSchemeFields);
    $("#login-form").addEventListener("submit", (e) => signIn(e).catch((err) => ($("#login-error").textContent = err.message)));
    $("#logout").addEventListener("click", () => signOut());
    window.addEventListener("hashchange", () => show(viewName()));
    // The open view's link opens it afresh (its filters and page reset), as a reload would.
    $("#nav").addEventListener("click", (event) => {
      const link = event.target.closest("a[data-view]");
      if (link && link.getAttribute("href") === location.hash) show(link.dataset.view);
    });
    showSchemeFields();
    $("#login-username").focus();
  });
})();
