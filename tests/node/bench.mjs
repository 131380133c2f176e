// Throughput of the JS API (wasm/pkg) in Node: the benchmark shift's 20,000 commands,
// as plain objects, through Tenant.apply on the 10,000-user tenant.
//
//   cargo run --release -p agentstate-core --example profile_shift -- export /tmp/shift.json
//   node tests/node/bench.mjs /tmp/shift.json

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { initSync, Tenant } from "../../wasm/pkg/agentstate.js";

const here = dirname(fileURLToPath(import.meta.url));
initSync({ module: readFileSync(join(here, "../../wasm/pkg/agentstate_bg.wasm")) });

const { snapshot, commands } = JSON.parse(readFileSync(process.argv[2], "utf8"));
let t = performance.now();
let tenant = Tenant.fromSnapshot(snapshot);
console.log(`restore 10,000-user snapshot: ${(performance.now() - t).toFixed(1)} ms`);

const rounds = 5;
const rates = [];
for (let round = 0; round < rounds; round++) {
  tenant.free();
  tenant = Tenant.fromSnapshot(snapshot);
  t = performance.now();
  let accepted = 0;
  for (const command of commands) {
    if (tenant.apply(command).outcome === "accepted") accepted++;
  }
  const ms = performance.now() - t;
  rates.push(commands.length / (ms / 1000));
  if (round === 0) console.log(`${commands.length} commands, ${accepted} accepted`);
}
rates.sort((a, b) => a - b);
console.log(`Tenant.apply: median ${Math.round(rates[rounds >> 1])} commands/s (${(1e6 / rates[rounds >> 1]).toFixed(2)} µs each)`);
t = performance.now();
for (let i = 0; i < 1000; i++) tenant.allowedActions("u09600", "u00001", "ch000", 2_000_000_000);
console.log(`allowedActions: ${((performance.now() - t) * 1000 / 1000).toFixed(2)} µs each`);
