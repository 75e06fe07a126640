// The console: login, the router, and the overview and settings views. A client of the public API only.

import { api, ApiError, onUnauthorized, token } from "./api.js";
import { clusterPage } from "./cluster.js";
import { clustersView } from "./clusters.js";
import { append, clear, h, say, svg } from "./dom.js";

const main = () => document.getElementById("main");
let leave = () => {}; // stops the current view's timers and watches

function loginView(message = "") {
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true });
  const error = h("p", { id: "login-error", class: "error", role: "alert", text: message });
  const form = h(
    "form",
    { class: "login", "aria-describedby": "login-error", onsubmit: (e) => submit(e) },
    h("h1", { text: "Sign in" }),
    h("p", { text: "Paste the admin token (the service prints where it keeps it: <data-dir>/admin-token)." }),
    h("label", { for: "token", text: "Admin token" }),
    input,
    error,
    h("button", { type: "submit", text: "Sign in" }),
  );
  async function submit(event) {
    event.preventDefault();
    token.set(input.value.trim());
    try {
      await api("GET", "/v1/fleet", { signIn: true });
    } catch (exc) {
      token.clear();
      error.textContent = exc instanceof ApiError && exc.status === 401 ? "That token was refused." : String(exc.message);
      input.focus();
      return;
    }
    input.value = "";
    if (!location.hash || location.hash === "#/login") location.hash = "#/";
    route();
  }
  clear(main()).append(form);
  input.focus();
}

function logout() {
  token.clear();
  leave();
  say("Logged out.");
  loginView();
}

// --- overview ---------------------------------------------------------------------------------------
const HISTORY = 60;

function card(label, value, kind = "") {
  return h("div", { class: `card ${kind}` }, h("span", { class: "value", text: String(value) }), h("span", { class: "label", text: label }));
}

function chart(title, points, unit) {
  const width = 360;
  const height = 120;
  const max = Math.max(1, ...points.map((p) => p.v));
  const step = width / Math.max(1, HISTORY - 1);
  const path = points.map((p, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${(height - (p.v / max) * (height - 10)).toFixed(1)}`).join(" ");
  const last = points.length ? points[points.length - 1].v : 0;
  return h(
    "figure",
    { class: "chart" },
    svg(
      "svg",
      { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}: now ${last.toFixed(1)} ${unit}` },
      svg("rect", { x: 0, y: 0, width, height, class: "chart-bg" }),
      points.length > 1 ? svg("path", { d: path, class: "chart-line" }) : null,
    ),
    h("figcaption", { text: `${title}: ${last.toFixed(1)} ${unit} (max ${max.toFixed(1)})` }),
  );
}

