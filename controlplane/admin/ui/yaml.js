// A small YAML writer for the edit view (the server reads YAML: PUT with Content-Type application/yaml),
// and the line of a field path in a YAML text, to show a validation error at its field.

const PLAIN = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const text = String(value);
  return PLAIN.test(text) && !RESERVED.test(text) ? text : JSON.stringify(text);
}

function key(name) {
  return PLAIN.test(name) && !RESERVED.test(name) ? name : JSON.stringify(name);
}

function isEmpty(value) {
  return Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0;
}

function lines(value, indent, out) {
  const pad = " ".repeat(indent);
  if (Array.isArray(value)) {
    for (const item of value) {
      if (item !== null && typeof item === "object" && !isEmpty(item)) {
        const sub = [];
        lines(item, indent + 2, sub);
        sub[0] = `${pad}- ${sub[0].trimStart()}`;
        out.push(...sub);
      } else {
        out.push(`${pad}- ${item !== null && typeof item === "object" ? (Array.isArray(item) ? "[]" : "{}") : scalar(item)}`);
      }
    }
    return out;
  }
  for (const [name, item] of Object.entries(value)) {
    if (item !== null && typeof item === "object") {
      if (isEmpty(item)) out.push(`${pad}${key(name)}: ${Array.isArray(item) ? "[]" : "{}"}`);
      else {
        out.push(`${pad}${key(name)}:`);
        lines(item, Array.isArray(item) ? indent : indent + 2, out);
      }
    } else {
      out.push(`${pad}${key(name)}: ${scalar(item)}`);
    }
  }
  return out;
}

export function toYaml(value) {
  return `${lines(value, 0, []).join("\n")}\n`;
}

// The 0-based line where `path` (like "spec.eksConfig.nodeGroups[0].minSize", the server's error
// paths) is written in `text`, or of its nearest parent found; -1 when not even the first segment is.
export function locate(text, path) {
  const rows = text.split("\n");
  const segments = [];
  for (const part of path.split(".")) {
    const match = part.match(/^([^[\]]+)((?:\[\d+\])*)$/);
    if (!match) break;
    segments.push({ key: match[1] });
    for (const index of match[2].matchAll(/\[(\d+)\]/g)) segments.push({ index: Number(index[1]) });
  }
  let at = -1;
  let from = 0;
  let minIndent = 0;
  for (const segment of segments) {
    let hit = -1;
    for (let i = from; i < rows.length; i++) {
      const row = rows[i];
      const indent = row.search(/\S/);
      if (indent < 0) continue;
      if (i > from && indent < minIndent) break;
      const body = row.slice(indent);
      if (segment.key !== undefined) {
        const bare = body.startsWith("- ") ? body.slice(2) : body;
        if (bare.startsWith(`${segment.key}:`) || bare.startsWith(`${JSON.stringify(segment.key)}:`)) {
          hit = i;
          minIndent = indent + (body.startsWith("- ") ? 2 : 0);
          break;
        }
      } else if (body.startsWith("- ")) {
        // The segment.index-th item of the list that starts here.
        let seen = 0;
        for (let j = i; j < rows.length; j++) {
          const itemIndent = rows[j].search(/\S/);
          if (itemIndent < 0) continue;
          if (itemIndent < indent) break;
          if (itemIndent === indent && rows[j].slice(itemIndent).startsWith("- ")) {
            if (seen === segment.index) {
              hit = j;
              break;
            }
            seen += 1;
          }
        }
        minIndent = indent;
        break;
      }
    }
    if (hit < 0) return at;
    at = hit;
    from = hit + (segment.index !== undefined ? 0 : 1);
  }
  return at;
}
