// Hash routes (#/devices, #/device/ID): the hub serves one page at "/" only. Each render
// may return a cleanup (unsubscribe, stop timers); a render overtaken by a newer
// navigation is cleaned up as soon as it finishes, so nothing keeps running unseen.
import { h, clear } from "./dom.js";

const routes = [];
let cleanup = null;
let generation = 0;

export function route(pattern, render) {
  routes.push({ pattern, render });
}

export function current() {
  return location.hash.replace(/^#/, "") || "/devices";
}

export function go(path) {
  location.hash = `#${path}`;
}

function runCleanup(fn) {
  try {
    if (fn) fn();
  } catch {
    // a page's cleanup must not block the next page
  }
}

export async function dispatch(container) {
  runCleanup(cleanup);
  cleanup = null;
  const mine = (generation += 1);
  const path = current();
  const found = routes.find(({ pattern }) => pattern.test(path));
  if (!found) {
    go("/devices");
    return;
  }
  const args = path.match(found.pattern).slice(1).map(decodeURIComponent);
  let done = null;
  try {
    done = (await found.render(container, ...args)) || null;
  } catch (error) {
    if (mine !== generation) return;
    // The "hub does not answer" or "session has ended" notice is already shown.
    if (error && (error.status === 0 || error.status === 401)) return;
    const retry = h("button", { type: "button", onclick: () => dispatch(container) }, "Try again");
    clear(container).append(h("h1", {}, "This page could not be loaded"),
      h("p", { role: "alert" }, (error && error.message) || String(error)), retry);
    return;
  }
  if (mine !== generation) runCleanup(done);
  else cleanup = done;
}
