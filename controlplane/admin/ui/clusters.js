// The cluster table: server-side filters and paging (limit + continue), sorting of the page shown, and
// live updates from a watch of the same selection (view=summary), resumed from its last resourceVersion.

import { api, ApiError, enc, watch } from "./api.js";
import { age, clear, h, say } from "./dom.js";

const COLUMNS = [
  ["name", "Name"],
  ["phase", "Phase"],
  ["version", "Version"],
  ["nodeGroups", "Node groups"],
  ["lastSyncTime", "Last sync"],
  ["message", "Message"],
];
const PHASES = ["", "new", "creating", "importing", "active", "updating", "deleting"];

function filterQuery(form) {
  const params = new URLSearchParams();
  const selector = form.selector.value.trim();
  if (selector) params.set("labelSelector", selector);
  if (form.phase.value) params.set("phase", form.phase.value === "new" ? "" : form.phase.value);
  if (form.prefix.value.trim()) params.set("q", form.prefix.value.trim());
  if (form.conflict.checked) params.set("conflict", "true");
  if (form.failing.checked) params.set("failing", "true");
  return params;
}

function field(id, label, input) {
  return h("div", { class: "field" }, h("label", { for: id, text: label }), input);
}

export function clustersView(root, initial) {
  const phase = initial.has("phase") ? initial.get("phase") || "new" : "";
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter clusters", onsubmit: (e) => { e.preventDefault(); apply(); } },
    field("f-selector", "Label selector", h("input", { id: "f-selector", name: "selector", placeholder: "env=prod,tier!=dev", value: initial.get("labelSelector") || "" })),
    field(
      "f-phase",
      "Phase",
      h("select", { id: "f-phase", name: "phase" }, PHASES.map((p) => h("option", { value: p, text: p || "any", selected: p === phase }))),
    ),
    field("f-prefix", "Name starts with", h("input", { id: "f-prefix", name: "prefix", value: initial.get("q") || "" })),
    h("div", { class: "checks" },
      h("label", {}, h("input", { type: "checkbox", name: "conflict", checked: initial.get("conflict") === "true" }), " in conflict"),
      h("label", {}, h("input", { type: "checkbox", name: "failing", checked: initial.get("failing") === "true" }), " failing"),
    ),
    field("f-size", "Per page", h("select", { id: "f-size", name: "size" }, [50, 100, 500].map((n) => h("option", { value: n, text: n, selected: n === 100 })))),
    h("button", { type: "submit", text: "Apply" }),
  );
  const error = h("p", { class: "error", role: "alert" });
  const table = h("table", { class: "grid clusters", "aria-live": "off" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const live = h("p", { class: "help", role: "status" });
  root.replaceChildren(h("section", { "aria-labelledby": "clusters-title" }, h("h1", { id: "clusters-title", text: "Clusters" }), form, error, live, table, pager));

  let rows = new Map();
  let sort = { key: "name", dir: 1 };
  let tokens = [""]; // continue token of each page shown so far; the last is the current page's
  let next = "";
  let query = filterQuery(form);
  let controller = null;
  let stopped = false;

  function apply() {
    query = filterQuery(form);
    history.replaceState(null, "", `#/clusters?${query}`);
    tokens = [""];
    load();
  }

  async function load() {
    stopWatch();
    error.textContent = "";
    const params = new URLSearchParams(query);
    params.set("view", "summary");
    params.set("limit", form.size.value);
    const at = tokens[tokens.length - 1];
    if (at) params.set("continue", at);
    try {
      const page = await api("GET", `/v1/clusters?${params}`);
      if (stopped) return;
      rows = new Map(page.items.map((r) => [r.name, r]));
      next = page.metadata.continue || "";
      render();
      follow(page.metadata.resourceVersion, page.items);
    } catch (exc) {
      error.textContent = exc.message;
      clear(table);
    }
  }

  // Keeps the page current: a row of this page changes or leaves; a new cluster that sorts inside the
  // page's name range (or anywhere, on the last page) joins it.
  function follow(resourceVersion, items) {
    const first = items.length && tokens.length > 1 ? items[0].name : "";
    const last = next && items.length ? items[items.length - 1].name : null;
    let rv = resourceVersion;
    const params = new URLSearchParams(query);
    params.set("view", "summary");
    params.set("watch", "true");
    controller = new AbortController();
    const mine = controller;
    const onEvent = (event) => {
      rv = event.resourceVersion;
      if (event.type === "BOOKMARK") return;
      const row = event.object;
      if (event.type === "DELETED") rows.delete(row.name);
      else if (rows.has(row.name) || ((!first || row.name >= first) && (last === null || row.name <= last))) rows.set(row.name, row);
      render();
    };
    (async () => {
      while (!stopped && controller === mine) {
        params.set("resourceVersion", rv);
        live.textContent = "Live: updates appear as they happen.";
        try {
          await watch(`/v1/clusters?${params}`, onEvent, mine.signal);
        } catch (exc) {
          if (mine.signal.aborted || stopped) return;
          if (exc instanceof ApiError && exc.status === 410) {
            load(); // fell too far behind: list again
            return;
          }
          live.textContent = `Live updates paused (${exc.message}); retrying.`;
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    })();
  }

  function stopWatch() {
    if (controller) controller.abort();
    controller = null;
  }

  function header() {
    return h("thead", {}, h("tr", {}, COLUMNS.map(([key, title]) => {
      const current = sort.key === key;
      return h("th", { scope: "col", "aria-sort": current ? (sort.dir > 0 ? "ascending" : "descending") : "none" },
        h("button", { type: "button", class: "sort", onclick: () => { sort = { key, dir: current ? -sort.dir : 1 }; render(); }, text: `${title}${current ? (sort.dir > 0 ? " ▲" : " ▼") : ""}` }));
    })));
  }

  function render() {
    const items = [...rows.values()].sort((a, b) => {
      const x = a[sort.key] ?? "";
      const y = b[sort.key] ?? "";
      return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
    });
    clear(table).append(
      h("caption", { text: `${items.length} cluster(s) on this page, sorted by ${sort.key}` }),
      header(),
      h("tbody", {}, items.length ? items.map(rowOf) : h("tr", {}, h("td", { colspan: COLUMNS.length, text: "No clusters match." }))),
    );
    clear(pager).append(
      h("button", { type: "button", class: "secondary", disabled: tokens.length < 2, onclick: () => { tokens.pop(); load(); }, text: "Previous page" }),
      h("span", { text: ` Page ${tokens.length} ` }),
      h("button", { type: "button", class: "secondary", disabled: !next, onclick: () => { tokens.push(next); load(); }, text: "Next page" }),
    );
  }

  function rowOf(r) {
    const kind = r.failing ? "bad" : r.conflict ? "warn" : "";
    return h("tr", { class: kind, dataset: { name: r.name } },
      h("td", {}, h("a", { href: `#/clusters/${enc(r.name)}`, text: r.name })),
      h("td", {}, h("span", { class: `phase phase-${r.phase}`, text: r.phase })),
      h("td", { text: r.version || "—" }),
      h("td", { text: r.nodeGroups ?? "—" }),
      h("td", { text: age(r.lastSyncTime) }),
      h("td", { class: "message", text: r.conflict && !r.message ? "conflict" : r.message || "" }),
    );
  }

  load();
  return () => {
    stopped = true;
    stopWatch();
    say("");
  };
}
