/**
 * The command runner's gatekeeping and bookkeeping: refusals with their typed reasons, ids that
 * never run twice (redelivery, restarts, a crash mid-run), shell commands, limits, the audit log.
 */
import { execFileSync } from "node:child_process"
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { Commands } from "@overlord/protocol"
import { resume, slowStream } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterEach, describe, expect, it } from "vitest"
import { silentLogger } from "../../src/logger.ts"
import { CommandJournal } from "../../src/remote/command-journal.ts"
import { remotePaths } from "../../src/remote/command-runner.ts"
import { ENABLED, groupGone, makeRig, type RemoteRig } from "./support.ts"

let rig: RemoteRig | undefined
const use = async (...args: Parameters<typeof makeRig>): Promise<RemoteRig> => {
  rig = await makeRig(...args)
  return rig
}
afterEach(async () => {
  await rig?.dispose()
  rig = undefined
})

const shell = (commandId: string, argv: string[], projectDir: string, timeoutMs?: number): Commands.ShellCommand => ({
  type: "command",
  commandId,
  kind: "shell",
  argv,
  projectDir,
  ...(timeoutMs !== undefined ? { timeoutMs } : {}),
})

/** Refused commands: the ack, then the exit with its reason, and nothing else. */
const expectRefused = async (r: RemoteRig, commandId: string, reason: Commands.RefusalReason) => {
  const mine = r.sent.filter((m) => m.commandId === commandId)
  expect(mine, JSON.stringify(mine)).toEqual([
    { type: "command-ack", commandId },
    { type: "command-exit", commandId, status: "refused", reason, message: expect.any(String) },
  ])
  const audit = (await r.audit()).filter((a) => a.commandId === commandId)
  expect(audit.map((a) => a.event)).toEqual(["received", "refused"])
  expect(audit[1]).toMatchObject({ reason })
}

