// The WebSocket API through home-assistant-js-websocket (vendored, see vendor/README.md).
// Its Auth is duck-typed here so a reconnect asks our session for a fresh access token
// instead of HA's OAuth endpoint.
import {
  createConnection,
  subscribeEntities,
} from "../vendor/home-assistant-js-websocket/index.js";
import { accessExpired, accessToken, refresh } from "./api.js";

let connecting = null;

const auth = {
  get wsUrl() {
    return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/websocket`;
  },
  get accessToken() {
    return accessToken();
  },
  get expired() {
    return accessExpired();
  },
  refreshAccessToken: () => refresh(),
};

export function connection() {
  if (!connecting) {
    connecting = createConnection({ auth }).catch((error) => {
      connecting = null;
      throw error;
    });
  }
  return connecting;
}

export function closeConnection() {
  if (connecting) connecting.then((conn) => conn.close()).catch(() => {});
  connecting = null;
}

export async function watchEntities(callback) {
  return subscribeEntities(await connection(), callback);
}

// The callback gets the event's data, and the whole event for its time_fired.
export async function watchEvents(eventType, callback) {
  const conn = await connection();
  return conn.subscribeEvents((event) => callback(event.data, event), eventType);
}

// "disconnected" when the socket to the hub is lost, "ready" when the client has
// reconnected (it resubscribes by itself; what happened in between was not sent).
export async function watchConnection(callback) {
  const conn = await connection();
  const ready = () => callback("ready");
  const lost = () => callback("disconnected");
  conn.addEventListener("ready", ready);
  conn.addEventListener("disconnected", lost);
  return () => {
    conn.removeEventListener("ready", ready);
    conn.removeEventListener("disconnected", lost);
  };
}
