/**
 * `@overlord/store` holds no engine: the daemon's bundle (CLI, daemon, embedded SQLite server) never
 * loads a MySQL driver, which only `@overlord/store/mysql` imports.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { buildDaemon } from "../../../scripts/build-daemon.ts"

const out = mkdtempSync(join(tmpdir(), "overlord-bundle-"))
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe("the daemon's bundle", () => {
  it("contains the SQLite engine and no MySQL or PlanetScale driver", async () => {
    await buildDaemon(out)
    const code = readdirSync(out)
      .filter((f) => f.endsWith(".js"))
      .map((f) => readFileSync(join(out, f), "utf8"))
      .join("\n")
    expect(code).toContain("bun:sqlite")
    expect(code).toContain("seq_counter")
    for (const driver of ["mysql2", "@planetscale/database", "PlanetScale"]) expect(code).not.toContain(driver)
  })
})
