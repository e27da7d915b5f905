// A third-party portal page: shows how many devices the hub has, through the portal's api.
export async function render(container, { api, h }) {
  const devices = await api("GET", "/api/devices");
  container.append(h("p", { class: "greenhouse" }, `Greenhouse sees ${devices.length} devices`));
  return () => {};
}
