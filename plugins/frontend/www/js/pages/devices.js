// Every device, live. Entity updates only mark rows dirty; one animation frame applies
// them all, so 1,000 devices and a stream of states cost one DOM pass per frame.
import { h, clear, field } from "../dom.js";
import { watchEntities } from "../live.js";
import { deviceOf, summary } from "./entities.js";

export async function renderDevices(main) {
  const search = h("input", { type: "search", name: "search", placeholder: "name, id or type" });
  const presence = h("select", { name: "presence" },
    h("option", { value: "" }, "All"), h("option", { value: "online" }, "Online"), h("option", { value: "offline" }, "Offline"));
  const count = h("p", { class: "muted", "aria-live": "polite" }, "Connecting…");
  const body = h("tbody");
  const table = h("table", { class: "devices" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"),
      h("th", { scope: "col" }, "Presence"), h("th", { scope: "col" }, "Latest state"))),
    body);
  clear(main).append(h("h1", {}, "Devices"),
    h("div", { class: "toolbar" }, field("Search", search), field("Presence", presence)), count, table);

  const rows = new Map(); // entity_id -> {entity, device, row, cells}
  let latest = {};
  let frame = 0;
  let first = true;

  function makeRow(device) {
    const link = h("a", { href: `#/device/${encodeURIComponent(device.id)}` });
    const type = h("td");
    const badge = h("span", { class: "badge" });
    const state = h("td", { class: "state" });
    const row = h("tr", { dataset: { entity: device.entityId } }, h("td", {}, link), type, h("td", {}, badge), state);
    return { row, link, type, badge, state };
  }

  function paint(entry) {
    const d = entry.device;
    entry.cells.link.textContent = d.name;
    entry.cells.type.textContent = d.type || "";
    entry.cells.badge.textContent = d.online ? "online" : "offline";
    entry.cells.badge.className = `badge ${d.online ? "online" : "offline"}`;
    entry.cells.state.textContent = summary(d.state);
    entry.text = `${d.name} ${d.externalId} ${d.type}`.toLowerCase();
  }

  function visible(entry) {
    const q = search.value.trim().toLowerCase();
    const p = presence.value;
    if (q && !entry.text.includes(q)) return false;
    if (p === "online" && !entry.device.online) return false;
    if (p === "offline" && entry.device.online) return false;
    return true;
  }

  function filter() {
    let shown = 0;
    for (const entry of rows.values()) {
      entry.cells.row.hidden = !visible(entry);
      if (!entry.cells.row.hidden) shown += 1;
    }
    count.textContent = `${shown} of ${rows.size} devices`;
  }

  function apply() {
    frame = 0;
    const added = [];
    for (const [id, entity] of Object.entries(latest)) {
      let entry = rows.get(id);
      if (entry && entry.entity === entity) continue;
      if (!entry) {
        entry = { entity, device: null, cells: makeRow(deviceOf(entity)) };
        rows.set(id, entry);
        added.push(entry);
      }
      entry.entity = entity;
      entry.device = deviceOf(entity);
      paint(entry);
    }
    for (const [id, entry] of rows) {
      if (!(id in latest)) { entry.cells.row.remove(); rows.delete(id); }
    }
    if (added.length) {
      added.sort((a, b) => a.device.name.localeCompare(b.device.name));
      const fragment = document.createDocumentFragment();
      for (const entry of added) fragment.append(entry.cells.row);
      body.append(fragment);
    }
    filter();
    if (first) {
      first = false;
      performance.mark("devices-interactive");
      table.dataset.ready = "true";
    }
  }

  search.addEventListener("input", filter);
  presence.addEventListener("change", filter);
  const unsubscribe = await watchEntities((entities) => {
    latest = entities;
    if (!frame) frame = requestAnimationFrame(apply);
  });
  return () => {
    if (frame) cancelAnimationFrame(frame);
    unsubscribe();
  };
}
