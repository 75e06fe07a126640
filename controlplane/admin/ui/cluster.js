// One cluster: its spec beside upstream and applied (managed, unmanaged, drifting and conflicting fields
// marked), conditions, node groups, an events timeline, and the actions: sync now, edit, delete.

import { api, ApiError, enc, watch } from "./api.js";
import { age, append, clear, h, say } from "./dom.js";
import { compareSpecs, show } from "./spec.js";
import { locate, toYaml } from "./yaml.js";

const LEGEND = {
  managed: "managed: pushed to AWS",
  unmanaged: "unmanaged: left as AWS has it",
  drift: "differs from AWS (being applied, or drift)",
  conflict: "conflict: changed both here and in AWS; this side was kept",
};

function specTable(cluster) {
  const status = cluster.status || {};
  const rows = compareSpecs(
    cluster.spec.eksConfig,
    (status.eksStatus || {}).upstreamSpec,
    status.appliedSpec,
    status.syncConflicts || [],
  );
  return h(
    "table",
    { class: "grid spec" },
    h("caption", {}, "Spec, upstream and applied, side by side. ", h("span", { class: "legend" }, Object.entries(LEGEND).map(([k, t]) => h("span", { class: `tag ${k}`, text: t })))),
    h("thead", {}, h("tr", {}, ["Field", "Desired (spec)", "Upstream (AWS)", "Applied", "State"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, rows.map((r) => h("tr", { class: `state-${r.state}`, dataset: { path: r.path } },
      h("th", { scope: "row", text: r.path }),
      h("td", { text: show(r.desired) }),
      h("td", { text: show(r.upstream) }),
      h("td", { text: show(r.applied) }),
      h("td", {}, h("span", { class: `tag ${r.state}`, text: r.state })),
    ))),
  );
}

function conditionsTable(cluster) {
  const conditions = (cluster.status || {}).conditions || [];
  if (!conditions.length) return h("p", { text: "No conditions yet." });
  return h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, ["Type", "Status", "Updated", "Message"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, conditions.map((c) => h("tr", { class: c.type === "Conflict" && c.status === "True" ? "warn" : "" },
      h("th", { scope: "row", text: c.type }),
      h("td", { text: c.status || "Unknown" }),
      h("td", { text: age(c.lastUpdateTime) }),
      h("td", { text: c.message || "" }),
    ))));
}

function nodeGroupsTable(cluster) {
  const desired = cluster.spec.eksConfig.nodeGroups;
  const upstream = (((cluster.status || {}).eksStatus || {}).upstreamSpec || {}).nodeGroups || [];
  const byName = new Map(upstream.map((g) => [g.nodegroupName, g]));
  const groups = desired ?? upstream;
  if (!groups.length) return h("p", { text: desired ? "No node groups (managed, empty)." : "No node groups known yet." });
  return h("table", { class: "grid nodegroups" },
    h("thead", {}, h("tr", {}, ["Name", "Desired size", "In AWS", "Min", "Max", "Instance type", "Version"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, groups.map((g) => {
      const up = byName.get(g.nodegroupName) || {};
      return h("tr", { dataset: { nodegroup: g.nodegroupName } },
        h("th", { scope: "row", text: g.nodegroupName }),
        h("td", { class: "desired", text: show(g.desiredSize) }),
        h("td", { class: "upstream", text: show(up.desiredSize) }),
        h("td", { text: show(g.minSize) }),
        h("td", { text: show(g.maxSize) }),
        h("td", { text: show(g.instanceType) }),
        h("td", { text: show(g.version) }),
      );
    })));
}

function timeline(events) {
  if (!events.length) return h("p", { text: "No events." });
  return h("ol", { class: "timeline", reversed: true }, [...events].reverse().map((e) =>
    h("li", { class: e.type === "Warning" ? "warn" : "" },
      h("time", { datetime: e.time, text: `${age(e.time)}` }), " ",
      h("strong", { text: e.reason }), " ",
      h("span", { text: e.message }))));
}

function editable(cluster) {
  const m = cluster.metadata;
  const metadata = { name: m.name, resourceVersion: m.resourceVersion };
  if (m.labels && Object.keys(m.labels).length) metadata.labels = m.labels;
  if (m.annotations && Object.keys(m.annotations).length) metadata.annotations = m.annotations;
  return { apiVersion: cluster.apiVersion, kind: cluster.kind, metadata, spec: cluster.spec };
}

export function clusterPage(root, name) {
  const path = `/v1/clusters/${enc(name)}`;
  const title = h("h1", { id: "cluster-title", text: name });
  const summary = h("p", { class: "summary" });
  const sections = { spec: h("div"), conditions: h("div"), nodegroups: h("div"), events: h("div") };
  const editor = h("div", { class: "editor", hidden: true });
  const dialog = h("dialog", { "aria-labelledby": "delete-title" });
  const actions = h("div", { class: "actions" },
    h("button", { type: "button", onclick: () => syncNow(), text: "Sync now" }),
    h("button", { type: "button", onclick: () => openEditor(), text: "Edit" }),
    h("button", { type: "button", class: "danger", onclick: () => confirmDelete(), text: "Delete" }),
  );
  root.replaceChildren(h("section", { "aria-labelledby": "cluster-title" },
    h("p", {}, h("a", { href: "#/clusters", text: "← All clusters" })),
    title, summary, actions, editor,
    h("h2", { text: "Spec" }), sections.spec,
    h("h2", { text: "Conditions" }), sections.conditions,
    h("h2", { text: "Node groups" }), sections.nodegroups,
    h("h2", { text: "Events" }), sections.events,
    dialog,
  ));
  let current = null;
  let stopped = false;
  const controller = new AbortController();

  function render(cluster) {
    current = cluster;
    const s = cluster.status || {};
    const phase = cluster.metadata.deletionTimestamp ? "deleting" : s.phase || "new";
    append(clear(summary), [
      h("span", { class: `phase phase-${phase}`, text: phase }),
      ` · Kubernetes ${cluster.spec.eksConfig.kubernetesVersion || ((s.eksStatus || {}).upstreamSpec || {}).kubernetesVersion || "unknown"}`,
      ` · sync policy ${cluster.spec.syncPolicy || "three-way"} · last sync ${age(s.lastSyncTime)}`,
      s.failureMessage ? h("span", { class: "error", text: ` · ${s.failureMessage}` }) : null,
    ]);
    clear(sections.spec).append(specTable(cluster));
    clear(sections.conditions).append(conditionsTable(cluster));
    clear(sections.nodegroups).append(nodeGroupsTable(cluster));
  }

  async function refreshEvents() {
    try {
      const events = await api("GET", `${path}/events?limit=50`);
      if (!stopped) clear(sections.events).append(timeline(events.items));
    } catch {
      /* the cluster may be gone; the watch says so */
    }
  }

  async function start() {
    try {
      const list = await api("GET", `/v1/clusters?q=${enc(name)}&limit=50`);
      const found = list.items.find((c) => c.metadata.name === name);
      if (!found) {
        clear(summary).append(h("span", { class: "error", text: "This cluster does not exist (any more)." }));
        actions.hidden = true;
        return;
      }
      render(found);
      refreshEvents();
      let rv = list.metadata.resourceVersion;
      while (!stopped) {
        try {
          await watch(`/v1/clusters?watch=true&q=${enc(name)}&resourceVersion=${rv}`, (event) => {
            rv = event.resourceVersion;
            if (event.type === "BOOKMARK" || event.object.metadata.name !== name) return;
            if (event.type === "DELETED") {
              say(`Cluster ${name} was deleted.`, "ok");
              clear(summary).append(h("span", { class: "phase phase-deleted", text: "deleted" }));
              actions.hidden = true;
              return;
            }
            render(event.object);
            refreshEvents();
          }, controller.signal);
        } catch (exc) {
          if (stopped) return;
          if (exc instanceof ApiError && exc.status === 410) return start();
          await new Promise((r) => setTimeout(r, 2000));
        }
      }
    } catch (exc) {
      if (!stopped) say(exc.message, "error");
    }
  }

  async function syncNow() {
    try {
      await api("POST", `${path}/sync`);
      say(`Sync of ${name} queued.`, "ok");
    } catch (exc) {
      say(exc.message, "error");
    }
  }

  function openEditor() {
    if (!current) return;
    const text = h("textarea", { id: "yaml", name: "yaml", rows: 24, spellcheck: false, "aria-describedby": "yaml-help yaml-errors" });
    text.value = toYaml(editable(current));
    const errors = h("ul", { id: "yaml-errors", class: "errors", "aria-live": "assertive" });
    const form = h("form", { onsubmit: (e) => save(e) },
      h("label", { for: "yaml", text: "Cluster manifest (YAML)" }),
      h("p", { id: "yaml-help", class: "help", text: "The server validates the whole manifest; each problem is listed with its field, and selecting it moves to that line. metadata.resourceVersion makes the save fail rather than overwrite a change made meanwhile." }),
      text, errors,
      h("div", { class: "actions" },
        h("button", { type: "submit", text: "Save" }),
        h("button", { type: "button", class: "secondary", onclick: () => close(), text: "Cancel" })),
    );
    clear(editor).append(form);
    editor.hidden = false;
    text.focus();
    function close() {
      editor.hidden = true;
      clear(editor);
    }
    async function save(event) {
      event.preventDefault();
      clear(errors);
      text.removeAttribute("aria-invalid");
      try {
        const saved = await api("PUT", path, { body: text.value, type: "application/yaml" });
        render(saved);
        close();
        say(`Saved ${name}.`, "ok");
      } catch (exc) {
        text.setAttribute("aria-invalid", "true");
        const problems = exc.errors && exc.errors.length ? exc.errors : [{ path: "", rule: "", message: exc.message }];
        for (const problem of problems) {
          const line = problem.path ? locate(text.value, problem.path) : -1;
          const where = line >= 0 ? `line ${line + 1}: ` : "";
          errors.append(h("li", {}, h("button", {
            type: "button",
            class: "link",
            onclick: () => goto(line),
            text: `${where}${problem.path ? `${problem.path}: ` : ""}${problem.message}`,
          })));
        }
        goto(locate(text.value, problems[0].path || ""));
      }
    }
    function goto(line) {
      if (line < 0) return;
      const rows = text.value.split("\n");
      const start = rows.slice(0, line).reduce((n, r) => n + r.length + 1, 0);
      text.focus();
      text.setSelectionRange(start, start + rows[line].length);
      text.scrollTop = Math.max(0, (line - 3) * 18);
    }
  }

  function confirmDelete() {
    const input = h("input", { id: "confirm-name", autocomplete: "off" });
    const button = h("button", { type: "submit", class: "danger", disabled: true, text: "Delete cluster" });
    input.addEventListener("input", () => (button.disabled = input.value !== name));
    clear(dialog).append(h("form", { method: "dialog", onsubmit: (e) => remove(e) },
      h("h2", { id: "delete-title", text: `Delete ${name}?` }),
      h("p", { text: "This deletes the EKS cluster, its node groups and the resources the control plane created for it in AWS." }),
      h("label", { for: "confirm-name", text: `Type ${name} to confirm` }),
      input,
      h("div", { class: "actions" }, button, h("button", { type: "button", class: "secondary", onclick: () => dialog.close(), text: "Cancel" })),
    ));
    dialog.showModal();
    input.focus();
    async function remove(event) {
      event.preventDefault();
      try {
        await api("DELETE", path);
        dialog.close();
        say(`Deletion of ${name} requested.`, "ok");
      } catch (exc) {
        say(exc.message, "error");
        dialog.close();
      }
    }
  }

  start();
  return () => {
    stopped = true;
    controller.abort();
    if (dialog.open) dialog.close();
  };
}