function overview() {
  const root = h("section", { "aria-labelledby": "overview-title" }, h("h1", { id: "overview-title", text: "Fleet overview" }));
  const totals = h("div", { class: "cards" });
  const charts = h("div", { class: "charts" });
  const attention = h("div");
  root.append(totals, h("h2", { text: "Trends" }), charts, h("h2", { text: "Needs attention" }), attention);
  clear(main()).append(root);
  const lag = [];
  const rate = [];
  let previous = null;
  let stopped = false;
  async function refresh() {
    if (stopped) return;
    try {
      const fleet = await api("GET", "/v1/fleet");
      const rows = await needsAttention();
      if (stopped) return;
      lag.push({ v: fleet.refreshLag.maxSeconds });
      if (previous && fleet.time > previous.time) {
        rate.push({ v: Math.max(0, (fleet.awsCallsTotal - previous.awsCallsTotal) / (fleet.time - previous.time)) });
      }
      previous = fleet;
      while (lag.length > HISTORY) lag.shift();
      while (rate.length > HISTORY) rate.shift();
      clear(totals).append(
        card("clusters", fleet.total),
        ...Object.entries(fleet.byPhase).map(([phase, n]) => card(phase, n)),
        card("in conflict", fleet.conflict, fleet.conflict ? "warn" : ""),
        card("failing", fleet.failing, fleet.failing ? "bad" : ""),
        card("extended support", fleet.extendedSupport, fleet.extendedSupport ? "warn" : ""),
        card("past extended support", fleet.pastExtendedSupport, fleet.pastExtendedSupport ? "bad" : ""),
        card("never synced", fleet.refreshLag.neverSynced),
      );
      append(clear(charts), [
        chart("Refresh lag (oldest sync)", lag, "s"),
        chart("AWS call rate (this replica)", rate, "calls/s"),
        h("p", { class: "versions", text: `Versions: ${Object.entries(fleet.byVersion).map(([v, n]) => `${v} × ${n}`).join(", ") || "none"}` }),
      ]);
      clear(attention).append(attentionTable(rows));
    } catch (exc) {
      say(`Could not load the fleet: ${exc.message}`, "error");
    }
  }
  refresh();
  const timer = setInterval(refresh, 5000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

async function needsAttention() {
  const [failing, conflict] = await Promise.all([
    api("GET", "/v1/clusters?view=summary&failing=true&limit=20"),
    api("GET", "/v1/clusters?view=summary&conflict=true&limit=20"),
  ]);
  const rows = new Map();
  for (const row of [...failing.items, ...conflict.items]) rows.set(row.name, row);
  return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function attentionTable(rows) {
  if (!rows.length) return h("p", { text: "Nothing needs attention." });
  return h(
    "table",
    { class: "grid" },
    h("caption", { class: "visually-hidden", text: "Clusters with a conflict or a failure" }),
    h("thead", {}, h("tr", {}, ["Name", "Phase", "Problem", "Message"].map((t) => h("th", { scope: "col", text: t })))),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h(
          "tr",
          { class: r.failing ? "bad" : "warn" },
          h("td", {}, h("a", { href: `#/clusters/${encodeURIComponent(r.name)}`, text: r.name })),
          h("td", { text: r.phase }),
          h("td", { text: r.failing ? "failing" : "conflict" }),
          h("td", { text: r.message || "" }),
        ),
      ),
    ),
  );
}

// --- settings -----------------------------------------------------------------------------------------
function settingsView() {
  const input = h("input", { id: "refresh-cron", name: "refresh-cron", "aria-describedby": "cron-help cron-error" });
  const error = h("p", { id: "cron-error", class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "settings", onsubmit: (e) => save(e) },
    h("h1", { text: "Settings" }),
    h("label", { for: "refresh-cron", text: "eks-refresh-cron" }),
    input,
    h("p", { id: "cron-help", class: "help", text: "How often every cluster is refreshed from AWS: 5-field cron (*/5 * * * *), @hourly-style, or @every 30s." }),
    error,
    h("button", { type: "submit", text: "Save" }),
  );
  clear(main()).append(form);
  api("GET", "/v1/settings/eks-refresh-cron").then((s) => (input.value = s.value), (exc) => say(exc.message, "error"));
  async function save(event) {
    event.preventDefault();
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    try {
      const saved = await api("PUT", "/v1/settings/eks-refresh-cron", { body: { value: input.value } });
      say(`eks-refresh-cron set to ${saved.value}.`, "ok");
    } catch (exc) {
      error.textContent = exc.errors.length ? exc.errors.map((e) => e.message).join("; ") : exc.message;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  }
  return () => {};
}

// --- router -------------------------------------------------------------------------------------------
function route() {
  leave();
  leave = () => {};
  if (!token.get()) {
    loginView();
    return;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  for (const link of document.querySelectorAll("#nav a")) {
    const target = link.getAttribute("href").slice(1);
    link.toggleAttribute("aria-current", target === "/" ? path === "/" : path.startsWith(target));
  }
  const cluster = path.match(/^\/clusters\/(.+)$/);
  if (cluster) leave = clusterPage(main(), decodeURIComponent(cluster[1]));
  else if (path === "/clusters") leave = clustersView(main(), new URLSearchParams(query));
  else if (path === "/settings") leave = settingsView();
  else leave = overview();
}

onUnauthorized(() => {
  token.clear();
  leave();
  loginView("The token was refused; sign in again.");
});

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", () => {
    say("");
    route();
  });
  route();
});

