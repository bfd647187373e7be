/**
 * The read API answers the store's typed errors by what they are, not by matching a message: a
 * malformed cursor is the caller's (400).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fromEngine } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { afterEach, describe, expect, it } from "vitest"
import { handleApi } from "../src/http-api.ts"

let dir = ""
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const get = (engine: SqliteEngine, userId: number, path: string) => {
  const url = new URL(`http://127.0.0.1/api/v1${path}`)
  return handleApi(fromEngine(engine), { userId }, new Request(url), url)
}

describe("read API, store errors", () => {
  it("answers an invalid session cursor 400, and the next good request 200", async () => {
    dir = mkdtempSync(join(tmpdir(), "overlord-http-errors-"))
    const path = join(dir, "overlord.db")
    const engine = new SqliteEngine({ path, checkpoints: "inline", busyTimeoutMs: 20 })
    const userId = engine.ensureUser("alice")

    const bad = await get(engine, userId, "/sessions?cursor=not-a-cursor")
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: { code: "bad_request", message: "invalid cursor" } })

    expect((await get(engine, userId, "/sessions")).status).toBe(200)
    engine.close()
  })
})
