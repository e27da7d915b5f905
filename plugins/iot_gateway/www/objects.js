// The portal's IoT objects page, delivered by this integration through
// hub_frontend_panels (docs/portal.md): the objects list; create and sync for owner/admin.
export async function render(container, { api, h, field, isManager }) {
  const list = h("tbody");
  const message = h("p", { role: "status" });
  async function load() {
    try {
      const body = await api("GET", "/api/iot/objects?limit=1000");
      list.replaceChildren(...body.items.map((item) => h("tr", { dataset: { code: item.code } },
        h("td", {}, item.code), h("td", {}, item.name), h("td", {}, item.type))));
      if (body.items.length === 0) list.append(h("tr", {}, h("td", { colspan: 3, class: "muted" }, "No objects yet.")));
    } catch (error) {
      list.replaceChildren(h("tr", {}, h("td", { colspan: 3, class: "error" }, error.message)));
    }
  }
  container.append(h("table", { class: "iot-objects" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Code"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Type"))),
    list), message);
  if (isManager()) {
    const code = h("input", { name: "code", required: true, maxlength: 255 });
    const name = h("input", { name: "name", required: true, maxlength: 255 });
    const type = h("input", { name: "type", required: true, value: "point", maxlength: 64 });
    const form = h("form", {
      class: "row",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await api("POST", "/api/iot/objects", { code: code.value, name: name.value, type: type.value });
          message.textContent = `Created ${code.value}.`;
          form.reset();
          await load();
        } catch (error) {
          message.textContent = error.message;
        }
      },
    }, field("Code", code), field("Name", name), field("Type", type), h("button", { type: "submit" }, "Create object"));
    const sync = h("button", {
      type: "button",
      class: "secondary",
      onclick: async () => {
        message.textContent = "Syncing from the gateway…";
        try {
          const result = await api("POST", "/api/iot/objects/sync");
          message.textContent = `Synced: ${JSON.stringify(result)}`;
          await load();
        } catch (error) {
          message.textContent = `Sync failed: ${error.message}`;
        }
      },
    }, "Sync from gateway");
    container.append(h("section", { class: "card" }, h("h2", {}, "New object"), form), sync);
  }
  await load();
  return null;
}
