/**
 * The daemon's Daytona module with the REAL SDK (0.218.0) against the fake Daytona, real git and
 * the real Claude Code CLI (against the fake Anthropic API) running "in the sandbox".
 */
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { claudeBinary } from "@overlord/testkit/claude-cli"
import { type FakeAnthropic, startFakeAnthropic } from "@overlord/testkit/fake-anthropic"
import { type FakeDaytona, startFakeDaytona } from "@overlord/testkit/fake-daytona"
import { unansweredScript } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DaytonaSandboxError } from "../../src/remote/daytona-errors.ts"
import { DaytonaSandboxes, type DaytonaSettings, type ProjectSandbox } from "../../src/remote/daytona-sandbox.ts"
import { fakeDaytonaSettings } from "../support/daytona.ts"

const ANTHROPIC_KEY = "sk-ant-daytona-test-7d41c0ffee"

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

async function collect(chunks: AsyncIterable<string>): Promise<string> {
  let s = ""
  for await (const c of chunks) s += c
  return s
}

/** The reason of the DaytonaSandboxError `p` rejects with, and its message. */
async function failure(p: Promise<unknown>): Promise<{ reason: string; message: string; cause: unknown }> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  )
  expect(e).toBeInstanceOf(DaytonaSandboxError)
  const err = e as DaytonaSandboxError
  return { reason: err.reason, message: err.message, cause: err.cause }
}

