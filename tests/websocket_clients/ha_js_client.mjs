// Drives the real home-assistant-js-websocket against the hub, for
// tests/websocket_clients/test_ha_js_client.py.
//
// HUB_URL and HUB_TOKEN in the environment name the hub and a long-lived token.
// Writes one JSON object per line to stdout for each thing the library reports
// ({kind: "connected" | "entities" | "event" | "reply" | "failed" | "fatal", ...}),
// and reads one JSON request per line from stdin ({op, ...}, answered by "reply").
// Node 20 has no global WebSocket, so the `ws` package provides it; the library's
// own createSocket (auth phase included) runs unchanged.
import { createInterface } from "node:readline";
import { WebSocket } from "ws";
import {
  callService,
  createConnection,
  createLongLivedTokenAuth,
  getConfig,
  getServices,
  getStates,
  subscribeEntities,
} from "home-assistant-js-websocket";

globalThis.WebSocket = WebSocket;

const say = (message) => process.stdout.write(JSON.stringify(message) + "\n");

async function main() {
  const auth = createLongLivedTokenAuth(process.env.HUB_URL, process.env.HUB_TOKEN);
  const connection = await createConnection({ auth });
  say({ kind: "connected", haVersion: connection.haVersion });

  subscribeEntities(connection, (entities) => say({ kind: "entities", entities }));
  // The token is a member's (role user): as in HA, a non-admin may subscribe only to
  // allow-listed event types, not to every event (no type, "*"), so name the ones wanted.
  for (const eventType of ["device_state_changed", "command_status_changed"]) {
    await connection.subscribeEvents((event) => say({ kind: "event", event }), eventType);
  }
  say({ kind: "subscribed" });

  const requests = {
    callService: (request) =>
      callService(
        connection,
        request.domain,
        request.service,
        request.data,
        request.target,
        request.returnResponse,
      ),
    getStates: () => getStates(connection),
    getServices: () => getServices(connection),
    getConfig: () => getConfig(connection),
    ping: () => connection.ping().then(() => "pong"),
  };

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const request = JSON.parse(line);
    if (request.op === "close") break;
    try {
      say({ kind: "reply", op: request.op, result: await requests[request.op](request) });
    } catch (error) {
      say({ kind: "failed", op: request.op, error });
    }
  }
  connection.close();
}

main().catch((error) => {
  say({ kind: "fatal", error: String(error?.message ?? error) });
  process.exit(1);
});
