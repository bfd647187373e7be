/**
 * Fault: a project whose git remote carries credentials in its URL (`https://x-access-token:<token>@
 * github.com/…`, what CI checkouts and many "clone with a token" guides leave in `.git/config`) put
 * that URL, token included, into the failed-clone message — which is the command's error: stored in
 * the server's database and shown on the dashboard. The sandbox still gets the URL it needs to clone;
 * the message now names the remote without its credentials (`https://***@host/…`), in its own words
 * and in git's. Real SDK, the fake Daytona's real `git clone` (which refuses the address).
 */
import { spawnSync } from "node:child_process"
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DaytonaSandboxes } from "../../src/remote/daytona-sandbox.ts"
import { daytonaFailure, fakeDaytonaSettings } from "../support/daytona.ts"

const TOKEN = "ghp_0verl0rdS3cretT0ken4242"

const git = (cwd: string, ...args: string[]) => {
  const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], { cwd })
  if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${String(r.stderr)}`)
}

describe("fault: a clone failure shows the remote's credentials", () => {
  let fake: FakeDaytona
  let root: string

  beforeAll(async () => {
    fake = await startFakeDaytona()
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-clone-credentials-")))
  })

  afterAll(async () => {
    await fake?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it.each([
    ["user and token", `https://x-access-token:${TOKEN}@127.0.0.1:9/acme/shop.git`],
    ["token as the user", `https://${TOKEN}@127.0.0.1:9/acme/shop.git`],
  ])("names the remote without its credentials (%s)", async (_, remote) => {
    const dir = join(root, `shop-${remote.length}`)
    await mkdir(dir)
    git(dir, "init", "-q")
    await writeFile(join(dir, "README.md"), "# shop\n")
    git(dir, "add", ".")
    git(dir, "commit", "-q", "-m", "first")
    git(dir, "remote", "add", "origin", remote)
    const sandboxes = new DaytonaSandboxes(fakeDaytonaSettings(fake))
    const sandbox = await sandboxes.ensureSandbox(dir)
    const e = await daytonaFailure(sandboxes.syncCode(sandbox, dir), "clone-failed")
    expect(e.message).not.toContain(TOKEN)
    expect(e.message).not.toContain("x-access-token")
    expect(e.message).toContain("https://***@127.0.0.1:9/acme/shop.git at ")
    // The sandbox was still asked to clone the URL as it is: it needs the credentials.
    const clone = fake.requests.findLast((r) => r.plane === "toolbox" && r.path === "/git/clone")
    expect(JSON.parse(clone?.body ?? "{}")).toMatchObject({ url: remote })
    expect(clone?.status).toBe(400)
  })
})
