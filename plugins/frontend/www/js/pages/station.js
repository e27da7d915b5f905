// The station: integrations' health, MQTT and its drop counters, the user's API tokens.
// (Cloud and IoT objects are their integrations' own pages, through hub_frontend_panels.)
// Each card loads on its own, so one integration that is off only empties its card.
import { api } from "../api.js";
import { h, clear, field } from "../dom.js";

function card(title, ...children) {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

function kv(object) {
  return h("dl", {}, ...Object.entries(object || {}).flatMap(([key, value]) =>
    [h("dt", {}, key), h("dd", {}, typeof value === "object" ? JSON.stringify(value) : String(value))]));
}

async function fill(container, load) {
  try {
    container.replaceChildren(...[await load()].flat());
  } catch (error) {
    container.replaceChildren(h("p", { class: "muted" }, `Not available: ${error.message}`));
  }
}

export async function renderStation(main) {
  const health = h("div");
  const mqtt = h("div");
  const tokens = h("div");
  clear(main).append(h("h1", {}, "Station"),
    card("Integrations", health), card("MQTT", mqtt), card("API tokens", tokens));

  fill(health, async () => {
    const body = await api("GET", "/api/health");
    const details = body.details || {};
    const rows = Object.entries(body.integrations || {}).map(([name, state]) =>
      h("tr", { dataset: { integration: name } }, h("td", {}, name), h("td", {}, h("span", { class: `badge ${state === "running" ? "online" : "offline"}` }, state)),
        h("td", { class: "muted" }, (details[name] && details[name].error) || "")));
    return [h("p", {}, `Hub: ${body.status}`),
      h("table", { class: "integrations" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Integration"), h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Problem"))),
        h("tbody", {}, ...rows))];
  });
  fill(mqtt, async () => {
    const status = await api("GET", "/api/mqtt/status");
    const connection = status.connection || {};
    const dropped = status.dropped || {};
    const kinds = Object.entries(dropped.byReason || {});
    return [
      h("dl", { class: "mqtt" },
        h("dt", {}, "Broker"), h("dd", {}, `${connection.state || "?"} (${status.mode})`),
        h("dt", {}, "Messages received"), h("dd", {}, String(status.received ?? 0)),
        h("dt", {}, "Backlog"), h("dd", {}, String(status.backlog ?? 0)),
        h("dt", {}, "Commands sent"), h("dd", {}, String(status.commandsSent ?? 0)),
        h("dt", {}, "Dropped"), h("dd", { dataset: { dropped: String(dropped.total ?? 0) } }, String(dropped.total ?? 0))),
      kinds.length ? h("ul", { class: "list" }, ...kinds.map(([kind, value]) =>
        h("li", {}, `${kind}: ${value}`))) : null,
    ].filter(Boolean);
  });
  fill(tokens, () => tokenCard());
  return null;
}

async function tokenCard() {
  const list = h("ul", { class: "list" });
  const shown = h("p", { role: "status" });
  async function load() {
    const items = await api("GET", "/api/auth/tokens");
    list.replaceChildren(...(Array.isArray(items) ? items : items.items || []).map((token) =>
      h("li", {}, `${token.name} `, h("button", {
        type: "button", class: "secondary", "aria-label": `Revoke ${token.name}`,
        onclick: async () => { await api("DELETE", `/api/auth/tokens/${encodeURIComponent(token.id)}`); await load(); },
      }, "Revoke"))));
  }
  const name = h("input", { name: "token-name", required: true, maxlength: 64 });
  const form = h("form", {
    class: "row",
    onsubmit: async (event) => {
      event.preventDefault();
      const created = await api("POST", "/api/auth/tokens", { name: name.value });
      shown.textContent = `New token (shown once): ${created.token}`;
      form.reset();
      await load();
    },
  }, field("Token name", name), h("button", { type: "submit" }, "Create token"));
  await load();
  return [list, form, shown];
}
