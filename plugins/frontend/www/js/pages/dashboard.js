// The user's dashboard, saved on the hub (/api/frontend/dashboards): add, remove and
// reorder widgets; device widgets update live, IoT widgets poll.
import { api } from "../api.js";
import { h, clear, field } from "../dom.js";
import { watchEntities } from "../live.js";
import { go } from "../router.js";
import { session } from "../session.js";
import { deviceOf } from "./entities.js";
import { widgetView } from "./widgets.js";

function boardsBar(dashboards, board, status) {
  const pick = h("select", { name: "dashboard" }, ...dashboards.map((item) =>
    h("option", { value: item.id, selected: item.id === board.id }, item.name)));
  pick.addEventListener("change", () => go(`/dashboard/${pick.value}`));
  const name = h("input", { name: "new-dashboard", maxlength: 128, required: true });
  const create = h("form", {
    class: "row",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const made = await api("POST", "/api/frontend/dashboards", { name: name.value, widgets: [] });
        go(`/dashboard/${made.id}`);
      } catch (error) {
        status.textContent = error.message;
      }
    },
  }, field("New dashboard", name), h("button", { type: "submit", class: "secondary" }, "Create"));
  const remove = h("button", {
    type: "button",
    class: "danger",
    onclick: async () => {
      if (!confirm(`Delete the dashboard ${board.name}?`)) return;
      try {
        await api("DELETE", `/api/frontend/dashboards/${encodeURIComponent(board.id)}`);
        go("/dashboard");
      } catch (error) {
        status.textContent = error.message;
      }
    },
  }, "Delete this dashboard");
  return h("div", { class: "toolbar" }, field("Dashboard", pick), create, dashboards.length > 1 ? remove : null);
}

export async function renderDashboard(main, wanted) {
  let dashboards = await api("GET", "/api/frontend/dashboards");
  if (dashboards.length === 0) {
    dashboards = [await api("POST", "/api/frontend/dashboards", { name: "Main", widgets: [] })];
  }
  const board = dashboards.find((item) => item.id === wanted) || dashboards[0];
  const grid = h("div", { class: "grid", "aria-live": "polite" });
  const status = h("p", { role: "status", class: "muted" });
  let views = [];
  let byDevice = new Map();
  const devices = new Map();

  const deviceSelect = h("select", { name: "device" });
  const attribute = h("input", { name: "attribute", list: "attributes", placeholder: "temperature" });
  const attributes = h("datalist", { id: "attributes" });
  const code = h("input", { name: "code", placeholder: "point code" });
  const interval = h("input", { name: "interval", type: "number", min: 2, max: 3600, value: 10 });
  const type = h("select", { name: "type" }, ...["value", "gauge", "chart"].map((t) => h("option", { value: t }, t)),
    ...session.panels.filter((panel) => panel.kind === "widget").map((panel) => h("option", { value: panel.name }, panel.title)));
  const dataType = h("select", { name: "dataType" }, h("option", { value: "device" }, "device attribute (live)"), h("option", { value: "iot" }, "IoT point (polled)"));
  const title = h("input", { name: "title", maxlength: 128 });
  const min = h("input", { name: "min", type: "number", value: 0 });
  const max = h("input", { name: "max", type: "number", value: 100 });
  const deviceFields = h("div", { class: "row" }, field("Device", deviceSelect), field("Attribute", attribute), attributes);
  const iotFields = h("div", { class: "row", hidden: true }, field("Point code", code), field("Poll every (s)", interval));
  dataType.addEventListener("change", () => {
    deviceFields.hidden = dataType.value !== "device";
    iotFields.hidden = dataType.value !== "iot";
  });
  deviceSelect.addEventListener("change", () => {
    const d = devices.get(deviceSelect.value);
    attributes.replaceChildren(...Object.keys((d && d.state) || {}).map((k) => h("option", { value: k })));
  });

  async function save() {
    const saved = await api("PUT", `/api/frontend/dashboards/${encodeURIComponent(board.id)}`, { name: board.name, widgets: board.widgets });
    board.widgets = saved.widgets;
    status.textContent = "Saved.";
    draw();
  }

  function draw() {
    views.forEach((view) => view.stop());
    views = board.widgets.map((widget, index) => widgetView(widget, {
      onRemove: () => { board.widgets.splice(index, 1); save().catch((e) => { status.textContent = e.message; }); },
      onMoveUp: index > 0 ? () => {
        const [moved] = board.widgets.splice(index, 1);
        board.widgets.splice(index - 1, 0, moved);
        save().catch((e) => { status.textContent = e.message; });
      } : null,
    }));
    grid.replaceChildren(...views.map((view) => view.card));
    if (board.widgets.length === 0) grid.append(h("p", { class: "muted" }, "No widgets yet: add one below."));
    views.forEach((view) => view.update(byDevice));
  }

  const form = h("form", {
    class: "stack",
    onsubmit: async (event) => {
      event.preventDefault();
      const widget = {
        id: crypto.randomUUID(), type: type.value, dataType: dataType.value, title: title.value,
        min: Number(min.value), max: Number(max.value),
      };
      if (dataType.value === "device") Object.assign(widget, { deviceId: deviceSelect.value, attribute: attribute.value });
      else Object.assign(widget, { code: code.value, interval: Number(interval.value) });
      board.widgets.push(widget);
      try {
        await save();
      } catch (error) {
        board.widgets.pop();
        status.textContent = error.message;
      }
    },
  }, h("div", { class: "row" }, field("Widget", type), field("Data", dataType), field("Title", title)),
  deviceFields, iotFields, h("div", { class: "row" }, field("Min", min), field("Max", max)),
  h("button", { type: "submit" }, "Add widget"));

  clear(main).append(h("h1", {}, board.name), boardsBar(dashboards, board, status), grid, status,
    h("section", { class: "card" }, h("h2", {}, "Add a widget"), form));
  draw();

  let frame = 0;
  const unsubscribe = await watchEntities((entities) => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      byDevice = new Map();
      const options = [];
      for (const entity of Object.values(entities)) {
        const d = deviceOf(entity);
        byDevice.set(d.id, d.state);
        if (!devices.has(d.id)) options.push(d);
        devices.set(d.id, d);
      }
      if (options.length) {
        deviceSelect.append(...options.map((d) => h("option", { value: d.id }, d.name)));
        deviceSelect.dispatchEvent(new Event("change"));
      }
      views.forEach((view) => view.update(byDevice));
    });
  });
  return () => {
    views.forEach((view) => view.stop());
    if (frame) cancelAnimationFrame(frame);
    unsubscribe();
  };
}
