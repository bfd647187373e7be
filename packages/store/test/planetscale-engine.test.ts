/**
 * The store contract on the MySQL engine through the real PlanetScale driver (`@planetscale/database`,
 * HTTP), against the test kit's bridge in front of MariaDB: one bridge per database, as PlanetScale's
 * credentials belong to one database branch.
 */
import { connectPlanetscale, type MysqlClient, MysqlEngine } from "@overlord/store/mysql"
import { type PlanetScaleBridge, startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { afterEach } from "vitest"
import { runAccountStoreContract } from "./account-store-contract.ts"
import { runAiStoreContract } from "./ai-store-contract.ts"
import { runCommandStoreContract } from "./command-store-contract.ts"
import { mariaDbForTests } from "./mysql-test-server.ts"
import { runStoreContract } from "./store-contract.ts"

// Registered before the contract's own `afterEach`, so it runs after the engines are closed. Each bridge
// holds MariaDB connections for its sessions: stopping it after each case keeps within max_connections.
const bridges: PlanetScaleBridge[] = []
afterEach(async () => {
  for (const bridge of bridges.splice(0)) await bridge.stop()
})

async function newBridge(): Promise<PlanetScaleBridge> {
  const mariadb = await mariaDbForTests()
  const bridge = await startPlanetScaleBridge({ mariadb, database: await mariadb.createDatabase() })
  bridges.push(bridge)
  return bridge
}

const clientOf = (engine: unknown) => (engine as { client: MysqlClient }).client

runStoreContract({
  name: "planetscale (the HTTP driver through the bridge)",
  makeEngine: async () => MysqlEngine.open(connectPlanetscale({ url: (await newBridge()).url })),
  makeEnginePair: async () => {
    const { url } = await newBridge()
    return Promise.all([MysqlEngine.open(connectPlanetscale({ url })), MysqlEngine.open(connectPlanetscale({ url }))])
  },
  storedTokenHashes: async (engine) =>
    (await clientOf(engine).query<{ token_hash: string }>("SELECT token_hash FROM tokens")).rows.map(
      (r) => r.token_hash,
    ),
})

runAiStoreContract({
  name: "planetscale (the HTTP driver through the bridge)",
  makeEngine: async () => MysqlEngine.open(connectPlanetscale({ url: (await newBridge()).url })),
})

// Remote commands: DOUBLE costs and BIGINT ids arrive as strings over HTTP, and the locking reads and
// multi-row INSERTs of `command-queries.ts` go through the driver's own transactions.
runCommandStoreContract({
  name: "planetscale (the HTTP driver through the bridge)",
  makeEngine: async () => MysqlEngine.open(connectPlanetscale({ url: (await newBridge()).url })),
})

runAccountStoreContract({
  name: "planetscale (the HTTP driver through the bridge)",
  makeEngine: async () => MysqlEngine.open(connectPlanetscale({ url: (await newBridge()).url })),
  tableText: async (engine, table) => JSON.stringify((await clientOf(engine).query(`SELECT * FROM ${table}`)).rows),
})
