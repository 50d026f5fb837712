// Resolute's web page: the screens a leader or an officer opens every morning, on the public GraphQL API.
// Routes (the part after #): /unit/<code> (default: your own unit), /ranking, /work, /assignment/<id>.
// Each screen asks only for the fields it shows; every write is the API's own mutation, its typed errors
// shown next to the field they name.

import { ApiError, download, gql, login, logout, signedIn, subscribe, username } from "./api.js";
import { rankingChart, seriesChart } from "./charts.js";
import { h, show } from "./dom.js";
import { lang, number, percent, setLang, t } from "./i18n.js";

const main = document.getElementById("main");
const bar = document.getElementById("bar");
const live = document.getElementById("live");
let closeLive = () => {};

// -- frame ---------------------------------------------------------------------------------------------------------

function header() {
  const switchLang = h("button", { type: "button", class: "link", onclick: () => { setLang(lang() === "vi" ? "en" : "vi"); route(); } }, t("language"));
  if (!signedIn()) return show(bar, h("span", { class: "brand" }, "Resolute"), h("nav", {}, switchLang));
  show(bar,
    h("a", { class: "brand", href: "#/" }, "Resolute"),
    h("nav", { "aria-label": "main" },
      h("a", { href: "#/" }, t("home")), h("a", { href: "#/ranking" }, t("ranking")), h("a", { href: "#/work" }, t("myWork")),
      h("a", { href: "#/notifications", id: "notifications-link" }, t("notifications")),
      h("a", { href: "/graphql" }, t("graphiql")), switchLang,
      h("span", { class: "who" }, username()),
      h("button", { type: "button", class: "link", id: "logout", onclick: async () => { await logout(); location.hash = "#/"; route(); } }, t("logout")),
    ),
  );
}

function failure(error) {
  if (error instanceof ApiError && error.code === "UNAUTHENTICATED") return loginView(t("sessionEnded"));
  if (error instanceof ApiError && error.code === "OFFLINE") return show(main, h("p", { class: "error", role: "alert" }, t("offline")));
  show(main, h("p", { class: "error", role: "alert" }, error.message || String(error)));
}

let generation = 0;  // a newer route makes an older one's late answers moot

/** Whether a newer route has begun since the one that asked `mine` (its screen must not be drawn). */
function stale(mine) {
  return mine !== generation;
}

async function route(options = {}) {
  const mine = ++generation;
  closeLive();
  closeLive = () => {};
  header();
  if (!signedIn()) return loginView();
  const [path, search = ""] = (location.hash || "#/").slice(1).split("?");
  const [, page = "", arg = ""] = path.split("/");
  const query = new URLSearchParams(search);
  show(main, h("p", { class: "loading" }, t("loading")));
  try {
    if (page === "ranking") await rankingView(query, mine);
    else if (page === "work") await workView(mine);
    else if (page === "assignment") await assignmentView(decodeURIComponent(arg), mine);
    else if (page === "matrix") await matrixView(query, mine);
    else if (page === "kpi") await kpiView(decodeURIComponent(arg), query, mine);
    else if (page === "notifications") await notificationsView(mine);
    else await unitView(decodeURIComponent(arg), query, mine);
  } catch (error) {
    if (!stale(mine)) failure(error);
  }
  if (stale(mine)) return;
  if (!options.quiet) main.focus({ preventScroll: true });  // a live redraw leaves the keyboard where it was
}

// -- login ---------------------------------------------------------------------------------------------------------

function loginView(notice) {
  header();
  const said = h("p", { class: "error", role: "alert", id: "login-error" }, notice || "");
  const name = h("input", { id: "username", name: "username", autocomplete: "username", required: true, autocapitalize: "none" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "card login", onsubmit: async (event) => {
    event.preventDefault();
    said.textContent = "";
    try {
      await login(name.value.trim(), password.value);
      route();
    } catch (error) {
      const wait = error.errors?.[0]?.retryAfter;
      said.textContent = error.code === "OFFLINE" ? t("offline") : error.status === 429 ? t("tooMany", { s: wait || 60 }) : t("wrongLogin");
    }
  } },
    h("h1", {}, t("appName")),
    h("label", { for: "username" }, t("username")), name,
    h("label", { for: "password" }, t("password")), password,
    h("button", { type: "submit", id: "login" }, t("login")), said,
  );
  show(main, form);
  name.focus();
}

