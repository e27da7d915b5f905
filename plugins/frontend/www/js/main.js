// Boot: onboarding while the hub has no user, else sign-in, else the portal itself.
import { hasSession, logout, onSessionChange, onboardingRequired, refresh, api } from "./api.js";
import { closeConnection } from "./live.js";
import { h, clear } from "./dom.js";
import { route, dispatch, current } from "./router.js";
import { session } from "./session.js";
import { renderOnboarding, renderLogin, renderNotice } from "./pages/signin.js";
import { renderDevices } from "./pages/devices.js";
import { renderDevice } from "./pages/device.js";
import { renderDashboard } from "./pages/dashboard.js";
import { renderStation } from "./pages/station.js";
import { renderUsers } from "./pages/users.js";
import { renderPanel } from "./pages/panel.js";

const main = document.getElementById("main");
const top = document.getElementById("top");
const MANAGERS = ["owner", "admin"];

// Built-in pages; integrations' pages (hub_frontend_panels) join them by their order.
const NAV = [
  { path: "/devices", title: "Devices", order: 10 },
  { path: "/dashboard", title: "Dashboard", order: 15 },
  { path: "/station", title: "Station", order: 60 },
  { path: "/users", title: "Users", roles: MANAGERS, order: 70 },
];

route(/^\/devices$/, renderDevices);
route(/^\/device\/([^/]+)$/, renderDevice);
route(/^\/dashboard$/, renderDashboard);
route(/^\/dashboard\/([^/]+)$/, renderDashboard);
route(/^\/station$/, renderStation);
route(/^\/users$/, guarded(MANAGERS, renderUsers));
route(/^\/panel\/([a-z0-9_-]+)$/, renderPanel);

function guarded(roles, render) {
  return (container, ...args) => {
    if (!roles.includes(session.role)) {
      clear(container).append(
        h("h1", {}, "Not available"),
        h("p", {}, "Your role does not allow this page. Ask an owner or admin."),
      );
      return null;
    }
    return render(container, ...args);
  };
}

function navLinks() {
  const items = NAV.filter((item) => !item.roles || item.roles.includes(session.role));
  for (const panel of session.panels.filter((item) => item.kind !== "widget")) items.push({ path: `/panel/${panel.name}`, title: panel.title, order: panel.order });
  items.sort((a, b) => a.order - b.order);
  const here = current();
  return items.map((item) =>
    h("a", { href: `#${item.path}`, "aria-current": here.startsWith(item.path) ? "page" : null }, item.title));
}

function renderShell() {
  top.hidden = false;
  clear(document.getElementById("nav")).append(...navLinks());
  document.getElementById("who").textContent = `${session.username} (${session.role})`;
}

async function showPortal() {
  const me = await api("GET", "/api/auth/me");
  Object.assign(session, { username: me.username, role: me.role, userId: me.userId });
  session.panels = await api("GET", "/api/frontend/panels").catch(() => []);
  renderShell();
  await dispatch(main);
}

async function start() {
  top.hidden = true;
  try {
    if (await onboardingRequired()) {
      renderOnboarding(main, start);
      return;
    }
    if (hasSession()) {
      await refresh();
      await showPortal();
      return;
    }
  } catch (error) {
    if (error.status === 0) return; // the unreachable notice is already shown
    if (error.status !== 401) {
      renderNotice(main, "Something went wrong", error.message, start);
      return;
    }
  }
  renderLogin(main, start);
}

window.addEventListener("hashchange", async () => {
  if (!session.role) return;
  renderShell();
  await dispatch(main);
  // Keyboard and screen-reader users land on the new page's heading, not the old link.
  const heading = main.querySelector("h1");
  if (heading && !main.contains(document.activeElement)) {
    heading.tabIndex = -1;
    heading.focus();
  }
});
document.getElementById("logout").addEventListener("click", () => logout());
onSessionChange((reason) => {
  if (reason === "unreachable") {
    top.hidden = true;
    renderNotice(main, "The hub does not answer",
      "Check that the station is powered and on this network, then try again.", start);
    return;
  }
  closeConnection();
  session.role = null;
  top.hidden = true;
  if (reason === "ended") {
    renderNotice(main, "Your session has ended", "Sign in again to continue.", start);
  } else {
    start();
  }
});

start();
