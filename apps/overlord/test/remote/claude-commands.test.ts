/**
 * Remote `claude` commands with the real Claude Code CLI against the scripted fake Anthropic API:
 * a run and its resume, permission prompts answered both ways, a follow-up mid-run, a cancel.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import {
  FOLLOW_UP_ANSWER,
  followUp,
  longBash,
  permissionWrite,
  REMOTE_FILE,
  REMOTE_FILE_CONTENT,
  resume,
  slowStream,
} from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterEach, describe, expect, it } from "vitest"
import { assistantTexts, cliMessages, groupGone, makeRig, type RemoteRig } from "./support.ts"

let rig: RemoteRig | undefined
/** A rig that `afterEach` disposes. */
const use = async (...args: Parameters<typeof makeRig>): Promise<RemoteRig> => {
  rig = await makeRig(...args)
  return rig
}
afterEach(async () => {
  await rig?.dispose()
  rig = undefined
})

/** Waits for the command's permission request and returns its id. */
const permissionRequest = (r: RemoteRig, commandId: string) =>
  waitFor("a permission request", () => {
    const e = r.eventsOf(commandId).find((e) => e.event.kind === "permission-request")
    return e?.event.kind === "permission-request" ? e.event : null
  })

describe("remote claude commands", () => {
  it("runs a prompt with its events in order, writes the session file, and resumes that session", async () => {
    const r = await use(resume)
    await r.runner.accept(r.claudeCommand("run-1"))
    const exit = await r.exitOf("run-1")
    expect(exit, JSON.stringify(exit)).toMatchObject({ status: "completed", exitCode: 0 })
    expect(exit.sessionId).toMatch(/^[0-9a-f-]{36}$/)

    const mine = r.sent.filter((m) => m.commandId === "run-1")
    expect(mine[0]).toEqual({ type: "command-ack", commandId: "run-1" })
    expect(mine.at(-1)).toBe(exit)
    const events = r.eventsOf("run-1")
    expect(events.map((e) => e.eventSeq)).toEqual(events.map((_, i) => i))
    const messages = cliMessages(events)
    expect(messages[0]).toMatchObject({ type: "system", subtype: "init", session_id: exit.sessionId })
    expect(messages.at(-1)).toMatchObject({ type: "result", subtype: "success", session_id: exit.sessionId })
    expect(assistantTexts(events)).toEqual(["Hello from the first run."])
    expect(existsSync(join(r.claude.sessionsDir, `${exit.sessionId}.jsonl`))).toBe(true)

    await r.runner.accept(
      r.claudeCommand("run-2", { prompt: resume("/").prompts[1]!, resumeSessionId: exit.sessionId! }),
    )
    const resumed = await r.exitOf("run-2")
    expect(resumed, JSON.stringify(resumed)).toMatchObject({ status: "completed", sessionId: exit.sessionId })
    expect(assistantTexts(r.eventsOf("run-2"))).toEqual(["The resumed run finished."])
    const session = await readFile(join(r.claude.sessionsDir, `${exit.sessionId}.jsonl`), "utf8")
    expect(session).toContain("resumed-ok")
    expect(r.fake?.errors).toEqual([])

    const audit = await r.audit()
    for (const id of ["run-1", "run-2"])
      expect(audit.filter((a) => a.commandId === id).map((a) => a.event)).toEqual(["received", "started", "exit"])
    expect(audit.find((a) => a.commandId === "run-1" && a.event === "exit")).toMatchObject({ status: "completed" })
    expect(audit.find((a) => a.commandId === "run-1" && a.event === "received")).toMatchObject({
      kind: "claude",
      projectDir: r.claude.projectDir,
      prompt: resume("/").prompts[0],
    })
  })

  it("asks permission for a Write: allowed, the file is written", async () => {
    const r = await use(permissionWrite)
    await r.runner.accept(r.claudeCommand("allow-1", { permissionMode: "default" }))
    const request = await permissionRequest(r, "allow-1")
    expect(request.toolName).toBe("Write")
    expect(request.input).toMatchObject({ file_path: join(r.claude.projectDir, REMOTE_FILE) })
    expect(existsSync(join(r.claude.projectDir, REMOTE_FILE))).toBe(false)
    await r.runner.accept({
      type: "command-input",
      commandId: "allow-1",
      input: { kind: "permission", requestId: request.requestId, decision: "allow" },
    })
    expect(await r.exitOf("allow-1")).toMatchObject({ status: "completed" })
    expect(await readFile(join(r.claude.projectDir, REMOTE_FILE), "utf8")).toBe(REMOTE_FILE_CONTENT)
    const audit = await r.audit()
    expect(audit.find((a) => a.event === "permission-request")).toMatchObject({
      commandId: "allow-1",
      requestId: request.requestId,
      toolName: "Write",
    })
    expect(audit.find((a) => a.event === "permission-answer")).toMatchObject({
      commandId: "allow-1",
      requestId: request.requestId,
      decision: "allow",
      accepted: true,
    })
  })

  it("asks permission for a Write: denied, nothing is written and the model is told why", async () => {
    const r = await use(permissionWrite)
    await r.runner.accept(r.claudeCommand("deny-1", { permissionMode: "default" }))
    const request = await permissionRequest(r, "deny-1")
    await r.runner.accept({
      type: "command-input",
      commandId: "deny-1",
      input: { kind: "permission", requestId: request.requestId, decision: "deny", message: "Not from the train." },
    })
    expect(await r.exitOf("deny-1")).toMatchObject({ status: "completed" })
    expect(existsSync(join(r.claude.projectDir, REMOTE_FILE))).toBe(false)
    const toolResults = cliMessages(r.eventsOf("deny-1"))
      .filter((m) => m.type === "user")
      .flatMap((m) => (m.message as { content: unknown }).content as Array<Record<string, unknown>>)
      .filter((b) => typeof b === "object" && b.type === "tool_result")
    expect(toolResults).toHaveLength(1)
    expect(toolResults[0]).toMatchObject({ is_error: true })
    expect(JSON.stringify(toolResults[0]!.content)).toContain("Not from the train.")
    expect((await r.audit()).find((a) => a.event === "permission-answer")).toMatchObject({
      decision: "deny",
      message: "Not from the train.",
      accepted: true,
    })
  })

  it("cancels while a permission prompt is open: the prompt is withdrawn, nothing is written", async () => {
    const r = await use(permissionWrite)
    await r.runner.accept(r.claudeCommand("cancel-3", { permissionMode: "default" }))
    const request = await permissionRequest(r, "cancel-3")
    await r.runner.accept({ type: "command-input", commandId: "cancel-3", input: { kind: "cancel" } })
    expect(await r.exitOf("cancel-3")).toMatchObject({ status: "cancelled" })
    expect(r.eventsOf("cancel-3").map((e) => e.event)).toContainEqual({
      kind: "permission-cancelled",
      requestId: request.requestId,
    })
    expect(existsSync(join(r.claude.projectDir, REMOTE_FILE))).toBe(false)
    // An answer that comes too late is recorded as not taken.
    await r.runner.accept({
      type: "command-input",
      commandId: "cancel-3",
      input: { kind: "permission", requestId: request.requestId, decision: "allow" },
    })
    const audit = await r.audit()
    expect(audit.map((a) => a.event)).toEqual([
      "received",
      "started",
      "permission-request",
      "cancel",
      "exit",
      "input-ignored",
    ])
  })

  it("answers a follow-up sent while the first answer is still coming", async () => {
    const r = await use(followUp(2500))
    await r.runner.accept(r.claudeCommand("follow-1"))
    await waitFor("the CLI to ask the API", () => r.fake!.requests.some((q) => q.kind === "main"))
    await r.runner.accept({
      type: "command-input",
      commandId: "follow-1",
      input: { kind: "message", text: "And a follow-up." },
    })
    const exit = await r.exitOf("follow-1")
    expect(exit, JSON.stringify(exit)).toMatchObject({ status: "completed" })
    expect(assistantTexts(r.eventsOf("follow-1"))).toEqual(["A slow first answer.", FOLLOW_UP_ANSWER])
    expect(r.fake?.errors).toEqual([])
    expect((await r.audit()).find((a) => a.event === "follow-up")).toMatchObject({
      commandId: "follow-1",
      accepted: true,
    })
  })

  it("answers a follow-up sent while a tool runs (the CLI folds it into the same turn)", async () => {
    // A duration no other test uses, so the wait below finds this run's tool and no one else's.
    const r = await use(longBash(3.217))
    await r.runner.accept(r.claudeCommand("follow-2", { allowTools: ["Bash"] }))
    await waitFor("the Bash tool's sleep", () =>
      execFileSync("ps", ["-A", "-o", "args="], { encoding: "utf8" })
        .split("\n")
        .some((l) => l.trim() === "sleep 3.217"),
    )
    await r.runner.accept({
      type: "command-input",
      commandId: "follow-2",
      input: { kind: "message", text: "Also, hurry." },
    })
    const exit = await r.exitOf("follow-2")
    expect(exit, JSON.stringify(exit)).toMatchObject({ status: "completed", exitCode: 0 })
    const messages = cliMessages(r.eventsOf("follow-2"))
    expect(messages.filter((m) => m.type === "user" && m.isReplay === true).map((m) => m.message)).toEqual([
      { role: "user", content: "Wait a while in the shell." },
      { role: "user", content: "Also, hurry." },
    ])
    // One turn answered both: one result, and the run ended on it instead of waiting for another.
    expect(messages.filter((m) => m.type === "result")).toHaveLength(1)
    expect(assistantTexts(r.eventsOf("follow-2"))).toEqual(["Done waiting."])
    expect(r.fake?.errors).toEqual([])
  })

  it("stops a run at its time limit: timed-out, its process group gone", async () => {
    const r = await use(slowStream(60))
    // 5 s: long enough for the CLI to reach the API first even on a loaded machine (at load 7.5 it
    // took up to 1.3 s to start, and a 1.5 s limit sometimes ended it before its first request).
    await r.runner.accept(r.claudeCommand("late-1", { timeoutMs: 5000, model: "claude-sonnet-4-5" }))
    const pgid = r.runner.processGroup("late-1")!
    const exit = await r.exitOf("late-1")
    expect(exit, JSON.stringify(exit)).toMatchObject({
      status: "timed-out",
      message: expect.stringContaining("5000 ms"),
    })
    await groupGone(pgid)
    // The command's model reached the API.
    const main = r.fake!.requests.filter((q) => q.kind === "main")
    expect(main.map((q) => (q.body as { model?: unknown }).model)).toEqual(["claude-sonnet-4-5"])
  })

  it("cancels: interrupts the CLI, then its process group is gone", async () => {
    const r = await use(slowStream(60))
    await r.runner.accept(r.claudeCommand("cancel-1"))
    const pgid = r.runner.processGroup("cancel-1")
    expect(pgid).toBeGreaterThan(0)
    // The answer has started streaming and has a minute to go.
    await r.fake!.waitForMainTurns(1)
    await r.runner.accept({ type: "command-input", commandId: "cancel-1", input: { kind: "cancel" } })
    const exit = await r.exitOf("cancel-1")
    expect(exit, JSON.stringify(exit)).toMatchObject({ status: "cancelled", message: "cancelled by the user" })
    // The interrupt came first and the CLI honoured it: it ended its turn before the group was ended.
    expect(cliMessages(r.eventsOf("cancel-1")).at(-1)).toMatchObject({
      type: "result",
      subtype: "error_during_execution",
    })
    await groupGone(pgid!)
    expect(r.runner.runningIds()).toEqual([])
    expect((await r.audit()).map((a) => a.event)).toEqual(["received", "started", "cancel", "exit"])
  })

  it("cancels while a tool runs: the tool's own process group goes too", async () => {
    const r = await use(longBash(617))
    await r.runner.accept(r.claudeCommand("cancel-2", { allowTools: ["Bash"] }))
    const pgid = r.runner.processGroup("cancel-2")!
    // Claude Code runs the Bash tool in a session of its own: a group other than the CLI's.
    const toolGroup = await waitFor("the Bash tool's sleep", () => {
      const line = execFileSync("ps", ["-A", "-o", "pgid=,args="], { encoding: "utf8" })
        .split("\n")
        .find((l) => /\bsleep 617$/.test(l.trim()))
      return line ? Number(line.trim().split(/\s+/)[0]) : null
    })
    expect(toolGroup).not.toBe(pgid)
    await r.runner.accept({ type: "command-input", commandId: "cancel-2", input: { kind: "cancel" } })
    expect(await r.exitOf("cancel-2")).toMatchObject({ status: "cancelled" })
    await groupGone(pgid)
    await groupGone(toolGroup)
  })
})
