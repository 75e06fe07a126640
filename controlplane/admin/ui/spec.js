// The cluster page's spec comparison: desired (spec), upstream (AWS, as last observed) and applied (what
// the control plane last pushed), field by field. Paths are written like the sync engine's
// (`nodeGroups[general].desiredSize`), so conflicts reported in status.syncConflicts line up.

function flatten(spec, out, prefix = "") {
  if (!spec) return out;
  for (const [name, value] of Object.entries(spec)) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (name === "nodeGroups" && Array.isArray(value) && !prefix) {
      out.set(path, value.length);
      for (const group of value) {
        const label = `nodeGroups[${group.nodegroupName}]`;
        for (const [field, v] of Object.entries(group)) out.set(`${label}.${field}`, v);
      }
    } else {
      out.set(path, value);
    }
  }
  return out;
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export function compareSpecs(desired, upstream, applied, conflicts = []) {
  const want = flatten(desired, new Map());
  const have = flatten(upstream, new Map());
  const base = flatten(applied, new Map());
  const paths = [...new Set([...want.keys(), ...have.keys(), ...base.keys()])].sort();
  return paths.map((path) => {
    const desiredValue = want.get(path);
    const managed = desiredValue !== undefined && desiredValue !== null;
    const conflict = conflicts.some((c) => path === c || path.startsWith(`${c}.`) || path.startsWith(`${c}[`));
    let state = managed ? "managed" : "unmanaged";
    if (managed && have.has(path) && !same(desiredValue, have.get(path))) state = "drift";
    if (conflict) state = "conflict";
    return { path, desired: desiredValue, upstream: have.get(path), applied: base.get(path), state };
  });
}

export function show(value) {
  if (value === undefined || value === null) return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}
