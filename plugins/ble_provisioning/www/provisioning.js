// The portal's provisioning page, delivered by this integration through
// hub_frontend_panels (docs/portal.md): live BLE candidates from /api/provisioning/ws
// (replayed on open), provisioning with Wi-Fi credentials, and each step the hub reports.
export async function render(container, { api, freshToken, socketUrl, h, field }) {
  const scan = h("p", { class: "scan-state", role: "status" }, "Connecting to the scanner…");
  const list = h("ul", { class: "list candidates", "aria-live": "polite" });
  const ssid = h("input", { name: "ssid", autocomplete: "off", required: true });
  const password = h("input", { name: "password", type: "password", autocomplete: "off", required: true });
  const name = h("input", { name: "name", maxlength: 128 });
  const progress = h("ol", { class: "progress" });
  const result = h("p", { class: "result", role: "alert" });
  const candidates = new Map();
  let chosen = null;
  const chosenLabel = h("p", { class: "muted" }, "Choose a device above.");
  const submit = h("button", { type: "submit", disabled: true }, "Provision");

  function drawList() {
    list.replaceChildren(...[...candidates.values()].map((c) =>
      h("li", { dataset: { address: c.address } },
        h("button", { type: "button", class: "secondary", onclick: () => choose(c) }, `Choose ${c.name || c.address}`),
        " ", `${c.address} · ${c.protocol || ""} · RSSI ${c.rssi ?? "?"}`)));
    if (candidates.size === 0) list.append(h("li", { class: "muted" }, "No device waiting to be provisioned yet."));
  }

  function choose(candidate) {
    chosen = candidate;
    chosenLabel.textContent = `Device: ${candidate.name || ""} ${candidate.address}`;
    submit.disabled = false;
    ssid.focus();
  }

  const form = h("form", {
    class: "stack",
    onsubmit: async (event) => {
      event.preventDefault();
      if (!chosen) return;
      progress.replaceChildren();
      result.textContent = "Provisioning…";
      result.className = "result";
      delete result.dataset.outcome;
      submit.disabled = true;
      const body = { address: chosen.address, ssid: ssid.value, password: password.value };
      if (name.value) body.name = name.value;
      try {
        const done = await api("POST", "/api/provisioning/add", body);
        result.textContent = `Provisioned: ${done.device ? done.device.name || done.device.externalId : chosen.address}`;
        result.className = "result ok";
        result.dataset.outcome = "provisioned";
      } catch (error) {
        result.textContent = `Failed: ${error.message}`;
        result.className = "result error";
        result.dataset.outcome = "failed";
      } finally {
        submit.disabled = false;
      }
    },
  }, chosenLabel, field("Wi-Fi network (SSID)", ssid), field("Wi-Fi password", password),
  field("Device name (optional)", name), submit);

  container.append(scan,
    h("section", { class: "card" }, h("h2", {}, "Devices nearby"), list),
    h("section", { class: "card" }, h("h2", {}, "Provision"), form, progress, result));
  drawList();

  const socket = new WebSocket(socketUrl("/api/provisioning/ws"));
  socket.addEventListener("message", async (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "auth_required") {
      socket.send(JSON.stringify({ type: "auth", access_token: await freshToken() }));
    } else if (data.type === "auth_invalid") {
      scan.textContent = "The scanner refused this session; sign in again.";
    } else if (data.type === "scan") {
      scan.dataset.state = data.state;
      scan.textContent = data.state === "unavailable"
        ? `Bluetooth is not available on this station: ${data.reason || "no adapter"}. Devices cannot be provisioned from here.`
        : `Scanning for devices (${data.state}).`;
    } else if (data.type === "candidate") {
      candidates.set(data.candidate.address, data.candidate);
      drawList();
    } else if (data.type === "candidate_removed") {
      candidates.delete(data.address);
      drawList();
    } else if (data.type === "provisioning" && chosen && data.address === chosen.address) {
      progress.append(h("li", {}, data.state));
    }
  });
  socket.addEventListener("close", (event) => {
    if (scan.dataset.state === "unavailable") return;
    scan.dataset.state = "closed";
    scan.textContent = event.code === 1011 || event.code === 1006
      ? "Bluetooth provisioning is not available on this station right now."
      : "The scanner connection closed. Open this page again to scan.";
  });
  return () => socket.close();
}
