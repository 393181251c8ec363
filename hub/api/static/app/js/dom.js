// Building the page from data without innerHTML: every text goes in as text, never as markup.

/** h("tag.class", {attr: value, on: {click: fn}, text: "..."}, ...children) -> Element */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "text") el.textContent = value;
    else if (key === "class") el.className = [el.className, value].filter(Boolean).join(" ");
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (id) => document.getElementById(id);

/** A notice line: kind is "error", "ok" or "info". */
export function notice(kind, text, title) {
  return h(`p.notice.${kind}`, { role: kind === "error" ? "alert" : "status", text, title });
}

export function field(label, input, hint) {
  return h("label.field", {}, h("span", { text: label }), input, hint ? h("small.muted", { text: hint }) : null);
}
