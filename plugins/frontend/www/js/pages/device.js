// One device: state, history chart, recent events, commands, rename and forget.
import { api } from "../api.js";
import { h, s, clear, field, formatValue } from "../dom.js";
import { watchEvents } from "../live.js";
import { go } from "../router.js";
import { isManager } from "../session.js";
import { drawChart, numericSeries } from "./chart.js";

const WINDOWS = [["15 minutes", 15 * 60], ["1 hour", 3600], ["6 hours", 6 * 3600], ["24 hours", 86400]];
const MAX_PAGES = 10;
// The events list starts with this many past events, newest first, and "Older events"
// reads this many more each time; live ones go on top (see showLive for the list's cap).
const MAX_EVENTS = 50;
// Entries the cap took off the bottom of the list, kept (as data, not elements) so that
// "Older events" shows them again before it reads further back; past this many the list
// stops paging (the page says to reload) rather than hold an open page's every event.
const MAX_TRIMMED = 1000;
// An event is stamped (recordedAt) and fired (time_fired) in one synchronous call on the
// hub, so the same event's two times are this close; two events that match in type, seq
// and data within it are taken for one.
const SAME_EVENT_MS = 250;

async function historySince(deviceId, seconds) {
  const since = Date.now() - seconds * 1000;
  const items = [];
  let before = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query = new URLSearchParams({ limit: "1000" });
    if (before) query.set("before", before);
    const body = await api("GET", `/api/devices/${encodeURIComponent(deviceId)}/history?${query}`);
    for (const item of body.items) {
      if (Date.parse(item.recordedAt) < since) return items;
      items.push(item);
    }
    if (!body.nextBefore) break;
    before = body.nextBefore;
  }
  return items;
}

// One page of past events, newest first: {items, nextBefore}; `before` is the previous
// page's nextBefore (a keyset cursor), null for the newest page.
function eventsPage(deviceId, before) {
  const query = new URLSearchParams({ limit: String(MAX_EVENTS) });
  if (before) query.set("before", before);
  return api("GET", `/api/devices/${encodeURIComponent(deviceId)}/events?${query}`);
}

function eventLine(item) {
  const at = new Date(Date.parse(item.recordedAt));
  const dataset = { type: item.type };
  if (item.seq != null) dataset.seq = String(item.seq);
  return h("li", { dataset }, h("time", { datetime: item.recordedAt }, at.toLocaleString()),
    ` ${item.type} ${item.data == null ? "" : JSON.stringify(item.data)}`);
}

// Past events read from the hub that a live event may still repeat: the subscription is
// made before the read, so an event can be in both. One is dropped when a live event has
// its type, seq and data and was fired within SAME_EVENT_MS after it was recorded.
export function alreadyShown(unmatched, live) {
  const firedAt = Date.parse(live.recordedAt);
  const sameData = JSON.stringify(live.data ?? null);
  for (let index = unmatched.length - 1; index >= 0; index -= 1) {
    const item = unmatched[index];
    const gap = firedAt - Date.parse(item.recordedAt);
    // Live events come in time order: a past event this much older can match no later one.
    if (gap > SAME_EVENT_MS) {
      unmatched.splice(index, 1);
      continue;
    }
    if (gap >= 0 && item.type === live.type && (item.seq ?? null) === (live.seq ?? null)
      && JSON.stringify(item.data ?? null) === sameData) {
      unmatched.splice(index, 1);
      return true;
    }
  }
  return false;
}

