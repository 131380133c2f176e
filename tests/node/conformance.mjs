// Runs rule suites through the wasm-bindgen build (wasm/pkg) in Node and prints every
// answer as one JSON line: the outcome of each step, then each view.
//
//   node tests/node/conformance.mjs SUITES.json
//
// SUITES.json: [{ "tenant": {...}, "steps": ["<command JSON>", ...], "queries": ["<query JSON>", ...] }]

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { initSync, Tenant } from "../../wasm/pkg/agentstate.js";

const here = dirname(fileURLToPath(import.meta.url));
initSync({ module: readFileSync(join(here, "../../wasm/pkg/agentstate_bg.wasm")) });

// A query (as the plugin ABI takes it) answered through the typed API.
function view(tenant, q) {
  switch (q.view) {
    case "roster": return tenant.roster(q.channel, q.at);
    case "channel_states": return tenant.channelStates(q.channel, q.at);
    case "agent_dashboard": return tenant.agentDashboard(q.user, q.at);
    case "allowed_actions": return tenant.allowedActions(q.actor, q.user, q.channel ?? undefined, q.at);
    case "search_users": return tenant.searchUsers(q.text ?? "", q.roles ?? []);
    case "lingering_unassigned": return tenant.lingeringUnassigned();
    case "routing_board": return tenant.routingBoard(q.at);
    case "history": return tenant.history(q.user);
    case "snapshot": return tenant.snapshot();
    default: throw new Error(`unknown view ${q.view}`);
  }
}

const suites = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = [];
for (const suite of suites) {
  const tenant = Tenant.fromSeed(suite.tenant);
  for (const step of suite.steps) out.push(JSON.stringify(tenant.apply(JSON.parse(step))));
  for (const query of suite.queries) out.push(JSON.stringify(view(tenant, JSON.parse(query))));
  tenant.free();
}
process.stdout.write(out.join("\n") + "\n");
