// Dashboard widgets: value, gauge and chart, fed by a device attribute (live, from the
// entities) or an IoT point code (polled from /api/iot/codes/values every `interval` s).
import { api } from "../api.js";
import { h, s, formatValue } from "../dom.js";
import { drawChart } from "./chart.js";
import { panelContext } from "../panel-context.js";
import { session } from "../session.js";

const BUILTIN = new Set(["value", "gauge", "chart"]);

// A widget type an integration adds (hub_frontend_panels, kind "widget"): its module's
// render(container, context) gets the widget's settings and onValue(callback).
function customWidget(body, widget) {
  const listeners = new Set();
  let last;
  const panel = session.panels.find((item) => item.name === widget.type && item.kind === "widget");
  if (!panel) {
    body.replaceChildren(h("p", { class: "muted" }, `Widget type ${widget.type} is not available.`));
  } else {
    import(panel.url).then((module) => module.render(body, {
      ...panelContext(),
      widget,
      onValue(callback) {
        listeners.add(callback);
        if (last !== undefined) callback(last);
      },
    })).catch((error) => body.replaceChildren(h("p", { class: "error" }, `This widget failed: ${error.message}`)));
  }
  return (value) => {
    last = value;
    for (const callback of listeners) callback(value);
  };
}

// The gateway's answer is passed through unchanged; take the first value found for the code.
export function pickValue(body, code) {
  if (body == null) return undefined;
  if (Array.isArray(body)) {
    for (const item of body) {
      if (item && (item.code === code || item.key === code)) return item.value ?? item.val;
      const found = pickValue(item, code);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof body === "object") {
    if (code in body && typeof body[code] !== "object") return body[code];
    if (body[code] && typeof body[code] === "object") return body[code].value;
    for (const key of ["data", "items", "values", "result"]) {
      if (key in body) {
        const found = pickValue(body[key], code);
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

function gauge(value, min, max) {
  const ratio = Math.max(0, Math.min(1, (Number(value) - min) / (max - min) || 0));
  const angle = Math.PI * (1 - ratio);
  const [cx, cy, r] = [100, 100, 80];
  const end = [cx + r * Math.cos(angle), cy - r * Math.sin(angle)];
  return s("svg", { class: "gauge", viewBox: "0 0 200 120", role: "img", "aria-label": `${value} between ${min} and ${max}` },
    s("path", { d: `M20 100 A80 80 0 0 1 180 100`, fill: "none", stroke: "#e3e6e8", "stroke-width": 16 }),
    s("path", { d: `M20 100 A80 80 0 0 ${ratio > 0.5 ? 1 : 0} 1 ${end[0].toFixed(1)} ${end[1].toFixed(1)}`, fill: "none", stroke: "#0a66c2", "stroke-width": 16 }),
    s("text", { x: 100, y: 95, "text-anchor": "middle", "font-size": 22 }, formatValue(value)));
}

export function widgetView(widget, { onRemove, onMoveUp } = {}) {
  const body = h("div", { class: "widget-body" });
  const points = [];
  const card = h("article", { class: "card widget", dataset: { widget: widget.id, type: widget.type } },
    h("h2", {}, widget.title || widget.attribute || widget.code),
    body,
    h("p", { class: "muted" }, widget.dataType === "iot" ? `IoT ${widget.code} · every ${widget.interval} s` : `device attribute ${widget.attribute}`),
    onMoveUp ? h("button", { type: "button", class: "secondary", onclick: onMoveUp }, "Move up") : null,
    onRemove ? h("button", { type: "button", class: "secondary", onclick: onRemove, "aria-label": `Remove ${widget.title || "widget"}` }, "Remove") : null);

  const custom = BUILTIN.has(widget.type) ? null : customWidget(body, widget);

  function show(value) {
    if (custom) {
      if (value !== undefined) custom(value);
      return;
    }
    body.replaceChildren();
    if (widget.type === "gauge") {
      body.append(gauge(value, widget.min, widget.max));
    } else if (widget.type === "chart") {
      if (typeof value === "number") points.push([Date.now(), value]);
      if (points.length > 300) points.shift();
      const svg = s("svg", { class: "chart" });
      drawChart(svg, { [widget.attribute || widget.code]: points }, { width: 300, height: 150 });
      body.append(svg);
    } else {
      body.append(h("div", { class: "value", dataset: { value: formatValue(value) } }, `${formatValue(value)}${widget.unit ? ` ${widget.unit}` : ""}`));
    }
  }
  show(undefined);
  if (widget.type === "chart" && widget.dataType === "device") {
    // Start the line from the device's recent history, not from an empty chart.
    api("GET", `/api/devices/${encodeURIComponent(widget.deviceId)}/history?limit=200`).then((body) => {
      const past = body.items.map((item) => [Date.parse(item.recordedAt), item.state && item.state[widget.attribute]])
        .filter(([, value]) => typeof value === "number").reverse();
      points.unshift(...past);
      if (past.length) show(undefined);
    }).catch(() => {});
  }

  let timer = null;
  if (widget.dataType === "iot") {
    const poll = async () => {
      try {
        show(pickValue(await api("POST", "/api/iot/codes/values", { codes: [widget.code] }), widget.code));
      } catch (error) {
        body.replaceChildren(h("p", { class: "error" }, `IoT: ${error.message}`));
      }
    };
    poll();
    timer = setInterval(poll, widget.interval * 1000);
  }
  return {
    card,
    update(entitiesByDevice) {
      if (widget.dataType !== "device") return;
      const state = entitiesByDevice.get(widget.deviceId);
      if (state) show(state[widget.attribute]);
    },
    stop() { clearInterval(timer); },
  };
}