export async function renderDevice(main, deviceId) {
  let device;
  try {
    device = await api("GET", `/api/devices/${encodeURIComponent(deviceId)}`);
  } catch (error) {
    clear(main).append(h("h1", {}, "Device not found"), h("p", {}, error.message), h("a", { href: "#/devices" }, "Back to devices"));
    return null;
  }
  const title = h("h1", {}, device.name);
  const presence = h("span", { class: "badge" });
  const stateList = h("dl", { class: "state" });
  const windowSelect = h("select", { name: "window" }, ...WINDOWS.map(([label, secs]) => h("option", { value: String(secs) }, label)));
  const chart = s("svg", { class: "chart", "aria-label": "History of numeric attributes" });
  const events = h("ul", { class: "list events", "aria-live": "polite" });
  const older = h("button", { type: "button", class: "secondary", hidden: true }, "Older events");
  const olderStatus = h("p", { class: "muted", role: "status", tabindex: "-1" });
  const subs = [];
  let history = [];

  function showState() {
    presence.textContent = device.online ? "online" : "offline";
    presence.className = `badge ${device.online ? "online" : "offline"}`;
    clear(stateList);
    for (const [key, value] of Object.entries(device.state || {})) {
      stateList.append(h("dt", {}, key), h("dd", { dataset: { attribute: key } }, formatValue(value)));
    }
  }

  async function loadHistory() {
    history = await historySince(device.id, Number(windowSelect.value));
    drawChart(chart, numericSeries(history));
  }

  const section = h("section", { class: "card" }, h("h2", {}, "Latest state"),
    h("p", {}, presence, " ", h("span", { class: "muted" }, `${device.type} · ${device.externalId}`)), stateList);
  const chartCard = h("section", { class: "card" }, h("h2", {}, "History"),
    h("div", { class: "toolbar" }, field("Window", windowSelect)), chart);
  clear(main).append(h("p", {}, h("a", { href: "#/devices" }, "← Devices")), title, section, chartCard,
    commandCard(device), h("section", { class: "card" }, h("h2", {}, "Recent events"), events, h("p", {}, older), olderStatus));
  if (isManager()) main.append(manageCard(device, title));
  showState();
  windowSelect.addEventListener("change", () => loadHistory());
  await loadHistory();

  subs.push(await watchEvents("device_state_changed", (data) => {
    if (data.deviceId !== device.id) return;
    device.state = data.state;
    showState();
    history.unshift({ state: data.state, recordedAt: new Date().toISOString() });
    drawChart(chart, numericSeries(history));
  }));
  subs.push(await watchEvents("device_presence_changed", (data) => {
    if (data.deviceId !== device.id) return;
    device.online = data.online;
    showState();
  }));
  // Listen first, then read the past events, as the devices page does: a live event that
  // arrives during the read is held, and shown after it unless the read already had it.
  let held = [];
  let unmatched = [];
  // Paging back: `nextBefore` is where the hub's next older page starts (null: none).
  // The list's cap is MAX_EVENTS plus every event "Older events" added: a click raises
  // the cap by what it brought in, so it never pushes out what was there nor is undone
  // by the next live event; only live events beyond the cap trim the bottom, as they
  // always did, so a page left open on a chatty device stays bounded. An entry trimmed
  // off the bottom is kept in `trimmed` (newest first) and the next "Older events"
  // shows it again before reading from the hub: the list stays one unbroken run from
  // the newest event down, and the cursor still continues right below it.
  let nextBefore = null;
  let cap = MAX_EVENTS;
  const trimmed = [];
  let lostTrimmed = false;
  const entries = new WeakMap();
  const line = (item) => {
    const li = eventLine(item);
    entries.set(li, item);
    return li;
  };
  const showOlderButton = () => {
    older.hidden = nextBefore === null && trimmed.length === 0;
  };
  const showLive = (live) => {
    if (alreadyShown(unmatched, live)) return;
    events.prepend(line(live));
    while (events.children.length > cap) {
      const item = entries.get(events.lastChild);
      events.lastChild.remove();
      if (item) trimmed.unshift(item);
    }
    if (trimmed.length > MAX_TRIMMED) {
      // Too many to keep: the list can no longer continue without a gap.
      trimmed.length = MAX_TRIMMED;
      nextBefore = null;
      lostTrimmed = true;
    }
    showOlderButton();
  };
  // aria-disabled rather than disabled while a page is read: a disabled button loses the
  // keyboard's focus, and the user would have to find their place again.
  let reading = false;
  older.addEventListener("click", async () => {
    if (reading) return;
    reading = true;
    older.setAttribute("aria-disabled", "true");
    olderStatus.textContent = "Reading older events…";
    try {
      let added = trimmed.splice(0, MAX_EVENTS);
      if (added.length === 0) {
        const page = await eventsPage(device.id, nextBefore);
        if (lostTrimmed) {
          // Over a thousand live events during one read: the page no longer joins on.
          added = trimmed.splice(0, MAX_EVENTS);
        } else {
          // Entries live events trimmed during the read are newer than its page.
          added = trimmed.splice(0).concat(page.items);
          nextBefore = page.nextBefore ?? null;
        }
      }
      events.append(...added.map(line));
      cap += added.length;
      showOlderButton();
      const count = `${added.length} older ${added.length === 1 ? "event" : "events"} added`;
      if (!older.hidden) olderStatus.textContent = `${count}.`;
      else if (lostTrimmed) olderStatus.textContent = `${count}; reload the page to read further back.`;
      else olderStatus.textContent = `${count}; there are no older ones.`;
      // The button the keyboard was on may be gone: keep focus on the card.
      if (older.hidden) olderStatus.focus();
    } catch (error) {
      olderStatus.textContent = `Older events could not be read: ${error.message}`;
    } finally {
      reading = false;
      older.removeAttribute("aria-disabled");
    }
  });
  subs.push(await watchEvents("device_event", (data, event) => {
    if (data.deviceId !== device.id) return;
    const live = { type: data.type, data: data.data, seq: data.seq, recordedAt: event.time_fired };
    if (held) held.push(live);
    else showLive(live);
  }));
  try {
    const page = await eventsPage(device.id, null);
    unmatched = page.items.slice();
    events.append(...page.items.map(line));
    nextBefore = page.nextBefore ?? null;
    showOlderButton();
  } catch (error) {
    events.append(h("li", { class: "muted" }, `Past events could not be read: ${error.message}`));
  }
  for (const live of held) showLive(live);
  held = null;
  return () => subs.forEach((unsubscribe) => unsubscribe());
}

