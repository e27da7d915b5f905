// What a page added through hub_frontend_panels receives (docs/writing-integrations.md):
// the session's fetch and tokens, the DOM helpers, the live feeds, who is signed in.
import { api, accessToken, accessExpired, refresh } from "./api.js";
import { h, s, clear, field, formatValue } from "./dom.js";
import { watchEntities, watchEvents } from "./live.js";
import { session, isManager } from "./session.js";

export function socketUrl(path) {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`;
}

// A fresh access token for a socket's auth message (refreshed first when close to expiry).
async function freshToken() {
  if (accessExpired()) await refresh();
  return accessToken();
}

export function panelContext() {
  return {
    api, freshToken, socketUrl, h, s, clear, field, formatValue,
    watchEntities, watchEvents, session, isManager,
  };
}
