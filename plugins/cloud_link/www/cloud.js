// The portal's cloud page, delivered by this integration through hub_frontend_panels
// (docs/portal.md): the link's state and active channels, and claiming for the owner.
function pairs(h, object) {
  return h("dl", { class: "cloud-status" }, ...Object.entries(object || {}).flatMap(([key, value]) => [
    h("dt", {}, key),
    h("dd", { dataset: { key } }, typeof value === "object" && value !== null ? JSON.stringify(value) : String(value)),
  ]));
}

export async function render(container, { api, h, field, session }) {
  const status = h("div", { "aria-live": "polite" });
  const message = h("p", { role: "status" });
  async function load() {
    try {
      status.replaceChildren(pairs(h, await api("GET", "/api/cloud/status")));
    } catch (error) {
      status.replaceChildren(h("p", { class: "error" }, `Not available: ${error.message}`));
    }
  }
  container.append(h("section", { class: "card" }, h("h2", {}, "Link"), status,
    h("button", { type: "button", class: "secondary", onclick: load }, "Refresh")));
  if (session.role === "owner") {
    const token = h("input", { name: "stationToken", type: "password", autocomplete: "off", required: true });
    container.append(h("section", { class: "card" }, h("h2", {}, "Claim this station"),
      h("p", { class: "muted" }, "Paste the station token the cloud issued for this station."),
      h("form", {
        class: "row",
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            await api("POST", "/api/cloud/claim", { stationToken: token.value });
            token.value = "";
            message.textContent = "Claimed; the link connects with the new token.";
            await load();
          } catch (error) {
            message.textContent = error.message;
          }
        },
      }, field("Station token", token), h("button", { type: "submit" }, "Claim")), message));
  }
  await load();
  const timer = setInterval(load, 10_000);
  return () => clearInterval(timer);
}