describe("Daytona sandboxes", () => {
  let fake: FakeDaytona
  let root: string
  let settings: DaytonaSettings
  let sandboxes: DaytonaSandboxes

  const projectDir = async (name: string) => {
    const dir = join(root, name)
    await mkdir(dir, { recursive: true })
    return realpath(dir)
  }

  beforeAll(async () => {
    fake = await startFakeDaytona({ tools: { claude: await claudeBinary() } })
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-daytona-test-")))
    settings = fakeDaytonaSettings(fake, {
      anthropicApiKey: ANTHROPIC_KEY,
      snapshot: "overlord-claude-code-test",
      autoStopMinutes: 20,
      startTimeoutSeconds: 2,
    })
    sandboxes = new DaytonaSandboxes(settings)
  })

  afterAll(async () => {
    await fake?.stop()
    await rm(root, { recursive: true, force: true })
  })

  it("creates a project's sandbox once, then reuses it, with auto-stop set each time", async () => {
    const dir = await projectDir("reuse")
    const first = await sandboxes.ensureSandbox(dir)
    const second = await new DaytonaSandboxes(settings).ensureSandbox(dir)
    expect(second.id).toBe(first.id)
    expect(first.machineName).toBe(`daytona-${first.name}`)
    const creates = fake.requests.filter((r) => r.plane === "api" && r.method === "POST" && r.path === "/sandbox")
    expect(creates).toHaveLength(1)
    const body = JSON.parse(creates[0]!.body) as Record<string, unknown>
    expect(body).toMatchObject({ snapshot: settings.snapshot, autoStopInterval: 20 })
    expect(body.labels).toMatchObject({ overlord: "1" })
    const autostops = fake.requests.filter((r) => r.path === `/sandbox/${first.id}/autostop/20`)
    expect(autostops).toHaveLength(2)
    expect(fake.sandboxes.get(first.id)?.autoStopInterval).toBe(20)
    // Two runs racing for a new project's sandbox get one sandbox (the loser's create is a 409).
    const raced = await projectDir("raced")
    const [a, b] = await Promise.all([
      sandboxes.ensureSandbox(raced),
      new DaytonaSandboxes(settings).ensureSandbox(raced),
    ])
    expect(a.id).toBe(b.id)
    expect(
      [...fake.sandboxes.values()].filter((s) => s.labels.project === fake.sandboxes.get(a.id)?.labels.project),
    ).toHaveLength(1)
    // Another project gets a sandbox of its own.
    const other = await sandboxes.ensureSandbox(await projectDir("reuse-other"))
    expect(other.id).not.toBe(first.id)
  })

  it("clones the remote at the laptop's commit and applies the uncommitted changes", async () => {
    const remote = join(root, "remote.git")
    git(root, "init", "-q", "--bare", remote)
    const dir = await projectDir("cloned")
    git(dir, "init", "-q")
    await writeFile(join(dir, "tracked.txt"), "one\n")
    await writeFile(join(dir, ".gitignore"), "ignored.log\n")
    git(dir, "add", ".")
    git(dir, "commit", "-q", "-m", "first")
    git(dir, "remote", "add", "origin", `file://${remote}`)
    git(dir, "push", "-q", "origin", "HEAD:refs/heads/main")
    const commit = git(dir, "rev-parse", "HEAD")
    await writeFile(join(dir, "tracked.txt"), "one\ntwo (uncommitted)\n")
    await writeFile(join(dir, "untracked.txt"), "new file\n")
    await writeFile(join(dir, "ignored.log"), "must stay on the laptop\n")

    const sb = await sandboxes.ensureSandbox(dir)
    const synced = await sandboxes.syncCode(sb, dir)
    expect(synced.mode).toBe("clone")
    expect(synced.cwd).toBe(sb.projectPath)
    expect(fake.requests.some((r) => r.path === "/git/clone" && r.body.includes(commit))).toBe(true)
    expect(git(sb.projectPath, "rev-parse", "HEAD")).toBe(commit)
    expect(await readFile(join(sb.projectPath, "tracked.txt"), "utf8")).toBe("one\ntwo (uncommitted)\n")
    expect(await readFile(join(sb.projectPath, "untracked.txt"), "utf8")).toBe("new file\n")
    expect(await Bun.file(join(sb.projectPath, "ignored.log")).exists()).toBe(false)
    // The changes stay uncommitted in the sandbox, as on the laptop.
    expect(git(sb.projectPath, "status", "--porcelain")).toBe(git(dir, "status", "--porcelain"))

    // What happens in the sandbox comes back as a patch that applies to the laptop's tree.
    await writeFile(join(sb.projectPath, "tracked.txt"), "one\ntwo (uncommitted)\nthree (sandbox)\n")
    await writeFile(join(sb.projectPath, "from-sandbox.txt"), "made remotely\n")
    const patch = await sandboxes.pullPatch(sb)
    const patchFile = join(root, "pulled.patch")
    await writeFile(patchFile, patch)
    git(dir, "apply", patchFile)
    expect(await readFile(join(dir, "tracked.txt"), "utf8")).toBe("one\ntwo (uncommitted)\nthree (sandbox)\n")
    expect(await readFile(join(dir, "from-sandbox.txt"), "utf8")).toBe("made remotely\n")
    expect(new TextDecoder().decode(patch)).not.toContain("untracked.txt")
  })

  it("uploads the working tree when there is no remote, leaving ignored files behind", async () => {
    const dir = await projectDir("uploaded")
    git(dir, "init", "-q")
    await writeFile(join(dir, ".gitignore"), "secret.env\nbuild/\n")
    await mkdir(join(dir, "src"), { recursive: true })
    await mkdir(join(dir, "build"), { recursive: true })
    await writeFile(join(dir, "src", "main.ts"), "export const x = 1\n")
    await writeFile(join(dir, "secret.env"), "TOKEN=do-not-upload-4471\n")
    await writeFile(join(dir, "build", "out.js"), "compiled\n")
    const sb = await sandboxes.ensureSandbox(dir)
    const synced = await sandboxes.syncCode(sb, dir)
    expect(synced.mode).toBe("upload")
    expect(await readFile(join(sb.projectPath, "src", "main.ts"), "utf8")).toBe("export const x = 1\n")
    expect(await readFile(join(sb.projectPath, ".gitignore"), "utf8")).toBe("secret.env\nbuild/\n")
    expect(await Bun.file(join(sb.projectPath, "secret.env")).exists()).toBe(false)
    expect(await Bun.file(join(sb.projectPath, "build", "out.js")).exists()).toBe(false)
    expect(fake.requests.some((r) => r.body.includes("do-not-upload-4471"))).toBe(false)
    // pullPatch works here too: against the uploaded tree.
    await writeFile(join(sb.projectPath, "src", "main.ts"), "export const x = 2\n")
    expect(new TextDecoder().decode(await sandboxes.pullPatch(sb))).toContain("+export const x = 2")
  })

  it("refuses a working tree over the upload limit with a clear error", async () => {
    const dir = await projectDir("too-large")
    await writeFile(join(dir, "big.bin"), new Uint8Array(64 * 1024))
    const small = new DaytonaSandboxes({ ...settings, uploadLimitBytes: 16 * 1024 })
    const sb = await small.ensureSandbox(dir)
    const f = await failure(small.syncCode(sb, dir))
    expect(f.reason).toBe("too-large")
    expect(f.message).toContain("upload limit")
  })

  describe("Claude Code in the sandbox", () => {
    let anthropic: FakeAnthropic
    let sb: ProjectSandbox
    let stdout = ""
    let stderr = ""
    let exitCode: number | null = -1

    beforeAll(async () => {
      const dir = await projectDir("claude")
      await writeFile(join(dir, "README.md"), "# claude project\n")
      sb = await sandboxes.ensureSandbox(dir)
      await sandboxes.syncCode(sb, dir)
      anthropic = startFakeAnthropic({
        main: [
          {
            blocks: [
              { type: "text", text: "Creating a file in the sandbox." },
              {
                type: "tool_use",
                name: "Bash",
                input: { command: "echo written-by-claude > claude.txt", description: "Write a file" },
              },
            ],
            usage: { input: 101, output: 11, cacheWrite: 0, cacheRead: 0 },
          },
          {
            blocks: [{ type: "text", text: "Done in the sandbox." }],
            usage: { input: 102, output: 12, cacheWrite: 0, cacheRead: 0 },
          },
        ],
      })
      const sandboxRoot = fake.sandboxes.get(sb.id)!.root
      const run = await sandboxes.runClaude(sb, {
        prompt: "Write claude.txt, please.",
        env: {
          ANTHROPIC_BASE_URL: anthropic.url,
          DISABLE_TELEMETRY: "1",
          DISABLE_ERROR_REPORTING: "1",
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
          CLAUDE_CODE_TMPDIR: join(sandboxRoot, "tmp"),
        },
      })
      ;[stdout, stderr, exitCode] = await Promise.all([collect(run.stdout), collect(run.stderr), run.exitCode])
    }, 120_000)

    afterAll(async () => {
      await anthropic?.stop()
    })

    it("streams stdout (stream-json) and reads the exit code", () => {
      expect(exitCode, stderr).toBe(0)
      const messages = stdout
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as { type: string; subtype?: string; cwd?: string; result?: string })
      expect(messages[0]).toMatchObject({ type: "system", subtype: "init", cwd: sb.projectPath })
      expect(messages.at(-1)).toMatchObject({ type: "result", result: "Done in the sandbox." })
      expect(anthropic.errors).toEqual([])
    })

    it("keeps stderr apart from stdout", async () => {
      // A resume of an unknown session: Claude Code says so on stderr and exits 1.
      const run = await sandboxes.runClaude(sb, {
        prompt: "again",
        resume: "00000000-0000-4000-8000-000000000000",
        env: { ANTHROPIC_BASE_URL: anthropic.url },
      })
      const [out, err, code] = await Promise.all([collect(run.stdout), collect(run.stderr), run.exitCode])
      expect(code).toBe(1)
      expect(err).toContain("No conversation found")
      expect(err).not.toContain('"type"')
      // stdout carries only stream-json: every line parses, the last is the error result.
      const lines = out.split("\n").filter((l) => l.trim() !== "")
      const parsed = lines.map((l) => JSON.parse(l) as { type: string; is_error?: boolean })
      expect(parsed.at(-1)).toMatchObject({ type: "result", is_error: true })
    })

    it("downloads the session files byte for byte, under a machine named for the sandbox", async () => {
      // A fresh instance (as after a daemon restart) works from the ref alone.
      const { machineName, files } = await new DaytonaSandboxes(settings).downloadSessionFiles(sb)
      expect(machineName).toBe(`daytona-${sb.name}`)
      expect(files.length).toBeGreaterThanOrEqual(1)
      const projects = join(sb.home, ".claude", "projects")
      for (const f of files) {
        expect(f.relativePath).toMatch(/^[^/]+\/.+\.jsonl$/)
        expect(Buffer.from(f.bytes).equals(await readFile(join(projects, f.relativePath)))).toBe(true)
      }
      const text = files.map((f) => new TextDecoder().decode(f.bytes)).join("")
      expect(text).toContain("Write claude.txt, please.")
    })

    it("returns what Claude changed as a patch", async () => {
      const patch = new TextDecoder().decode(await sandboxes.pullPatch(sb))
      expect(patch).toContain("+++ b/claude.txt")
      expect(patch).toContain("+written-by-claude")
    })

    it("cancels a run: its session is deleted and the streams end", async () => {
      const slow = startFakeAnthropic(unansweredScript())
      try {
        const run = await sandboxes.runClaude(sb, { prompt: "Take your time.", env: { ANTHROPIC_BASE_URL: slow.url } })
        const out = collect(run.stdout)
        await waitFor("Claude Code to ask the API", () => slow.requests.some((r) => r.kind === "main"), 30_000)
        await run.cancel()
        expect(await run.exitCode).toBeNull()
        expect(await out).toContain('"subtype":"init"')
        expect(fake.requests.some((r) => r.method === "DELETE" && r.path === `/process/session/${run.sessionId}`)).toBe(
          true,
        )
      } finally {
        await slow.stop()
      }
    })

    it("passes the Anthropic key into the sandbox, and to Daytona only through the toolbox", () => {
      const keyed = anthropic.requests.filter((r) => r.path.startsWith("/v1/messages"))
      expect(keyed.length).toBeGreaterThan(0)
      for (const r of keyed) expect(r.headers["x-api-key"]).toBe(ANTHROPIC_KEY)
      const carrying = fake.requests.filter((r) =>
        [r.body, r.query, JSON.stringify(r.headers)].some((s) => s.includes(ANTHROPIC_KEY)),
      )
      expect(carrying.length).toBeGreaterThan(0)
      for (const r of carrying) expect(`${r.plane} ${r.method} ${r.path}`).toBe("toolbox POST /files/bulk-upload")
      // The env file is deleted by the command that sources it.
      expect(fake.requests.filter((r) => r.path.endsWith("/exec")).every((r) => !r.body.includes(ANTHROPIC_KEY))).toBe(
        true,
      )
    })
  })

  it("lists, stops, restarts and removes Overlord's sandboxes", async () => {
    const dir = await projectDir("lifecycle")
    const sb = await sandboxes.ensureSandbox(dir)
    const listed = await sandboxes.list()
    expect(listed.find((s) => s.id === sb.id)).toMatchObject({
      name: sb.name,
      state: "started",
      projectName: "lifecycle",
    })
    await sandboxes.stop(sb.name)
    expect(fake.sandboxes.get(sb.id)?.state).toBe("stopped")
    const again = await sandboxes.ensureSandbox(dir)
    expect(again.id).toBe(sb.id)
    expect(fake.requests.some((r) => r.path === `/sandbox/${sb.id}/start`)).toBe(true)
    expect(fake.sandboxes.get(sb.id)?.state).toBe("started")
    await sandboxes.remove(sb.id)
    expect((await sandboxes.list()).some((s) => s.id === sb.id)).toBe(false)
    expect(fake.errors).toEqual([])
  })
})
