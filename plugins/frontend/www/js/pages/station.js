// The station: integrations' health, MQTT, the cloud link, API tokens and IoT objects.
// Each card loads on its own, so one integration that is off only empties its card.
import { api } from "../api.js";
import { h, clear, field } from "../dom.js";
import { isManager } from "../session.js";

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
  const cloud = h("div");
  const tokens = h("div");
  const iot = h("div");
  clear(main).append(h("h1", {}, "Station"),
    card("Integrations", health), card("MQTT", mqtt), card("Cloud link", cloud),
    card("API tokens", tokens), card("IoT objects", iot));

  fill(health, async () => {
    const body = await api("GET", "/api/health");
    const rows = Object.entries(body.integrations || {}).map(([name, state]) =>
      h("tr", {}, h("td", {}, name), h("td", {}, typeof state === "object" ? state.state || JSON.stringify(state) : String(state))));
    return [h("p", {}, `Hub: ${body.status}`), h("table", { class: "integrations" }, h("tbody", {}, ...rows))];
  });
  fill(mqtt, async () => {
    const [status, healthBody] = await Promise.all([
      api("GET", "/api/mqtt/status"),
      api("GET", "/api/health").catch(() => ({})),
    ]);
    const details = (healthBody.details || {}).mqtt_devices || {};
    return [kv(status), details.drops ? h("p", {}, `Dropped: ${JSON.stringify(details.drops)}`) : null].filter(Boolean);
  });
  fill(cloud, async () => {
    const status = await api("GET", "/api/cloud/status");
    const parts = [kv(status)];
    if (isManager()) {
      const token = h("input", { name: "stationToken", type: "password", autocomplete: "off", required: true });
      const message = h("p", { role: "status" });
      parts.push(h("form", {
        class: "row",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await api("POST", "/api/cloud/claim", { stationToken: token.value });
            message.textContent = "Claimed.";
          } catch (error) {
            message.textContent = error.message;
          }
        },
      }, field("Station token", token), h("button", { type: "submit" }, "Claim")), message);
    }
    return parts;
  });
  fill(tokens, () => tokenCard());
  fill(iot, () => iotCard());
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

async function iotCard() {
  const list = h("ul", { class: "list" });
  const message = h("p", { role: "status" });
  async function load() {
    const body = await api("GET", "/api/iot/objects?limit=200");
    list.replaceChildren(...body.items.map((item) => h("li", {}, `${item.code} — ${item.name} (${item.type})`)));
    if (body.items.length === 0) list.append(h("li", { class: "muted" }, "No objects yet."));
  }
  await load();
  const parts = [list];
  if (isManager()) {
    const code = h("input", { name: "iot-code", required: true });
    const name = h("input", { name: "iot-name", required: true });
    const type = h("input", { name: "iot-type", required: true, value: "point" });
    parts.push(h("form", {
      class: "row",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api("POST", "/api/iot/objects", { code: code.value, name: name.value, type: type.value });
          await load();
        } catch (error) {
          message.textContent = error.message;
        }
      },
    }, field("Code", code), field("Name", name), field("Type", type), h("button", { type: "submit" }, "Create")),
    h("button", {
      type: "button", class: "secondary",
      onclick: async () => {
        try {
          const result = await api("POST", "/api/iot/objects/sync");
          message.textContent = `Synced: ${JSON.stringify(result)}`;
          await load();
        } catch (error) {
          message.textContent = error.message;
        }
      },
    }, "Sync from gateway"), message);
  }
  return parts;
}
