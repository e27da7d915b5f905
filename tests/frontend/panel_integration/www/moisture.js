// A third-party dashboard widget type: shows the bound value as a soil moisture reading.
export function render(container, { h, widget, onValue }) {
  const reading = h("p", { class: "moisture" }, "waiting for a value");
  container.append(reading);
  onValue((value) => {
    reading.textContent = `Soil ${widget.attribute || widget.code}: ${value}`;
  });
}
