// What the portal reads from a device's entity (docs/websocket-api.md, "Entities").
export const META = new Set([
  "friendly_name", "device_id", "external_id", "device_type", "firmware", "transport", "capabilities",
]);

export function deviceOf(entity) {
  const a = entity.attributes || {};
  const state = {};
  for (const [key, value] of Object.entries(a)) if (!META.has(key)) state[key] = value;
  return {
    entityId: entity.entity_id,
    id: a.device_id,
    externalId: a.external_id,
    name: a.friendly_name || a.external_id,
    type: a.device_type,
    online: entity.state !== "unavailable",
    state,
  };
}

export function summary(state) {
  return Object.entries(state).map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`).join(", ");
}
