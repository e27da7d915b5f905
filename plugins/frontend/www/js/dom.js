// Builds DOM nodes from data without ever parsing HTML: text goes in as text nodes, so a
// device name like "<img onerror=...>" is shown, not run (docs/portal.md, Security).
const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  return fill(el, props, children);
}

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children.flat()) if (child != null) el.append(child);
  return el;
}

function fill(el, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

let nextId = 0;

// A control with its label joined by for/id (not wrapped), so the control's accessible
// name is the label alone, not the label plus a select's current option.
export function field(label, input) {
  if (!input.id) input.id = `f${(nextId += 1)}`;
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input);
}

export function formatValue(value) {
  if (value == null) return "—";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
