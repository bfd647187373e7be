/** The store contract on the SQLite engine: in memory, and two engines on one file for what they share. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqliteEngine } from "@overlord/store/sqlite"
import { afterAll } from "vitest"
import { runAccountStoreContract } from "./account-store-contract.ts"
import { runAiStoreContract } from "./ai-store-contract.ts"
import { runCommandStoreContract } from "./command-store-contract.ts"
import { runStoreContract } from "./store-contract.ts"

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

runStoreContract({
  name: "sqlite",
  makeEngine: () => new SqliteEngine({ path: ":memory:" }),
  makeEnginePair: async () => {
    const dir = mkdtempSync(join(tmpdir(), "overlord-contract-"))
    dirs.push(dir)
    const path = join(dir, "overlord.db")
    return [new SqliteEngine({ path }), new SqliteEngine({ path })] as const
  },
  storedTokenHashes: async (engine) => {
    const db = (engine as unknown as { db: import("bun:sqlite").Database }).db
    return (db.query("SELECT token_hash FROM tokens").all() as { token_hash: string }[]).map((r) => r.token_hash)
  },
})

runAccountStoreContract({
  name: "sqlite",
  makeEngine: () => new SqliteEngine({ path: ":memory:" }),
  tableText: async (engine, table) => {
    const db = (engine as unknown as { db: import("bun:sqlite").Database }).db
    return JSON.stringify(db.query(`SELECT * FROM ${table}`).all())
  },
})

runCommandStoreContract({ name: "sqlite", makeEngine: () => new SqliteEngine({ path: ":memory:" }) })

runAiStoreContract({ name: "sqlite", makeEngine: () => new SqliteEngine({ path: ":memory:" }) })
