// First run (create the owner), sign-in, and the notices shown when a session ends or
// the hub is out of reach.
import { login, onboard } from "../api.js";
import { h, clear, field } from "../dom.js";

function credentialsForm(submitLabel, action, done) {
  const username = h("input", { name: "username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const message = h("p", { class: "error", role: "alert" });
  const form = h("form", {
    class: "stack",
    onsubmit: async (event) => {
      event.preventDefault();
      message.textContent = "";
      try {
        await action(username.value, password.value);
        done();
      } catch (error) {
        message.textContent = error.message;
      }
    },
  }, field("Username", username), field("Password", password), h("button", { type: "submit" }, submitLabel), message);
  return { form, username };
}

export function renderOnboarding(main, done) {
  const { form, username } = credentialsForm("Create owner", onboard, done);
  clear(main).append(h("section", { class: "card narrow" },
    h("h1", {}, "Welcome to Station Hub"),
    h("p", {}, "No one runs this station yet. Create the owner's account."),
    form));
  username.focus();
}

export function renderLogin(main, done) {
  const { form, username } = credentialsForm("Sign in", login, done);
  clear(main).append(h("section", { class: "card narrow" }, h("h1", {}, "Sign in"), form));
  username.focus();
}

export function renderNotice(main, title, text, retry) {
  const button = h("button", { type: "button", onclick: () => retry() }, "Continue");
  clear(main).append(h("section", { class: "card narrow", role: "alert" }, h("h1", {}, title), h("p", {}, text), button));
  button.focus();
}
