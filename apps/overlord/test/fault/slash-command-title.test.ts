/**
 * Found in walkthrough 3 (the real-session corpus on `overlord start`): a session started with a prompt
 * command (`/erk:plan-implement 8511`, a plugin's skill, `/init`) had no title: the session list read
 * "untitled a5c478e1" and its page the whole id (5 of erk's 7 sessions). Claude Code writes the command
 * as `<command-message>…<command-name>…<command-args>…` XML, the expanded prompt in a meta record after
 * it. Its title is now the command as typed; a local command (`/clear`) still gives none.
 * Real CLI (`overlord start`, embedded server) and its HTTP API.
 */
import { spawnSync } from "node:child_process"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { OVERLORD_SOURCE_BIN } from "@overlord/testkit/overlord-process"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const COMMAND = "e1e1e1e1-0000-4000-8000-000000000001"
const LOCAL = "e2e2e2e2-0000-4000-8000-000000000002"
const user = (content: string, extra: Record<string, unknown> = {}) => ({
  message: { role: "user", content },
  ...extra,
})

describe("a session started with a slash command", () => {
  let root: string
  let home: string
  let titles: () => Promise<Record<string, string | null>>
  const overlord = (...args: string[]) =>
    spawnSync("bun", [OVERLORD_SOURCE_BIN, "--home", home, ...args], { encoding: "utf8", timeout: 60_000 })

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "overlord-slash-title-"))
    home = join(root, "home")
    const project = join(root, "claude", "projects", "-home-dev-slash")
    await mkdir(project, { recursive: true })
    const command = [
      sessionRecord(
        COMMAND,
        0,
        user(
          "<command-message>erk:plan-implement is running…</command-message>\n<command-name>/erk:plan-implement</command-name>\n<command-args>8511</command-args>",
        ),
      ),
      sessionRecord(COMMAND, 2, user("# /erk:plan-implement\n\nImplement a plan…", { isMeta: true })),
    ]
    await writeFile(join(project, `${COMMAND}.jsonl`), `${command.join("\n")}\n`)
    const local = sessionRecord(
      LOCAL,
      0,
      user(
        "<command-name>/clear</command-name>\n            <command-message>clear</command-message>\n            <command-args></command-args>",
      ),
    )
    await writeFile(join(project, `${LOCAL}.jsonl`), `${local}\n`)
    const r = overlord("start", "--claude-dir", join(root, "claude"), "--port", "0")
    expect(r.status, r.stderr).toBe(0)
    const creds = JSON.parse(await readFile(join(home, "credentials.json"), "utf8")) as {
      serverUrl: string
      apiToken: string
    }
    titles = async () => {
      const res = await fetch(`${creds.serverUrl}/api/v1/sessions`, {
        headers: { authorization: `Bearer ${creds.apiToken}` },
      })
      const body = (await res.json()) as { sessions: { sessionId: string; title: string | null }[] }
      return Object.fromEntries(body.sessions.map((s) => [s.sessionId, s.title]))
    }
    await waitFor("both sessions synced", async () => Object.keys(await titles()).length === 2, 30_000)
  })

  afterAll(async () => {
    overlord("stop")
    await rm(root, { recursive: true, force: true })
  })

  it("is titled with the command as typed; one started with /clear stays untitled", async () => {
    const t = await titles()
    expect(t[COMMAND]).toBe("/erk:plan-implement 8511")
    expect(t[LOCAL]).toBeNull()
    expect(overlord("sessions").stdout).toContain("/erk:plan-implement 8511")
  })
})
