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
// The most a request may ask the events route for (its `limit` stops at 1000).
const MAX_LIMIT = 1000;
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

// Past events, newest first, from where a walk that starts at `before` (a keyset cursor,
// a time, or null for the newest) has passed `skip` rows: up to `want` of them, and
// {items, nextBefore} with nextBefore right below the last one (null: none older).
// Each item gets its `place`, {before, skip}: the walk that reaches it again, so the page
// can go on below it even once what came after it is gone (null for the newest page,
// whose start moves as events come). The rows to pass over are read on their own, so
// the items' places start from the cursor right below them and their skips stay under
// `want`. A start with `live` (see livePlace) counts that live event as its first row,
// and does not when the hub's first row is not that event.
async function eventsBelow(deviceId, start, want) {
  let { before, skip } = start;
  const items = [];
  for (let first = true; ; first = false) {
    const limit = Math.min(MAX_LIMIT, skip > 0 ? skip : want - items.length);
    const query = new URLSearchParams({ limit: String(limit) });
    if (before !== null) query.set("before", before);
    const page = await api("GET", `/api/devices/${encodeURIComponent(deviceId)}/events?${query}`);
    if (first && start.live && !sameEvent(page.items[0], start.live)) skip -= 1;
    page.items.forEach((item, index) => {
      if (index < skip) return;
      item.place = before === null ? null : { before, skip: index };
      items.push(item);
    });
    skip = Math.max(0, skip - page.items.length);
    const nextBefore = page.nextBefore ?? null;
    if (nextBefore === null || items.length >= want) return { items, nextBefore };
    before = nextBefore;
  }
}

// A live event's place: a walk from its time_fired (a time: what was recorded before it)
// starts with it, as the hub records an event's time just before it fires it, and what
// it records later is stamped later; recordedAt stops at the microsecond, though, so the
// walk may start right below it instead (eventsBelow looks).
function livePlace(live) {
  return { before: live.recordedAt, skip: 0, live };
}

// Whether `read` (from the hub) is the live event `live`: same type, seq and data, and
// recorded at most SAME_EVENT_MS before it was fired.
function sameEvent(read, live) {
  if (!read) return false;
  const gap = Date.parse(live.recordedAt) - Date.parse(read.recordedAt);
  return gap >= 0 && gap <= SAME_EVENT_MS && read.type === live.type
    && (read.seq ?? null) === (live.seq ?? null)
    && JSON.stringify(read.data ?? null) === JSON.stringify(live.data ?? null);
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
  for (let index = unmatched.length - 1; index >= 0; index -= 1) {
    const item = unmatched[index];
    // Live events come in time order: a past event this much older can match no later one.
    if (firedAt - Date.parse(item.recordedAt) > SAME_EVENT_MS) {
      unmatched.splice(index, 1);
      continue;
    }
    if (sameEvent(item, live)) {
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
  // Paging back. The list is one unbroken run of the device's events from the newest
  // down. Its cap is MAX_EVENTS plus every event "Older events" added: a click raises the
  // cap by what it brought in, so it never pushes out what was there nor is undone by the
  // next live event; only live events beyond the cap trim the bottom, so a page left open
  // on a chatty device stays bounded. A trim keeps nothing: "Older events" goes on right
  // below whatever entry is at the bottom then, however many were trimmed. While nothing
  // was trimmed since the last read, that is the hub's `nextBefore` (null: no older
  // ones); after a trim it is found from the nearest entry at or above the bottom whose
  // place (see eventsBelow) is known, skipping the entries between that the list still
  // shows: a few rows more to read, and no event lost or shown twice.
  let nextBefore = null;
  let trimmedSinceRead = false;
  let cap = MAX_EVENTS;
  // What live events trim while a read is under way: shown again on top of its page,
  // which starts below the entry that was the bottom when the read began.
  let trimmedWhileReading = null;
  const entries = new WeakMap();
  const line = (item) => {
    const li = eventLine(item);
    entries.set(li, item);
    return li;
  };
  const showOlderButton = () => {
    older.hidden = nextBefore === null && !trimmedSinceRead;
  };
  const showLive = (live) => {
    if (alreadyShown(unmatched, live)) return;
    live.place = livePlace(live);
    events.prepend(line(live));
    while (events.children.length > cap) {
      const item = entries.get(events.lastChild);
      events.lastChild.remove();
      trimmedSinceRead = true;
      if (item && trimmedWhileReading) trimmedWhileReading.unshift(item);
    }
    showOlderButton();
  };
  // Where the events below the list's bottom entry start: the nearest entry at or above
  // it with a known place, and how many rows past that place the bottom entry is.
  const belowBottom = () => {
    if (!trimmedSinceRead) return { before: nextBefore, skip: 0 };
    let rows = 1;
    for (let li = events.lastElementChild; li; li = li.previousElementSibling, rows += 1) {
      const place = entries.get(li)?.place;
      if (place) return { ...place, skip: place.skip + rows };
    }
    // Not met: a trim happens only when a live event (which has a place) is on top.
    throw new Error("the list lost its place; reload the page");
  };
  // aria-disabled rather than disabled while a page is read: a disabled button loses the
  // keyboard's focus, and the user would have to find their place again.
  let reading = false;
  older.addEventListener("click", async () => {
    if (reading) return;
    reading = true;
    older.setAttribute("aria-disabled", "true");
    olderStatus.textContent = "Reading older events…";
    trimmedWhileReading = [];
    try {
      const page = await eventsBelow(device.id, belowBottom(), MAX_EVENTS);
      const added = trimmedWhileReading.concat(page.items);
      nextBefore = page.nextBefore;
      trimmedSinceRead = false;
      events.append(...added.map(line));
      cap += added.length;
      showOlderButton();
      const count = `${added.length} older ${added.length === 1 ? "event" : "events"} added`;
      olderStatus.textContent = older.hidden ? `${count}; there are no older ones.` : `${count}.`;
      // The button the keyboard was on may be gone: keep focus on the card.
      if (older.hidden) olderStatus.focus();
    } catch (error) {
      olderStatus.textContent = `Older events could not be read: ${error.message}`;
    } finally {
      trimmedWhileReading = null;
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
    const page = await eventsBelow(device.id, { before: null, skip: 0 }, MAX_EVENTS);
    unmatched = page.items.slice();
    events.append(...page.items.map(line));
    nextBefore = page.nextBefore;
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
