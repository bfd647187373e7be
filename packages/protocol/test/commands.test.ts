import { Commands } from "@overlord/protocol"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"

const decodeServer = Schema.decodeUnknownExit(Commands.CommandServerMessageFromJson)
const decodeDaemon = Schema.decodeUnknownExit(Commands.CommandDaemonMessageFromJson)
const ok = (exit: { readonly _tag: string }) => exit._tag === "Success"

const claude = { type: "command", commandId: "c-1", kind: "claude", prompt: "Say hi.", projectDir: "/home/me/app" }

describe("remote command protocol", () => {
  it("decodes claude and shell commands with their options", () => {
    expect(ok(decodeServer(JSON.stringify(claude)))).toBe(true)
    const full = {
      ...claude,
      resumeSessionId: "712c9860-16ff-4f4d-9813-f0e5ae87eb7f",
      model: "claude-opus-5-5",
      permissionMode: "acceptEdits",
      allowTools: ["Read", "Bash(git status:*)"],
      timeoutMs: 60_000,
    }
    expect(ok(decodeServer(JSON.stringify(full)))).toBe(true)
    const shell = {
      type: "command",
      commandId: "s-1",
      kind: "shell",
      argv: ["git", "status"],
      projectDir: "/home/me/app",
    }
    expect(ok(decodeServer(JSON.stringify(shell)))).toBe(true)
  })

  it("refuses malformed commands", () => {
    const bad = [
      { ...claude, projectDir: "relative/dir" },
      { ...claude, projectDir: "/a\0b" },
      { ...claude, prompt: "" },
      { ...claude, commandId: "" },
      { ...claude, commandId: "has space" },
      { ...claude, permissionMode: "yolo" },
      { ...claude, resumeSessionId: "../x" },
      { ...claude, kind: "python" },
      { type: "command", commandId: "s", kind: "shell", argv: [], projectDir: "/x" },
    ]
    for (const message of bad) expect(ok(decodeServer(JSON.stringify(message))), JSON.stringify(message)).toBe(false)
  })

  it("decodes each kind of input", () => {
    for (const input of [
      { kind: "message", text: "And the tests?" },
      { kind: "permission", requestId: "r1", decision: "allow" },
      { kind: "permission", requestId: "r1", decision: "deny", message: "not that file" },
      { kind: "cancel" },
    ])
      expect(ok(decodeServer(JSON.stringify({ type: "command-input", commandId: "c-1", input })))).toBe(true)
    const maybe = {
      type: "command-input",
      commandId: "c-1",
      input: { kind: "permission", requestId: "r", decision: "maybe" },
    }
    expect(ok(decodeServer(JSON.stringify(maybe)))).toBe(false)
  })

  it("decodes the daemon's ack, events and exit", () => {
    const messages = [
      { type: "command-ack", commandId: "c-1" },
      { type: "command-ack", commandId: "c-1", duplicate: true },
      {
        type: "command-event",
        commandId: "c-1",
        eventSeq: 0,
        event: { kind: "cli", message: { type: "system", n: [1, null] } },
      },
      {
        type: "command-event",
        commandId: "c-1",
        eventSeq: 1,
        event: { kind: "permission-request", requestId: "r", toolName: "Write", input: { file_path: "/x" } },
      },
      { type: "command-event", commandId: "c-1", eventSeq: 2, event: { kind: "stderr", text: "warning" } },
      { type: "command-exit", commandId: "c-1", status: "completed", exitCode: 0, sessionId: "s" },
      { type: "command-exit", commandId: "c-1", status: "refused", reason: "path-escape", message: "no" },
    ]
    for (const message of messages)
      expect(ok(decodeDaemon(JSON.stringify(message))), JSON.stringify(message)).toBe(true)
    const bad = [
      { type: "command-exit", commandId: "c-1", status: "exploded" },
      { type: "command-exit", commandId: "c-1", status: "refused", reason: "because" },
      { type: "command-event", commandId: "c-1", eventSeq: -1, event: { kind: "stderr", text: "" } },
      { type: "command-event", commandId: "c-1", eventSeq: 0, event: { kind: "cli", message: [1] } },
    ]
    for (const message of bad) expect(ok(decodeDaemon(JSON.stringify(message))), JSON.stringify(message)).toBe(false)
  })
})
