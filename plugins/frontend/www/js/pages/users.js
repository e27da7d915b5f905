// Users and roles (owner/admin; the hub refuses everyone else anyway).
import { api } from "../api.js";
import { h, clear, field } from "../dom.js";

const ROLES = ["owner", "admin", "user"];

export async function renderUsers(main) {
  const body = h("tbody");
  const message = h("p", { role: "status" });
  async function load() {
    const users = await api("GET", "/api/auth/users");
    const items = Array.isArray(users) ? users : users.items || [];
    body.replaceChildren(...items.map((user) => {
      const role = h("select", { "aria-label": `Role of ${user.username}` }, ...ROLES.map((r) => h("option", { value: r, selected: r === user.role }, r)));
      role.addEventListener("change", async () => {
        try {
          await api("PATCH", `/api/auth/users/${encodeURIComponent(user.id)}`, { role: role.value });
          message.textContent = `${user.username} is now ${role.value}.`;
        } catch (error) {
          message.textContent = error.message;
        }
      });
      const active = user.active !== false;
      const toggle = h("button", {
        type: "button",
        class: "secondary",
        onclick: async () => {
          try {
            await api("PATCH", `/api/auth/users/${encodeURIComponent(user.id)}`, { active: !active });
            message.textContent = `${user.username} is now ${active ? "inactive" : "active"}.`;
            await load();
          } catch (error) {
            message.textContent = error.message;
          }
        },
      }, active ? `Deactivate ${user.username}` : `Activate ${user.username}`);
      const remove = h("button", {
        type: "button",
        class: "danger",
        onclick: async () => {
          if (!confirm(`Delete ${user.username}? Their API tokens are deleted too.`)) return;
          try {
            await api("DELETE", `/api/auth/users/${encodeURIComponent(user.id)}`);
            message.textContent = `Deleted ${user.username}.`;
            await load();
          } catch (error) {
            message.textContent = error.message;
          }
        },
      }, `Delete ${user.username}`);
      return h("tr", { dataset: { user: user.username } }, h("td", {}, user.username), h("td", {}, role),
        h("td", {}, active ? "active" : "inactive"), h("td", {}, toggle, " ", remove));
    }));
  }
  const username = h("input", { name: "new-username", required: true, autocomplete: "off" });
  const password = h("input", { name: "new-password", type: "password", required: true, autocomplete: "new-password" });
  const role = h("select", { name: "new-role" }, ...ROLES.map((r) => h("option", { value: r, selected: r === "user" }, r)));
  const form = h("form", {
    class: "row",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api("POST", "/api/auth/users", { username: username.value, password: password.value, role: role.value });
        message.textContent = `Added ${username.value}.`;
        form.reset();
        await load();
      } catch (error) {
        message.textContent = error.message;
      }
    },
  }, field("Username", username), field("Password", password), field("Role", role), h("button", { type: "submit" }, "Add user"));
  clear(main).append(h("h1", {}, "Users"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Actions"))), body),
    h("section", { class: "card" }, h("h2", {}, "Add a user"), form), message);
  await load();
  return null;
}
