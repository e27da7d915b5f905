// Every device, live. The list is read once from /api/devices (every page), then kept
// current by the hub's device events over the WebSocket API (subscribe_events). Each
// event only records which rows changed; one animation frame applies them all, so 1,000
// devices and a stream of states cost one short DOM pass per frame. (subscribe_entities
// would copy the whole entity map on every change: fine for a few, not for 1,000 at once.)
import { api } from "../api.js";
import { h, clear, field } from "../dom.js";
import { watchConnection, watchEvents } from "../live.js";
import { summary } from "./entities.js";

const EVENTS = ["device_registered", "device_updated", "device_removed", "device_state_changed", "device_presence_changed"];

async function allDevices() {
  const devices = [];
  let path = "/api/devices?limit=1000";
  for (let page = 0; path && page < 100; page += 1) {
    const { body, next } = await api("GET", path, undefined, { withHeaders: true });
    devices.push(...body);
    path = next ? `/api/devices?limit=1000&cursor=${encodeURIComponent(next)}` : null;
  }
  return devices;
}

export async function renderDevices(main) {
  const search = h("input", { type: "search", name: "search", placeholder: "name, id or type" });
  const presence = h("select", { name: "presence" },
    h("option", { value: "" }, "All"), h("option", { value: "online" }, "Online"), h("option", { value: "offline" }, "Offline"));
  const count = h("p", { class: "muted", "aria-live": "polite" }, "Loading…");
  const body = h("tbody");
  const table = h("table", { class: "devices" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"),
      h("th", { scope: "col" }, "Presence"), h("th", { scope: "col" }, "Latest state"))),
    body);
  clear(main).append(h("h1", {}, "Devices"),
    h("div", { class: "toolbar" }, field("Search", search), field("Presence", presence)), count, table);

  const rows = new Map(); // device id -> {device, cells, text}
  const dirty = new Set();
  const removed = new Set();
  let pending = []; // events that arrive while the list loads
  let frame = 0;

  function makeRow(id) {
    const link = h("a", { href: `#/device/${encodeURIComponent(id)}` });
    const type = h("td");
    const badge = h("span", { class: "badge" });
    const state = h("td", { class: "state" });
    const row = h("tr", { dataset: { device: id } }, h("td", {}, link), type, h("td", {}, badge), state);
    return { row, link, type, badge, state };
  }

  function paint(entry) {
    const d = entry.device;
    entry.cells.link.textContent = d.name || d.externalId;
    entry.cells.type.textContent = d.type || "";
    const label = d.pending ? "pending" : d.online ? "online" : "offline";
    entry.cells.badge.textContent = label;
    entry.cells.badge.className = `badge ${d.online ? "online" : "offline"}`;
    entry.cells.state.textContent = summary(d.state || {});
    entry.text = `${d.name} ${d.externalId} ${d.type}`.toLowerCase();
  }

  function visible(entry) {
    const p = presence.value;
    if (query && !entry.text.includes(query)) return false;
    if (p === "online" && !entry.device.online) return false;
    if (p === "offline" && entry.device.online) return false;
    return true;
  }

  let shown = 0;
  let query = "";

  function counted() {
    count.textContent = `${shown} of ${rows.size} devices`;
  }

  // Shows or hides one row; keeps the visible count without walking every row.
  function show(entry) {
    const hide = !visible(entry);
    if (entry.cells.row.hidden !== hide || !entry.placed) {
      if (entry.placed && !entry.cells.row.hidden) shown -= 1;
      entry.cells.row.hidden = hide;
      if (!hide) shown += 1;
      entry.placed = true;
    }
  }

  function filter() {
    query = search.value.trim().toLowerCase();
    shown = 0;
    for (const entry of rows.values()) {
      if (!entry.cells) continue;
      entry.cells.row.hidden = !visible(entry);
      entry.placed = true;
      if (!entry.cells.row.hidden) shown += 1;
    }
    counted();
  }

  function upsert(device) {
    const entry = rows.get(device.id);
    if (entry) Object.assign(entry.device, device);
    else rows.set(device.id, { device: { ...device }, cells: null, text: "" });
    removed.delete(device.id);
    dirty.add(device.id);
  }

  function handle(type, data) {
    if (type === "device_registered" || type === "device_updated") {
      upsert(data.device);
    } else if (type === "device_removed") {
      removed.add(data.deviceId);
    } else {
      const entry = rows.get(data.deviceId);
      if (!entry) return;
      if (type === "device_state_changed") entry.device.state = data.state;
      else entry.device.online = data.online;
      dirty.add(data.deviceId);
    }
    schedule();
  }

  function schedule() {
    if (!frame && pending === null) frame = requestAnimationFrame(apply);
  }

  function apply() {
    frame = 0;
    const added = [];
    for (const id of removed) {
      const entry = rows.get(id);
      if (entry && entry.cells) {
        if (!entry.cells.row.hidden) shown -= 1;
        entry.cells.row.remove();
      }
      rows.delete(id);
      dirty.delete(id);
    }
    removed.clear();
    for (const id of dirty) {
      const entry = rows.get(id);
      if (!entry) continue;
      if (!entry.cells) {
        entry.cells = makeRow(id);
        added.push(entry);
      }
      paint(entry);
      show(entry);
    }
    dirty.clear();
    if (added.length) {
      added.sort((a, b) => (a.device.name || "").localeCompare(b.device.name || ""));
      const fragment = document.createDocumentFragment();
      for (const entry of added) fragment.append(entry.cells.row);
      body.append(fragment);
    }
    counted();
  }

  // Subscribe first and keep what arrives, so no change between the read and the
  // subscription is lost; replay it over the list once the list is in.
  const subscriptions = await Promise.all(EVENTS.map((type) => watchEvents(type, (data) => {
    if (pending) pending.push([type, data]);
    else handle(type, data);
  })));
  for (const device of await allDevices()) upsert(device);
  const early = pending;
  pending = null;
  for (const [type, data] of early) handle(type, data);
  apply();
  performance.mark("devices-interactive");
  table.dataset.ready = "true";

  // After a lost connection the events in between are gone: read the list again.
  subscriptions.push(await watchConnection(async (state) => {
    if (state === "disconnected") {
      count.textContent = "The connection to the hub was lost; reconnecting…";
      count.dataset.connection = "lost";
      return;
    }
    const fresh = await allDevices().catch(() => null);
    if (!fresh) return;
    const seen = new Set();
    for (const device of fresh) {
      seen.add(device.id);
      upsert(device);
    }
    for (const id of rows.keys()) if (!seen.has(id)) removed.add(id);
    delete count.dataset.connection;
    frame = frame || requestAnimationFrame(apply);
  }));

  search.addEventListener("input", filter);
  presence.addEventListener("change", filter);
  return () => {
    if (frame) cancelAnimationFrame(frame);
    subscriptions.forEach((unsubscribe) => unsubscribe());
  };
}