describe("command runner", () => {
  it("refuses everything while remote commands are off", async () => {
    const r = await use(undefined, { enabled: false })
    await r.runner.accept(r.claudeCommand("off-1"))
    await r.runner.accept(shell("off-2", ["true"], r.claude.projectDir))
    await expectRefused(r, "off-1", "remote-disabled")
    await expectRefused(r, "off-2", "remote-disabled")
    const exit = r.sent.find((m) => m.type === "command-exit")
    expect(exit).toMatchObject({ message: expect.stringContaining("--allow-remote") })
  })

  it("refuses directories other than the known projects, '..' and symlinks that lead out", async () => {
    const r = await use(undefined)
    const project = r.claude.projectDir
    const outside = join(project, "..", "elsewhere")
    await mkdir(outside)
    await mkdir(join(project, "src"))
    await symlink(outside, join(project, "escape"))
    await symlink(join(project, "src"), join(project, "src-link"))

    await r.runner.accept(r.claudeCommand("p-unknown", { projectDir: outside }))
    await r.runner.accept(r.claudeCommand("p-missing", { projectDir: join(project, "no-such-dir") }))
    await r.runner.accept(r.claudeCommand("p-dotdot", { projectDir: `${project}/src/../../elsewhere` }))
    await r.runner.accept(r.claudeCommand("p-dotdot-inside", { projectDir: `${project}/src/..` }))
    await r.runner.accept(r.claudeCommand("p-symlink", { projectDir: join(project, "escape") }))
    await r.runner.accept(r.claudeCommand("p-symlink-deeper", { projectDir: join(project, "escape", ".") }))
    await expectRefused(r, "p-unknown", "unknown-project")
    await expectRefused(r, "p-missing", "unknown-project")
    await expectRefused(r, "p-dotdot", "path-escape")
    await expectRefused(r, "p-dotdot-inside", "path-escape")
    // A symlink out is not the project itself (and a folder inside one is not a project either).
    await expectRefused(r, "p-symlink", "unknown-project")
    await expectRefused(r, "p-symlink-deeper", "unknown-project")

    // A symlink to the project itself is fine: it runs in the real path.
    await symlink(project, join(outside, "project-link"))
    await r.runner.accept(shell("p-link", ["pwd"], join(outside, "project-link")))
    expect(await r.exitOf("p-link")).toMatchObject({ status: "refused", reason: "shell-not-allowed" })
  })

  it("runs allowlisted programs only, in the resolved project folder", async () => {
    const r = await use(undefined, { ...ENABLED, shellAllow: [["pwd"], ["git", "status"]] })
    const project = r.claude.projectDir
    await symlink(project, join(project, "..", "project-link"))
    await r.runner.accept({
      ...shell("sh-1", ["pwd"], join(project, "..", "project-link")),
      requestedBy: "ada@example.com",
    })
    expect(await r.exitOf("sh-1")).toMatchObject({ status: "completed", exitCode: 0 })
    const stdout = r
      .eventsOf("sh-1")
      .flatMap((e) => (e.event.kind === "stdout" ? [e.event.text] : []))
      .join("")
    expect(stdout).toBe(`${project}\n`)
    expect((await r.audit()).find((a) => a.commandId === "sh-1")).toMatchObject({
      event: "received",
      kind: "shell",
      argv: ["pwd"],
      requestedBy: "ada@example.com",
    })

    await r.runner.accept(shell("sh-2", ["git", "push"], project))
    await r.runner.accept(shell("sh-3", ["git"], project))
    await r.runner.accept(shell("sh-4", ["/bin/sh", "-c", "pwd"], project))
    for (const id of ["sh-2", "sh-3", "sh-4"]) await expectRefused(r, id, "shell-not-allowed")

    await r.runner.accept(shell("sh-5", ["pwd", "--no-such-flag"], project))
    const failed = await r.exitOf("sh-5")
    expect(failed).toMatchObject({ status: "failed", exitCode: expect.any(Number) })
    expect(failed.exitCode).not.toBe(0)
    expect(failed.message).toBeTruthy()
  })

  it("refuses shell commands when the allowlist is empty (the default)", async () => {
    const r = await use(undefined)
    await r.runner.accept(shell("sh-off", ["pwd"], r.claude.projectDir))
    await expectRefused(r, "sh-off", "shell-not-allowed")
  })

  it("refuses an over-long prompt and bypassPermissions unless allowed", async () => {
    const r = await use(undefined, { ...ENABLED, maxPromptBytes: 1000 })
    // 334 three-byte characters: under 1000 characters, over 1000 bytes.
    await r.runner.accept(r.claudeCommand("long-1", { prompt: "€".repeat(334) }))
    await r.runner.accept(r.claudeCommand("bypass-1", { permissionMode: "bypassPermissions" }))
    await expectRefused(r, "long-1", "prompt-too-long")
    await expectRefused(r, "bypass-1", "permission-mode-not-allowed")
  })

  it("ends a command at its time limit, its whole process group included", async () => {
    const r = await use(undefined, { ...ENABLED, shellAllow: [["sh", "-c"]] })
    // A child in the background and one in the foreground: both belong to the command's group.
    await r.runner.accept(shell("slow-1", ["sh", "-c", "sleep 60 & sleep 60"], r.claude.projectDir, 500))
    const pgid = r.runner.processGroup("slow-1")
    expect(pgid).toBeGreaterThan(0)
    const exit = await r.exitOf("slow-1")
    expect(exit).toMatchObject({ status: "timed-out", message: expect.stringContaining("500 ms") })
    await groupGone(pgid!)
    expect((await r.audit()).find((a) => a.event === "exit")).toMatchObject({
      commandId: "slow-1",
      status: "timed-out",
    })
  })

  it("ends a command whose program exited even while an escaped descendant holds its output open", async () => {
    const r = await use(undefined, { ...ENABLED, shellAllow: [["sh", "-c"]] })
    // `setsid` leaves the command's group and keeps stdout: reading to the end would wait 10 minutes.
    await r.runner.accept(shell("held-1", ["sh", "-c", "setsid sleep 622 & echo started"], r.claude.projectDir))
    try {
      expect(await r.exitOf("held-1")).toMatchObject({ status: "completed", exitCode: 0 })
      const stdout = r
        .eventsOf("held-1")
        .flatMap((e) => (e.event.kind === "stdout" ? [e.event.text] : []))
        .join("")
      expect(stdout).toBe("started\n")
    } finally {
      // It escaped the command's group by design; the test ends it by its pid.
      const line = execFileSync("ps", ["-A", "-o", "pid=,args="], { encoding: "utf8" })
        .split("\n")
        .find((l) => l.trim().endsWith("sleep 622"))
      if (line) process.kill(Number(line.trim().split(/\s+/)[0]), "SIGKILL")
    }
  })

  it("reports a program that cannot start as failed, with the reason", async () => {
    const r = await use(undefined, { ...ENABLED, shellAllow: [["./no-such-program"]] })
    await r.runner.accept(shell("nostart-1", ["./no-such-program"], r.claude.projectDir))
    const exit = await r.exitOf("nostart-1")
    expect(exit).toMatchObject({ status: "failed", message: expect.stringContaining("could not start") })
    expect(exit.message).toContain("ENOENT")
    expect(r.runner.runningIds()).toEqual([])
    expect((await r.audit()).map((a) => a.event)).toEqual(["received", "started", "exit"])
  })

  it("refuses a command over the concurrency limit", async () => {
    const r = await use(slowStream(60), { ...ENABLED, maxConcurrent: 1 })
    await r.runner.accept(r.claudeCommand("busy-1"))
    await r.runner.accept(r.claudeCommand("busy-2"))
    await expectRefused(r, "busy-2", "concurrency-limit")
    expect(r.runner.runningIds()).toEqual(["busy-1"])
    await r.runner.accept({ type: "command-input", commandId: "busy-1", input: { kind: "cancel" } })
    expect(await r.exitOf("busy-1")).toMatchObject({ status: "cancelled" })
  })

  it("never runs an id twice: a redelivery is acknowledged and answered from the record", async () => {
    const r = await use(resume)
    const command = r.claudeCommand("dup-1")
    // Delivered twice at once (a reconnect racing the first delivery), then again after it ended.
    await Promise.all([r.runner.accept(command), r.runner.accept(command)])
    const exit = await r.exitOf("dup-1")
    expect(exit).toMatchObject({ status: "completed" })
    await r.runner.accept(command)
    // And after a restart, from the journal on disk.
    await r.restart()
    await r.runner.accept(command)

    expect(r.fake!.requests.filter((q) => q.kind === "main")).toHaveLength(1)
    const acks = r.sent.filter((m) => m.type === "command-ack")
    expect(acks).toEqual([
      { type: "command-ack", commandId: "dup-1", duplicate: true },
      { type: "command-ack", commandId: "dup-1" },
      { type: "command-ack", commandId: "dup-1", duplicate: true },
      { type: "command-ack", commandId: "dup-1", duplicate: true },
    ])
    // The recorded exit goes out again with each later duplicate, so a lost exit is recovered.
    expect(r.sent.filter((m) => m.type === "command-exit")).toEqual([exit, exit, exit])
    const events = (await r.audit()).map((a) => a.event)
    expect(events.filter((e) => e === "started")).toHaveLength(1)
    expect(events.filter((e) => e === "duplicate")).toHaveLength(3)
  })

  it("marks a command cut short by a crash interrupted at start-up, and never reruns it", async () => {
    const r = await use(resume)
    await r.runner.close()
    // What a daemon killed mid-run leaves: `started` fsync'd, no exit; and a torn line after it.
    const paths = remotePaths(r.home)
    const journal = new CommandJournal(paths.seen, silentLogger)
    journal.started("crash-1")
    journal.close()
    await writeFile(paths.seen, `${await readFile(paths.seen, "utf8")}{"commandId":"torn`)

    const runner = await r.restart()
    const interrupted = r.sent.find((m) => m.type === "command-exit" && m.commandId === "crash-1")
    expect(interrupted).toMatchObject({ status: "interrupted", message: expect.any(String) })
    // The server redelivers it (it never saw the exit): acknowledged, answered, not run.
    await runner.accept(r.claudeCommand("crash-1"))
    expect(r.sent.filter((m) => m.commandId === "crash-1")).toEqual([
      interrupted,
      { type: "command-ack", commandId: "crash-1", duplicate: true },
      interrupted,
    ])
    expect(runner.runningIds()).toEqual([])
    expect(r.fake!.requests).toEqual([])

    // Interrupted once: a second restart has nothing left to mark, and the torn line did not break the journal.
    await runner.accept(r.claudeCommand("after-1"))
    expect(await r.exitOf("after-1")).toMatchObject({ status: "completed" })
    const before = r.sent.length
    await r.restart()
    expect(r.sent.length).toBe(before)
    const audit = await r.audit()
    expect(audit.filter((a) => a.commandId === "crash-1").map((a) => a.event)).toEqual([
      "interrupted",
      "received",
      "duplicate",
    ])
  })

  it("reports running commands interrupted when the daemon stops", async () => {
    const r = await use(slowStream(60))
    await r.runner.accept(r.claudeCommand("stop-1"))
    const pgid = r.runner.processGroup("stop-1")!
    await r.fake!.waitForMainTurns(1)
    await r.runner.close()
    expect(r.sent.find((m) => m.type === "command-exit")).toMatchObject({ commandId: "stop-1", status: "interrupted" })
    await groupGone(pgid)
    // The exit was recorded: the next start has nothing to mark.
    const before = r.sent.length
    await r.restart()
    expect(r.sent.length).toBe(before)
  })

  it("ignores input for commands that are not running, and says so in the audit log", async () => {
    const r = await use(undefined)
    await r.runner.accept({ type: "command-input", commandId: "ghost", input: { kind: "message", text: "hello?" } })
    await r.runner.accept({ type: "command-input", commandId: "ghost", input: { kind: "cancel" } })
    expect(r.sent).toEqual([])
    await waitFor("the audit lines", async () => (await r.audit()).length === 2)
    expect((await r.audit()).map((a) => [a.event, a.input])).toEqual([
      ["input-ignored", "message"],
      ["input-ignored", "cancel"],
    ])
  })
})
