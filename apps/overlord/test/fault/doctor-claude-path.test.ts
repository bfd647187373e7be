/**
 * Found in walkthrough-4: with `OVERLORD_CLAUDE_PATH` set (what the daemon runs for remote commands) and
 * no `claude` on PATH, `overlord doctor` said "no `claude` on PATH" though commands ran fine; and with
 * it set to a path where nothing is, doctor said the same instead of naming the wrong path.
 */
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { claudeBinary } from "@overlord/testkit/claude-cli"
import { OVERLORD_BIN } from "@overlord/testkit/overlord-process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

describe("overlord doctor and OVERLORD_CLAUDE_PATH", () => {
  let root: string
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-doctor-claude-"))
  })
  afterAll(() => rm(root, { recursive: true, force: true }))

  const doctor = (claudePath: string) => {
    const proc = Bun.spawnSync(
      [process.execPath, OVERLORD_BIN, "--home", join(root, "home"), "doctor", "--ollama-url", "off"],
      {
        // A PATH without any `claude`.
        env: { PATH: "/usr/bin:/bin", HOME: root, OVERLORD_CLAUDE_PATH: claudePath },
      },
    )
    return { code: proc.exitCode, out: proc.stdout.toString() }
  }

  it("finds the CLI the daemon runs", async () => {
    const claude = await claudeBinary()
    const { out } = doctor(claude)
    expect(out).toContain(`ok    Claude Code CLI found at ${claude}`)
  })

  it("names a path where nothing is as a problem", () => {
    const missing = join(root, "nowhere", "claude")
    const { code, out } = doctor(missing)
    expect(out).toContain(`FAIL  OVERLORD_CLAUDE_PATH is ${missing}, which does not exist`)
    expect(code).not.toBe(0)
  })
})
