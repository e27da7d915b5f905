// A page an integration added through hub_frontend_panels: its ES module is imported
// from the hub (content-versioned URL) and given a container and the portal's helpers.
import { h, clear } from "../dom.js";
import { session } from "../session.js";
import { panelContext } from "../panel-context.js";

export async function renderPanel(main, name) {
  const panel = session.panels.find((item) => item.name === name);
  if (!panel) {
    clear(main).append(h("h1", {}, "Not available"), h("p", {}, "No such page for your role."));
    return null;
  }
  const container = h("section", { class: "panel", dataset: { panel: name } });
  clear(main).append(h("h1", {}, panel.title), container);
  try {
    const module = await import(panel.url);
    return (await module.render(container, panelContext())) || null;
  } catch (error) {
    container.append(h("p", { class: "error" }, `This page failed to load: ${error.message}`));
    return null;
  }
}
