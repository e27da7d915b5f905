// Hash routes (#/devices, #/device/ID): the hub serves one page at "/" only.
const routes = [];
let cleanup = null;

export function route(pattern, render) {
  routes.push({ pattern, render });
}

export function current() {
  return location.hash.replace(/^#/, "") || "/devices";
}

export function go(path) {
  location.hash = `#${path}`;
}

export async function dispatch(container) {
  if (cleanup) {
    try { cleanup(); } catch { /* a page's cleanup must not block the next page */ }
    cleanup = null;
  }
  const path = current();
  for (const { pattern, render } of routes) {
    const match = path.match(pattern);
    if (match) {
      cleanup = (await render(container, ...match.slice(1).map(decodeURIComponent))) || null;
      return;
    }
  }
  go("/devices");
}
