/**
 * The CLI's side of the device-code flow against a scripted server (Bun.serve answering what the real
 * one may): it polls with the interval given, says plainly when the code expired, and writes nothing.
 */
import { existsSync } from "node:fs"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Api } from "@overlord/protocol"
import { afterEach, describe, expect, it } from "vitest"
import { homePaths } from "../src/home.ts"
import { LoginError, login } from "../src/login-command.ts"

const servers: { stop(force?: boolean): unknown }[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) s.stop(true)
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

/** A server whose device/token answers are `polls`, in order; records what the CLI sent. */
function scripted(polls: readonly [number, Api.DeviceTokenResponse][]) {
  const seen: { path: string; body: unknown }[] = []
  let next = 0
  const server: Bun.Server<undefined> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req): Promise<Response> {
      const path = new URL(req.url).pathname
      seen.push({ path, body: await req.json().catch(() => null) })
      if (path === "/api/v1/device/code") {
        return Response.json({
          deviceCode: "ovd_test",
          userCode: "WDJB-MJHT",
          verificationUrl: `http://127.0.0.1:${server.port}/device?code=WDJB-MJHT`,
          interval: 1,
          expiresIn: 600,
        } satisfies Api.DeviceCode)
      }
      const [status, body] = polls[Math.min(next++, polls.length - 1)]!
      return Response.json(body, { status })
    },
  })
  servers.push(server)
  return { url: `http://127.0.0.1:${server.port}`, seen }
}

describe("overlord login's device flow", () => {
  it("says the code expired, and writes no server.json", async () => {
    const { url, seen } = scripted([
      [428, { status: "pending" }],
      [410, { status: "expired" }],
    ])
    const home = await mkdtemp(join(tmpdir(), "overlord-login-flow-"))
    dirs.push(home)
    const printed: string[] = []
    const error = await login(homePaths(home), url, { print: (l) => printed.push(l) }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as Error).message).toBe(
      `the code WDJB-MJHT expired before it was approved. Run \`overlord login ${url}\` again.`,
    )
    expect(printed.join("\n")).toContain(`${url}/device?code=WDJB-MJHT`)
    expect(seen.filter((s) => s.path === "/api/v1/device/token").map((s) => s.body)).toEqual([
      { deviceCode: "ovd_test" },
      { deviceCode: "ovd_test" },
    ])
    // The machine's identity went with the request, so the token is bound to this machine id.
    const sent = seen[0]!.body as { machineId: string; machineName: string }
    expect(sent.machineId).toMatch(/^[0-9a-f-]{36}$/)
    expect(existsSync(join(home, "server.json"))).toBe(false)
  }, 20_000)

  it("keeps polling while pending, then stores the approved token", async () => {
    const { url } = scripted([
      [428, { status: "pending" }],
      [200, { status: "approved", token: "ovm_x", machineId: "m-1" }],
    ])
    const home = await mkdtemp(join(tmpdir(), "overlord-login-flow-"))
    dirs.push(home)
    const saved = await login(homePaths(home), url, { print: () => {} })
    expect(saved).toEqual({ url, token: "ovm_x", machineId: "m-1" })
    expect(existsSync(join(home, "server.json"))).toBe(true)
  }, 20_000)

  it("refuses a URL that is not http(s) or carries a password", async () => {
    const home = await mkdtemp(join(tmpdir(), "overlord-login-flow-"))
    dirs.push(home)
    for (const bad of ["ftp://x", "not a url", "https://u:p@example.com"]) {
      await expect(login(homePaths(home), bad, { print: () => {} })).rejects.toBeInstanceOf(LoginError)
    }
  })
})
