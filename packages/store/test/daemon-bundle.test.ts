/**
 * `@overlord/store` holds no engine: what the daemon loads (the CLI, the daemon and the embedded SQLite
 * server, each entry point with the chunks it imports statically) never contains a MySQL driver. Only
 * `overlord serve --database-url mysql://…` imports one, lazily, from a chunk of its own.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { buildDaemon } from "../../../scripts/build-daemon.ts"

const out = mkdtempSync(join(tmpdir(), "overlord-bundle-"))
afterAll(() => rmSync(out, { recursive: true, force: true }))

/** The entry file and every chunk it reaches through static imports (`import … from "./x.js"`). */
function staticClosure(entry: string): Map<string, string> {
  const seen = new Map<string, string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    const code = readFileSync(join(out, file), "utf8")
    seen.set(file, code)
    // Static imports and re-exports only; `import("./x.js")` is loaded when called, not with the entry.
    for (const m of code.matchAll(
      /(?:^|[\s;}])(?:import|export)\s*(?:[\w*{}\s,$]*?\s*from\s*)?["']\.\/([^"']+\.js)["']/g,
    )) {
      visit(m[1]!)
    }
  }
  visit(entry)
  return seen
}

describe("the daemon's bundle", () => {
  it("loads the SQLite engine and no MySQL or PlanetScale driver", async () => {
    await buildDaemon(out)
    const loaded = new Map<string, string>()
    for (const entry of ["bin.js", "embedded-server-worker.js", "sqlite-checkpoint-worker.js"]) {
      expect(existsSync(join(out, entry)), entry).toBe(true)
      for (const [file, code] of staticClosure(entry)) loaded.set(file, code)
    }
    const code = [...loaded.values()].join("\n")
    expect(code).toContain("bun:sqlite")
    expect(code).toContain("seq_counter")
    for (const driver of ["mysql2", "@planetscale/database"]) {
      const files = [...loaded].filter(([, c]) => c.includes(driver)).map(([f]) => f)
      expect(files, driver).toEqual([])
    }
  })
})