function commandCard(device) {
  const command = h("select", { name: "command" });
  const params = h("textarea", { name: "params", rows: 3 }, "{}");
  const status = h("p", { class: "command-status", "aria-live": "polite" });
  api("GET", "/api/device-types").then((types) => {
    const type = types.find((item) => item.name === device.type);
    const names = (type && type.commands && type.commands.length) ? type.commands : ["ping"];
    command.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
  }).catch(() => command.replaceChildren(h("option", { value: "ping" }, "ping")));

  let watching = null;
  const form = h("form", {
    class: "stack",
    onsubmit: async (event) => {
      event.preventDefault();
      let body;
      try {
        body = JSON.parse(params.value || "{}");
      } catch {
        status.textContent = "Params must be JSON, e.g. {\"relay\": true}";
        return;
      }
      if (watching) watching();
      status.textContent = "sending…";
      status.dataset.status = "sending";
      let commandId = null;
      const early = [];
      const show = (data) => {
        status.dataset.status = data.status;
        status.textContent = `${data.command || command.value}: ${data.status}${data.error ? ` — ${data.error}` : ""}`;
      };
      watching = await watchEvents("command_status_changed", (data) => {
        if (commandId === null) early.push(data);
        else if (data.commandId === commandId) show(data);
      });
      try {
        const sent = await api("POST", `/api/devices/${encodeURIComponent(device.id)}/commands`, { command: command.value, params: body });
        commandId = sent.commandId;
        show({ status: sent.status, command: command.value });
        const seen = early.filter((data) => data.commandId === commandId).pop();
        if (seen) show(seen);
        else show(await api("GET", `/api/commands/${encodeURIComponent(commandId)}`));
      } catch (error) {
        status.dataset.status = "failed";
        status.textContent = `Not sent: ${error.message}`;
      }
    },
  }, field("Command", command), field("Params (JSON)", params), h("button", { type: "submit" }, "Send command"), status);
  return h("section", { class: "card" }, h("h2", {}, "Send a command"), form);
}

function manageCard(device, title) {
  const name = h("input", { name: "name", value: device.name, required: true, maxlength: 128 });
  const message = h("p", { role: "status" });
  const rename = h("form", {
    class: "row",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const saved = await api("PATCH", `/api/devices/${encodeURIComponent(device.id)}`, { name: name.value });
        device.name = saved.name;
        title.textContent = saved.name;
        message.textContent = "Renamed.";
      } catch (error) {
        message.textContent = error.message;
      }
    },
  }, field("Name", name), h("button", { type: "submit" }, "Rename"));
  const forget = h("button", {
    type: "button",
    class: "danger",
    onclick: async () => {
      if (!confirm(`Forget ${device.name}? Its history and events are deleted.`)) return;
      try {
        await api("DELETE", `/api/devices/${encodeURIComponent(device.id)}`);
        go("/devices");
      } catch (error) {
        message.textContent = error.message;
      }
    },
  }, "Forget device");
  return h("section", { class: "card" }, h("h2", {}, "Manage"), rename, h("p", {}, forget), message);
}