// -- lights: never by colour alone ---------------------------------------------------------------------------------

function progressLight(f) {
  if (!f || f.total === 0) return { key: "none", word: t("lightNone") };
  const open = f.total - f.completed - (f.cancelled ?? 0);
  if (f.overdue > 0 && f.overdue >= Math.max(1, 0.1 * open)) return { key: "red", word: t("lightBad") };
  if (f.overdue > 0) return { key: "yellow", word: t("lightWatch") };
  return { key: "green", word: t("lightGood") };
}

function light(key, word, extra) {
  const shape = { green: "●", yellow: "▲", red: "■", none: "○" }[key];
  return h("span", { class: `light ${key}`, title: word }, h("span", { "aria-hidden": "true" }, shape), " ", word, extra ? ` ${extra}` : "");
}

function kpiCounts(c) {
  if (!c || !c.measured) return light("none", t("none"));
  return h("span", { class: "kpi-counts" },
    light("green", t("green"), c.green), " ", light("yellow", t("yellow"), c.yellow), " ", light("red", t("red"), c.red));
}

// -- a unit's board --------------------------------------------------------------------------------------------------

const FIGURES = "total completed cancelled overdue completionRate onTimeRate averageProgress";
const BOARD = `query Board($unit: ID, $res: ID) {
  progressRollup(unit: $unit, filter: {resolution: $res}) {
    unit { id code name kind ancestors { code name } } figures { ${FIGURES} }
    childCount children { unit { id code name kind } figures { ${FIGURES} } } }
  kpiLights(unit: $unit, filter: {resolution: $res}) { counts { green yellow red measured } children { unit { code } counts { green yellow red measured } } }
  warnings(unit: $unit, first: 20, filter: {resolution: $res}) {
    totalCount nodes { kind severity reason unit { code name } assignment { id code } kpi { id name } } }
  kpiStatuses(unit: $unit, first: 10, filter: {resolution: $res, light: [RED, YELLOW]}) {
    totalCount nodes { kpi { id code name } unit { code name } period value light targetShare } }
  reportingDiscipline(unit: $unit, resolution: $res) { period figures { completeness timeliness disciplineIndex }
    children { unit { code } figures { completeness timeliness disciplineIndex } } }
  resolutions(first: 50) { nodes { id code title } }
}`;

