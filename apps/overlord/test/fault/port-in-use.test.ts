/**
 * Found in the walkthrough: a second `overlord serve` (or `overlord start`, whose embedded server binds
 * the same way) on a port another one already listened on started all the same. Bun 1.4.5 sets
 * SO_REUSEPORT when `development: false`, so both processes bound 127.0.0.1:<port> and the kernel
 * split connections between them: a daemon connected to whichever answered, and its lines were
 * stored in that server's database. Now the second one exits 1 with one sentence, and the first keeps
 * the port. Real processes (the bundled CLI).
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { cli, type StandaloneServer, setUpAdmin, startStandaloneServer } from "@overlord/testkit/standalone-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: StandaloneServer
let root: string
let port: string

beforeAll(async () => {
  server = await startStandaloneServer("overlord-port-in-use-", { database: "sqlite" })
  await setUpAdmin(server)
  port = new URL(server.url).port
  root = await mkdtemp(join(tmpdir(), "overlord-port-in-use-"))
})

afterAll(async () => {
  await server?.stop()
  if (root) await rm(root, { recursive: true, force: true })
})

const expectRefused = (r: { code: number | null; output: string }) => {
  // Before the fix the second server ran until the test killed it (code null).
  expect(r.code, r.output).toBe(1)
  expect(r.output).toContain(`127.0.0.1:${port} is already in use`)
  expect(r.output).toContain("--port")
  expect(r.output).not.toMatch(/\n\s+at /)
}

describe("a port another server listens on", () => {
  it("refuses a second `overlord serve`", async () => {
    expectRefused(await cli(join(root, "second-server"), ["serve", "--port", port], 20_000))
  })

  it("refuses `overlord start`'s embedded server, and `start` says why", async () => {
    const home = join(root, "laptop")
    const claudeDir = join(root, "claude")
    expectRefused(await cli(home, ["start", "--foreground", "--claude-dir", claudeDir, "--port", port], 20_000))
    const detached = await cli(home, ["start", "--claude-dir", claudeDir, "--port", port], 30_000)
    expectRefused(detached)
    expect(detached.output).toContain("the daemon did not start")
  })

  it("leaves the first server answering every request", async () => {
    // Status of the setup link (used): the first server's answer; a second listener would have none of its links.
    const token = new URL(server.setupUrl).pathname.split("/").pop()!
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${server.url}/api/v1/links/${token}`)
      expect(res.status).toBe(200)
      expect(((await res.json()) as { kind: string }).kind).toBe("setup")
    }
  })
})
