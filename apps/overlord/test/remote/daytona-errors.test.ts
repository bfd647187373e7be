/**
 * Each Daytona failure reaches the caller as a DaytonaSandboxError with its reason, a sentence a
 * user can act on, and the SDK's error as the cause: the real SDK against the fake's faults.
 */
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Sdk from "@daytonaio/sdk"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { DaytonaSandboxes, type DaytonaSettings } from "../../src/remote/daytona-sandbox.ts"
import { daytonaFailure, fakeDaytonaSettings } from "../support/daytona.ts"

const gitEnv = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
}

function git(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], { cwd, env: gitEnv, stdout: "pipe", stderr: "pipe" })
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`)
  return r.stdout.toString().trim()
}

describe("Daytona errors", () => {
  let fake: FakeDaytona
  let root: string
  let settings: DaytonaSettings
  let sandboxes: DaytonaSandboxes
  let n = 0

  const projectDir = async () => {
    n += 1
    const dir = join(root, `project-${n}`)
    await mkdir(dir, { recursive: true })
    return realpath(dir)
  }

  beforeAll(async () => {
    fake = await startFakeDaytona()
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-daytona-errors-")))
    settings = fakeDaytonaSettings(fake, { startTimeoutSeconds: 1 })
    sandboxes = new DaytonaSandboxes(settings)
  })

  afterEach(() => {
    fake.faults.quotaExceeded = false
    fake.faults.neverStart = false
    fake.faults.gitCloneFails = false
  })

  afterAll(async () => {
    await fake?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("a wrong API key (401)", async () => {
    const wrong = new DaytonaSandboxes({ ...settings, apiKey: "dtn_wrong_key_1234" })
    const err = await daytonaFailure(wrong.ensureSandbox(await projectDir()), "auth")
    expect(err.message).toContain("refused the API key")
    expect(err.message).not.toContain("dtn_wrong_key_1234")
    expect(err.cause).toBeInstanceOf(Sdk.DaytonaAuthenticationError)
    expect(fake.requests.some((r) => r.status === 401)).toBe(true)
  })

  it("an unknown sandbox (404)", async () => {
    const err = await daytonaFailure(sandboxes.stop("no-such-sandbox"), "not-found")
    expect(err.message).toContain("no-such-sandbox")
    expect(err.cause).toBeInstanceOf(Sdk.DaytonaNotFoundError)
  })

  it("a sandbox Overlord did not make is not ours to remove", async () => {
    const daytona = new Sdk.Daytona({ apiKey: fake.apiKey, apiUrl: fake.apiUrl, useDeprecatedPolling: true })
    const foreign = await daytona.create({ name: "someone-elses" }, { timeout: 5 })
    await daytonaFailure(sandboxes.remove(foreign.name), "not-found")
    expect(fake.sandboxes.get(foreign.id)?.state).toBe("started")
  })

  it("the organization's quota (403 on create)", async () => {
    fake.faults.quotaExceeded = true
    const err = await daytonaFailure(sandboxes.ensureSandbox(await projectDir()), "quota")
    expect(err.message).toContain("Total CPU limit exceeded")
    expect(err.message).toContain("overlord sandboxes list")
    expect((err.cause as Sdk.DaytonaError).statusCode).toBe(403)
  })

  it("a sandbox that never starts, on create and on restart", async () => {
    fake.faults.neverStart = true
    const err = await daytonaFailure(sandboxes.ensureSandbox(await projectDir()), "start-timeout")
    expect(err.message).toContain("did not start within 1 s")
    expect(err.cause).toBeInstanceOf(Sdk.DaytonaTimeoutError)

    fake.faults.neverStart = false
    const dir = await projectDir()
    const sb = await sandboxes.ensureSandbox(dir)
    await sandboxes.stop(sb.id)
    fake.faults.neverStart = true
    await daytonaFailure(sandboxes.ensureSandbox(dir), "start-timeout")
  })

  it("a failing git clone: the daemon cannot find the remote, or the commit was never pushed", async () => {
    const remote = join(root, "remote.git")
    git(root, "init", "-q", "--bare", remote)
    const dir = await projectDir()
    git(dir, "init", "-q")
    await writeFile(join(dir, "a.txt"), "a\n")
    git(dir, "add", ".")
    git(dir, "commit", "-q", "-m", "pushed")
    git(dir, "remote", "add", "origin", `file://${remote}`)
    git(dir, "push", "-q", "origin", "HEAD:refs/heads/main")
    const sb = await sandboxes.ensureSandbox(dir)

    fake.faults.gitCloneFails = true
    const injected = await daytonaFailure(sandboxes.syncCode(sb, dir), "clone-failed")
    expect(injected.message).toContain(`file://${remote}`)
    expect(injected.message).toContain("Is the commit pushed")
    expect(injected.cause).toBeInstanceOf(Sdk.DaytonaError)
    fake.faults.gitCloneFails = false

    await writeFile(join(dir, "b.txt"), "b\n")
    git(dir, "add", ".")
    git(dir, "commit", "-q", "-m", "not pushed")
    const unpushed = await daytonaFailure(sandboxes.syncCode(sb, dir), "clone-failed")
    expect(unpushed.message).toContain(git(dir, "rev-parse", "HEAD").slice(0, 12))
  })

  it("Daytona unreachable", async () => {
    const closed = Bun.serve({ port: 0, fetch: () => new Response("") })
    const url = `http://127.0.0.1:${closed.port}/api`
    await closed.stop(true)
    const gone = new DaytonaSandboxes({ ...settings, apiUrl: url })
    const err = await daytonaFailure(gone.ensureSandbox(await projectDir()), "unreachable")
    expect(err.message).toContain(url)
  })
})