async function unitView(code, query, mine) {
  let unitId = null;
  if (code) {
    const found = await gql("query($code: String!) { unit(code: $code) { id } }", { code });
    if (!found.unit) return show(main, h("p", { class: "error", role: "alert" }, `${t("unit")} ${code}: –`));
    unitId = found.unit.id;
  }
  const res = query.get("res") || null;
  const data = await gql(BOARD, { unit: unitId, res });
  if (stale(mine)) return;
  const rollup = data.progressRollup;
  if (!rollup) return show(main, h("p", {}, t("noData")));
  const unit = rollup.unit;
  const lightsBy = new Map((data.kpiLights?.children || []).map((c) => [c.unit.code, c.counts]));
  const disciplineBy = new Map((data.reportingDiscipline?.children || []).map((c) => [c.unit.code, c.figures]));
  const resolutions = data.resolutions.nodes;
  const chosen = resolutions.find((r) => r.id === res);
  const picker = h("select", { id: "resolution", "aria-label": t("resolution"), onchange: (e) => {
    location.hash = `#/unit/${encodeURIComponent(unit.code)}${e.target.value ? `?res=${encodeURIComponent(e.target.value)}` : ""}`;
  } }, h("option", { value: "" }, t("allResolutions")), resolutions.map((r) => h("option", { value: r.id, selected: r.id === res }, `${r.code} · ${r.title}`)));
  const params = new URLSearchParams({ unit: unit.code });
  if (chosen) params.set("resolution", chosen.code);
  const f = rollup.figures;
  show(main,
    h("nav", { class: "crumbs", "aria-label": "breadcrumbs" },
      unit.ancestors.map((a) => [h("a", { href: `#/unit/${encodeURIComponent(a.code)}` }, a.name), " › "]), h("span", { "aria-current": "page" }, unit.name)),
    h("h1", {}, unit.name, " ", h("small", {}, unit.code)),
    h("div", { class: "tools" }, picker,
      h("button", { type: "button", id: "download-xlsx", onclick: () => download(`/reports/pack.xlsx?${params}`, `resolute-${unit.code}.xlsx`).catch(failure) }, `${t("download")} (XLSX)`),
      h("button", { type: "button", id: "download-csv", onclick: () => download(`/reports/progress.csv?${params}`, `resolute-${unit.code}.csv`).catch(failure) }, "CSV"),
      h("a", { href: `#/ranking?of=${encodeURIComponent(unit.code)}${res ? `&res=${encodeURIComponent(res)}` : ""}` }, t("ranking")),
      res ? h("a", { href: `#/matrix?res=${encodeURIComponent(res)}`, id: "matrix-link" }, t("matrix")) : null),
    h("section", { class: "figures", "aria-label": t("unit") },
      figure(t("total"), number(f.total)), figure(t("completionRate"), percent(f.completionRate)), figure(t("onTimeRate"), percent(f.onTimeRate)),
      figure(t("overdue"), number(f.overdue), progressLight(f)), figure(t("averageProgress"), f.averageProgress === null ? "–" : `${number(f.averageProgress)}%`),
      figure(t("kpis"), kpiCounts(data.kpiLights?.counts))),
    rollup.children.length ? h("section", {},
      h("h2", {}, t("children"), " ", h("small", {}, t("showing", { n: rollup.children.length, total: rollup.childCount }))),
      h("div", { class: "scroll" }, h("table", { class: "children" },
        h("thead", {}, h("tr", {}, [t("unit"), t("total"), t("completionRate"), t("overdue"), t("kpis"), t("disciplineIndex")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rollup.children.map((c) => {
          const p = progressLight(c.figures);
          const d = disciplineBy.get(c.unit.code);
          return h("tr", { "data-unit": c.unit.code },
            h("th", { scope: "row" }, h("a", { href: `#/unit/${encodeURIComponent(c.unit.code)}${res ? `?res=${encodeURIComponent(res)}` : ""}` }, c.unit.name), " ", h("small", {}, c.unit.code)),
            h("td", {}, number(c.figures.total)),
            h("td", {}, percent(c.figures.completionRate)),
            h("td", {}, light(p.key, p.word, c.figures.overdue ? `(${c.figures.overdue})` : "")),
            h("td", {}, kpiCounts(lightsBy.get(c.unit.code))),
            h("td", {}, d ? percent(d.disciplineIndex) : "–"));
        }))))) : null,
    h("section", { class: "warnings" },
      h("h2", {}, t("warnings"), " ", h("small", {}, String(data.warnings.totalCount))),
      data.warnings.nodes.length ? h("ul", { id: "warnings" }, data.warnings.nodes.map((w) => h("li", { class: `warning ${w.severity.toLowerCase()}` },
        light(w.severity === "RED" ? "red" : "yellow", w.severity === "RED" ? t("red") : t("yellow")), " ",
        h("span", { class: "reason" }, w.reason), " ", w.unit ? h("a", { href: `#/unit/${encodeURIComponent(w.unit.code)}` }, w.unit.name) : null,
        w.assignment ? [" · ", h("a", { href: `#/assignment/${encodeURIComponent(w.assignment.id)}` }, w.assignment.code || t("open"))] : null,
        !w.assignment && w.kpi ? [" · ", h("a", { href: `#/kpi/${encodeURIComponent(w.kpi.id)}?unit=${encodeURIComponent(unit.code)}` }, w.kpi.name)] : null)))
        : h("p", { id: "no-warnings" }, t("noWarnings"))),
    data.kpiStatuses.nodes.length ? h("section", {},
      h("h2", {}, t("kpiAttention"), " ", h("small", {}, String(data.kpiStatuses.totalCount))),
      h("div", { class: "scroll" }, h("table", { id: "kpi-attention" },
        h("thead", {}, h("tr", {}, [t("kpis"), t("unit"), t("period"), t("value"), t("targetShare")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.kpiStatuses.nodes.map((k) => h("tr", {},
          h("th", { scope: "row" }, h("a", { href: `#/kpi/${encodeURIComponent(k.kpi.id)}?unit=${encodeURIComponent(unit.code)}` }, k.kpi.name)),
          h("td", {}, k.unit.name), h("td", {}, k.period),
          h("td", {}, number(Number(k.value)), " ", light(k.light.toLowerCase(), t(k.light.toLowerCase()))),
          h("td", {}, percent(k.targetShare)))))))) : null,
    data.reportingDiscipline ? h("section", {},
      h("h2", {}, t("discipline"), " ", h("small", {}, `${t("period")} ${data.reportingDiscipline.period}`)),
      h("p", {}, `${t("completeness")}: ${percent(data.reportingDiscipline.figures.completeness)} · ${t("timeliness")}: ${percent(data.reportingDiscipline.figures.timeliness)}`
        + ` · ${t("disciplineIndex")}: ${percent(data.reportingDiscipline.figures.disciplineIndex)}`)) : null,
    h("section", { id: "series" }),
  );
  seriesSection(unit.id);
  if (stale(mine)) return;
  // live: a warning raised or an assignment changed (a report, an acknowledgement...) under this unit redraws the board
  let pending = null;
  closeLive = subscribe([
    "subscription($u: ID) { warningRaised(unit: $u) { kind } }",
    "subscription($u: ID) { assignmentChanged(unit: $u) { action } }",
  ], { u: unit.id }, () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      await route({ quiet: true });
      live.textContent = t("updated");
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    }, 400);  // a burst of events, one redraw
  });
}

function figure(label, value, lit) {
  return h("div", { class: "figure" }, h("span", { class: "label" }, label), h("span", { class: "value" }, value), lit ? light(lit.key, lit.word) : null);
}

async function seriesSection(unitId) {
  const region = document.getElementById("series");
  try {
    const data = await gql("query($u: ID) { progressSeries(unit: $u) { period cumulativeCompletionRate } }", { u: unitId });
    const points = data.progressSeries.map((p) => ({ period: p.period, value: p.cumulativeCompletionRate }));
    if (points.length) show(region, h("h2", {}, t("completionRate")), seriesChart(points, { title: t("completionRate"), format: percent }));
  } catch {
    // the chart is an extra: the board stands without it
  }
}

// -- ranking ---------------------------------------------------------------------------------------------------------

const METRICS = ["COMPLETION_RATE", "ON_TIME_RATE", "AVERAGE_PROGRESS", "OVERDUE", "GREEN_SHARE", "DISCIPLINE_INDEX", "REPORTING_TIMELINESS"];

async function rankingView(query, mine) {
  const metric = METRICS.includes(query.get("metric")) ? query.get("metric") : "COMPLETION_RATE";
  const of = query.get("of");
  const res = query.get("res") || null;
  let parent = null;
  if (of) parent = (await gql("query($code: String!) { unit(code: $code) { id name } }", { code: of })).unit;
  else {
    const me = (await gql("{ me { unit { id name depth } } }")).me;
    if (me.unit && me.unit.depth > 0) parent = me.unit;  // below the centre: your own unit's children; at the centre, the provinces
  }
  const data = await gql(`query Rank($m: RankingMetric!, $parent: ID, $kind: String, $res: ID) {
    ranking(metric: $m, childrenOf: $parent, kind: $kind, filter: {resolution: $res}) { median entryCount entries(first: 100) { rank value unit { code name } } } }`,
  { m: metric, parent: parent?.id ?? null, kind: parent ? null : "province", res });
  if (stale(mine)) return;
  const ranking = data.ranking;
  const format = ["OVERDUE"].includes(metric) ? number : percent;
  const pick = h("select", { id: "metric", "aria-label": t("metric"), onchange: (e) => {
    const next = new URLSearchParams(query);
    next.set("metric", e.target.value);
    location.hash = `#/ranking?${next}`;
  } }, METRICS.map((m) => h("option", { value: m, selected: m === metric }, t(m))));
  show(main,
    h("h1", {}, t("ranking"), " · ", parent ? `${t("childrenOf")} ${parent.name}` : t("provinces")),
    h("div", { class: "tools" }, pick),
    !ranking || !ranking.entries.length ? h("p", {}, t("noData")) : [
      rankingChart(ranking.entries.map((e) => ({ label: e.unit.name, value: e.value, rank: e.rank })), { median: ranking.median, format, title: t(metric) }),
      h("p", {}, `${t("median")}: ${ranking.median === null ? "–" : format(ranking.median)} · ${t("showing", { n: ranking.entries.length, total: ranking.entryCount })}`),
      h("table", { class: "ranking" }, h("thead", {}, h("tr", {}, [t("rank"), t("unit"), t("value")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, ranking.entries.map((e) => h("tr", {}, h("td", {}, e.rank ?? "–"),
          h("th", { scope: "row" }, h("a", { href: `#/unit/${encodeURIComponent(e.unit.code)}` }, e.unit.name)), h("td", {}, e.value === null ? "–" : format(e.value)))))),
    ],
  );
}

// -- a resolution's unit x task matrix, a KPI's history -------------------------------------------------------------

async function matrixView(query, mine) {
  const res = query.get("res");
  const after = query.get("after") || null;
  const data = await gql(`query Matrix($res: ID!, $after: String) { resolution: node(id: $res) { ... on Resolution { code title } }
    statusMatrix(resolution: $res, first: 20, after: $after) { totalTasks pageInfo { hasNextPage endCursor }
      units { code name } rows { task { code title } cells { id status progress overdue } } } }`, { res, after });
  if (stale(mine)) return;
  const m = data.statusMatrix;
  const cell = (a) => {
    if (!a) return h("td", { class: "empty" }, "");
    const key = a.overdue ? "red" : a.status === "completed" ? "green" : a.status === "cancelled" ? "none" : "yellow";
    return h("td", {}, h("a", { href: `#/assignment/${encodeURIComponent(a.id)}` }, light(key, t(a.status), `${a.progress}%`), a.overdue ? ` · ${t("overdue")}` : ""));
  };
  show(main,
    h("h1", {}, t("matrix"), " ", h("small", {}, data.resolution ? `${data.resolution.code} · ${data.resolution.title}` : "")),
    h("p", {}, t("showing", { n: m.rows.length, total: m.totalTasks })),
    h("div", { class: "scroll" }, h("table", { class: "matrix", id: "matrix" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("task")), m.units.map((u) => h("th", { scope: "col", title: u.name }, u.code)))),
      h("tbody", {}, m.rows.map((r) => h("tr", {}, h("th", { scope: "row", title: r.task.title }, r.task.code), r.cells.map(cell)))))),
    m.pageInfo.hasNextPage ? h("p", {}, h("a", { href: `#/matrix?res=${encodeURIComponent(res)}&after=${encodeURIComponent(m.pageInfo.endCursor)}` }, t("more"))) : null,
  );
}

async function kpiView(id, query, mine) {
  let unitId = null;
  if (query.get("unit")) unitId = (await gql("query($code: String!) { unit(code: $code) { id } }", { code: query.get("unit") })).unit?.id ?? null;
  const data = await gql(`query Kpi($k: ID!, $u: ID) { kpi: node(id: $k) { ... on Kpi { code name unitOfMeasure direction target
      latestByChild(unit: $u) { unit { code name } period value light } } }
    kpiSeries(kpi: $k, unit: $u, last: 24) { period average ownValue green yellow red } }`, { k: id, u: unitId });
  if (stale(mine)) return;
  const k = data.kpi;
  if (!k) return show(main, h("p", { class: "error", role: "alert" }, "–"));
  const values = data.kpiSeries.map((p) => Number(p.average ?? p.ownValue ?? 0));
  const top = Math.max(...values, Number(k.target) || 0, 1e-9);
  show(main,
    h("h1", {}, k.name, " ", h("small", {}, `${k.code} · ${k.unitOfMeasure || ""}`)),
    data.kpiSeries.length ? seriesChart(data.kpiSeries.map((p, i) => ({ period: p.period, value: values[i] / top })),
      { title: k.name, format: (v) => number(v * top) }) : h("p", {}, t("noData")),
    h("h2", {}, t("children")),
    h("div", { class: "scroll" }, h("table", { id: "kpi-children" },
      h("thead", {}, h("tr", {}, [t("unit"), t("period"), t("value")].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, k.latestByChild.map((m) => h("tr", {}, h("th", { scope: "row" }, m.unit.name), h("td", {}, m.period),
        h("td", {}, number(Number(m.value)), " ", m.light ? light(m.light.toLowerCase(), t(m.light.toLowerCase())) : "")))))),
  );
}

// -- notifications (the reminders worker's) ----------------------------------------------------------------------------

async function notificationsView(mine) {
  const data = await gql("{ notifications(first: 50) { totalCount nodes { id kind step message createdAt readAt assignment { id } } } unread: notifications(unread: true, first: 0) { totalCount } }");
  if (stale(mine)) return;
  const read = (id) => async () => {
    const done = await gql("mutation($id: ID!) { notificationRead(id: $id) { notification { readAt } errors { code } } }", { id });
    if (done.notificationRead.errors.length) live.textContent = done.notificationRead.errors[0].code;
    route({ quiet: true });
  };
  show(main,
    h("h1", {}, t("notifications"), " ", h("small", { id: "unread-count" }, t("unreadCount", { n: data.unread.totalCount }))),
    data.notifications.nodes.length ? h("ul", { class: "work", id: "notifications" }, data.notifications.nodes.map((n) => h("li", { class: n.readAt ? "read" : "unread" },
      light(n.kind === "overdue" ? (n.step >= 3 ? "red" : "yellow") : n.kind === "data_returned" ? "yellow" : "none", n.kind === "overdue" ? `${t("overdue")} · ${t("step")} ${n.step}` : t(n.kind)), " ",
      n.assignment ? h("a", { href: `#/assignment/${encodeURIComponent(n.assignment.id)}` }, n.message) : n.message, " ",
      h("small", {}, n.createdAt.slice(0, 10)), " ",
      n.readAt ? null : h("button", { type: "button", class: "mark-read", onclick: read(n.id) }, t("markRead")))))
      : h("p", {}, t("noData")),
  );
}

// -- an officer's work and an assignment -------------------------------------------------------------------------------

async function workView(mine) {
  const data = await gql(`{ assignments(first: 50, orderBy: DUE_ON, filter: {toMyUnit: true, status: ["not_started", "in_progress"]}) {
    totalCount nodes { id code dueOn status overdue progress task { code title } latestReport { reportedOn } } } }`);
  if (stale(mine)) return;
  const list = data.assignments;
  show(main,
    h("h1", {}, t("myWork"), " ", h("small", {}, t("showing", { n: list.nodes.length, total: list.totalCount }))),
    list.nodes.length ? h("ul", { class: "work" }, list.nodes.map((a) => h("li", {},
      h("a", { href: `#/assignment/${encodeURIComponent(a.id)}` }, a.task?.title || a.code), " ",
      h("small", {}, `${t("dueOn")} ${a.dueOn} · ${t(a.status)} · ${a.progress}%`), a.overdue ? [" ", light("red", t("overdue"))] : null)))
      : h("p", {}, t("noData")),
  );
}

const ASSIGNMENT = `query($id: ID!) { node(id: $id) { ... on Assignment {
  id code status progress dueOn originalDueOn overdue acknowledgedAt version
  task { code title } unit { code name } latestReport { reportedOn progress status note }
  extensions { id status requestedDueOn reason } } } }`;

async function assignmentView(id, mine) {
  const a = (await gql(ASSIGNMENT, { id })).node;
  if (stale(mine)) return;
  if (!a) return show(main, h("p", { class: "error", role: "alert" }, "–"));
  const key = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);
  const ack = a.acknowledgedAt ? h("p", {}, `${t("acknowledged")}: ${a.acknowledgedAt.slice(0, 10)}`)
    : form("ack", [], t("acknowledge"), () => gql(`mutation($id: ID!, $k: String) { assignmentAcknowledge(input: {id: $id}, idempotencyKey: $k) {
        assignment { acknowledgedAt } errors { field code message detail } } }`, { id: a.id, k: key() }).then((d) => d.assignmentAcknowledge));
  const report = form("report", [
    field("progress", t("progress"), { type: "number", min: 0, max: 100, value: a.progress, required: true }),
    field("status", t("status"), { options: ["in_progress", "completed", "not_started"], value: a.status === "not_started" ? "in_progress" : a.status }),
    field("note", t("note"), { textarea: true }),
  ], t("reportProgress"), (v) => gql(`mutation($a: ID!, $p: Int!, $s: String!, $n: String, $k: String) {
      progressReportSubmit(input: {assignmentId: $a, progress: $p, status: $s, note: $n}, idempotencyKey: $k) { assignment { progress status } errors { field code message detail } } }`,
  { a: a.id, p: Number(v.progress), s: v.status, n: v.note || null, k: key() }).then((d) => d.progressReportSubmit));
  const extension = form("extension", [
    field("requestedDueOn", t("newDueOn"), { type: "date", required: true }),
    field("reason", t("reason"), { textarea: true, required: true }),
  ], t("askExtension"), (v) => gql(`mutation($a: ID!, $d: Date!, $r: String!) { extensionRequest(input: {assignmentId: $a, requestedDueOn: $d, reason: $r}) {
      extension { id status } errors { field code message detail } } }`, { a: a.id, d: v.requestedDueOn, r: v.reason }).then((d) => d.extensionRequest));
  show(main,
    h("p", {}, h("a", { href: "#/work" }, `← ${t("back")}`)),
    h("h1", {}, a.task?.title || a.code, " ", h("small", {}, a.code || "")),
    h("dl", { class: "facts" },
      h("dt", {}, t("assignee")), h("dd", {}, a.unit ? `${a.unit.name} (${a.unit.code})` : "–"),
      h("dt", {}, t("status")), h("dd", { id: "status" }, t(a.status), a.overdue ? [" ", light("red", t("overdue"))] : null),
      h("dt", {}, t("progress")), h("dd", { id: "progress" }, `${a.progress}%`),
      h("dt", {}, t("dueOn")), h("dd", {}, a.dueOn),
      h("dt", {}, t("latestReport")), h("dd", {}, a.latestReport ? `${a.latestReport.reportedOn} · ${a.latestReport.progress}% · ${a.latestReport.note || ""}` : "–")),
    ack, report, extension,
    a.extensions.length ? h("section", {}, h("h2", {}, t("extensions")), h("ul", {}, a.extensions.map((e) => h("li", {}, `${e.requestedDueOn} · ${t(e.status)} · ${e.reason}`,
      e.status === "pending" ? decide(e) : null)))) : null,
    a.status === "completed" ? form("evaluate", [
      field("rating", t("rating"), { options: ["excellent", "good", "satisfactory", "unsatisfactory"], value: "good" }),
      field("comment", t("comment"), { textarea: true }),
    ], t("evaluate"), (v) => gql(`mutation($a: ID!, $r: String!, $c: String) { assignmentEvaluate(input: {assignmentId: $a, rating: $r, comment: $c}) {
        evaluation { rating } errors { field code message detail } } }`, { a: a.id, r: v.rating, c: v.comment || null }).then((d) => d.assignmentEvaluate)) : null,
  );
}

/** The assigner's side of a pending extension: approve it, or refuse it with a reason. */
function decide(extension) {
  const run = (approve) => (v) => gql(`mutation($id: ID!, $ok: Boolean!, $r: String) { extensionDecide(input: {id: $id, approve: $ok, reason: $r}) {
      extension { status } errors { field code message detail } } }`, { id: extension.id, ok: approve, r: v.reason || null }).then((d) => d.extensionDecide);
  return h("div", { class: "decide" },
    form(`approve-${extension.id}`, [], t("approve"), run(true)),
    form(`refuse-${extension.id}`, [field("reason", t("reason"), { textarea: true })], t("refuse"), run(false)));
}

function field(name, label, options) {
  const id = `f-${name}`;
  let input;
  if (options.options) input = h("select", { id, name }, options.options.map((o) => h("option", { value: o, selected: o === options.value }, t(o))));
  else if (options.textarea) input = h("textarea", { id, name, required: options.required, rows: 3 });
  else input = h("input", { id, name, type: options.type, min: options.min, max: options.max, value: options.value, required: options.required });
  return h("div", { class: "field" }, h("label", { for: id }, label), input, h("p", { class: "field-error", id: `${id}-error`, role: "alert" }));
}

/** A form that runs one mutation; its typed errors are shown next to the field they name (or under the button). */
function form(name, fields, action, run) {
  const said = h("p", { class: "form-error", role: "alert", id: `${name}-said` });
  const el = h("form", { class: "card", id: `form-${name}`, onsubmit: async (event) => {
    event.preventDefault();
    for (const p of el.querySelectorAll(".field-error")) p.textContent = "";
    said.textContent = "";
    const values = Object.fromEntries(new FormData(el).entries());
    try {
      const payload = await run(values);
      if (payload.errors?.length) {
        for (const error of payload.errors) {
          const slot = el.querySelector(`#f-${CSS.escape(error.field || "")}-error`);
          const detail = error.detail && error.detail !== error.message ? ` — ${error.detail}` : "";
          (slot || said).textContent = `${error.message}${detail} (${error.code})`;
        }
        return;
      }
      live.textContent = t("saved");
      route();
    } catch (error) {
      said.textContent = error.message;
    }
  } }, h("h2", {}, action), fields, h("button", { type: "submit" }, action), said);
  return el;
}

window.addEventListener("hashchange", route);
route();
