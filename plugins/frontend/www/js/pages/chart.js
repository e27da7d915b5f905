// A line chart of numeric series drawn as SVG (no library): one polyline per attribute.
import { s } from "../dom.js";

const COLOURS = ["#0a66c2", "#c62828", "#1a7f37", "#8e44ad", "#e67e22", "#16a085"];

// points: {name: [[timeMs, value], ...]}
export function drawChart(svg, series, { width = 600, height = 220 } = {}) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const names = Object.keys(series).filter((name) => series[name].length > 0);
  const all = names.flatMap((name) => series[name]);
  if (all.length === 0) {
    svg.append(s("text", { x: 10, y: 20 }, "No numeric history in this window"));
    svg.dataset.points = "0";
    return;
  }
  const pad = { left: 40, right: 10, top: 10, bottom: 30 };
  let [t0, t1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [v0, v1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (t1 === t0) t1 = t0 + 1;
  if (v1 === v0) { v1 += 1; v0 -= 1; }
  const x = (t) => pad.left + ((t - t0) / (t1 - t0)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - ((v - v0) / (v1 - v0)) * (height - pad.top - pad.bottom);
  svg.append(
    s("line", { class: "axis", x1: pad.left, y1: height - pad.bottom, x2: width - pad.right, y2: height - pad.bottom }),
    s("line", { class: "axis", x1: pad.left, y1: pad.top, x2: pad.left, y2: height - pad.bottom }),
    s("text", { x: 2, y: pad.top + 8 }, v1.toFixed(1)),
    s("text", { x: 2, y: height - pad.bottom }, v0.toFixed(1)),
    s("text", { x: pad.left, y: height - 10 }, new Date(t0).toLocaleTimeString()),
    s("text", { x: width - 80, y: height - 10 }, new Date(t1).toLocaleTimeString()),
  );
  names.forEach((name, index) => {
    const colour = COLOURS[index % COLOURS.length];
    const points = series[name].slice().sort((a, b) => a[0] - b[0]).map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    svg.append(s("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2, "data-series": name }));
    svg.append(s("text", { x: pad.left + 8 + index * 90, y: pad.top + 10, fill: colour }, name));
  });
  svg.dataset.points = String(all.length);
}

export function numericSeries(entries) {
  // entries: [{state: {...}, recordedAt: iso}]
  const series = {};
  for (const { state, recordedAt } of entries) {
    const t = Date.parse(recordedAt);
    for (const [key, value] of Object.entries(state || {})) {
      if (typeof value === "number" && Number.isFinite(value)) (series[key] ||= []).push([t, value]);
    }
  }
  return series;
}
