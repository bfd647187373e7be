/**
 * Text as the model writes it, end to end: the real daemon (bundle, `overlord start --allow-remote`)
 * with its embedded server runs the real Claude Code CLI against the fake Anthropic API, which streams
 * a long answer one SSE delta every 100 ms (`slowStream`). Before, nothing but the CLI's `init` reached
 * the live socket or `overlord run` until the whole text block was complete; now the text arrives in
 * coalesced `command-partial` pieces while the command still runs, a watcher that comes mid-answer gets
 * the text so far, nothing partial is stored, and the stored transcript is the complete message once.
 */
import { spawn } from "node:child_process"
import type { Api, Commands, Live } from "@overlord/protocol"
import { OVERLORD_BIN, type OverlordProcess } from "@overlord/testkit/overlord-process"
import {
  type BearerApi,
  commandEnded,
  openLiveSocket,
  type RemoteCommandRig,
  remoteDaemonReady,
  startRemoteCommandRig,
} from "@overlord/testkit/remote-commands"
import { repeated, SLOW_STREAM_SENTENCE, slowStream } from "@overlord/testkit/scenarios"
import { waitFor } from "@overlord/testkit/wait"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

/** Seconds of answer: 10 sentences (deltas) a second. */
const SECONDS = 6
const WHOLE = SLOW_STREAM_SENTENCE.repeat(SECONDS * 10)

/** The text blocks of the stored `assistant` events. */
const storedTexts = (events: readonly Api.CommandEventDto[]): string[] =>
  events.flatMap((e) => {
    if (e.event.kind !== "cli" || e.event.message.type !== "assistant") return []
    const content = (e.event.message.message as { content?: Array<{ type?: string; text?: string }> }).content ?? []
    return content.flatMap((b) => (b.type === "text" && typeof b.text === "string" ? [b.text] : []))
  })

/** A block's text from the pieces one socket got, each checked to continue where the last ended. */
const joinPieces = (pieces: readonly Commands.PartialBlock[]): string => {
  let text = ""
  for (const p of pieces) {
    expect(p.from).toBe(text.length)
    text += p.text
  }
  return text
}

const partialsOf = (live: readonly Live.LiveMessage[]): Commands.PartialBlock[] =>
  live.flatMap((m) => (m.type === "command-partial" ? m.blocks : []))

describe("text streams as the model writes it", () => {
  let rig: RemoteCommandRig | undefined
  let daemon: OverlordProcess
  let api: BearerApi
  let serverUrl: string
  let apiToken: string
  let machineId: string

  beforeAll(async () => {
    rig = await startRemoteCommandRig(
      "overlord-partial-",
      repeated(slowStream(SECONDS), 2),
      "00000000-0000-4000-8000-000000000077",
    )
    daemon = rig.startDaemon()
    const ready = await remoteDaemonReady<Api.Machine>(daemon, rig.home, [rig.claude.projectDir])
    ;({ api, serverUrl, apiToken } = ready)
    machineId = ready.machine.machineId
  }, 120_000)

  afterAll(() => rig?.cleanup())

  it("reaches the live socket while the command runs, a late watcher gets the text so far, and only the complete message is stored", async () => {
    const created = await api<Api.CommandCreated>("/commands", {
      machineId,
      projectDir: rig!.claude.projectDir,
      prompt: rig!.scenario.prompts[0],
    })
    expect(created.status).toBe(201)
    const { commandId } = created.body.command
    const live: Live.LiveMessage[] = []
    const ws = await openLiveSocket(serverUrl, apiToken, live)
    ws.send(JSON.stringify({ type: "watch-command", commandId, afterEventSeq: -1 } satisfies Live.WatchCommand))

    // The first pieces, while the command runs and before its text is stored.
    await waitFor("text being written", () => partialsOf(live).some((p) => p.text.length > 0) || null, 30_000)
    const early = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body
    expect(early.command.endedAt).toBeNull()
    expect(early.command.status).toBe("running")
    expect(storedTexts(early.events)).toEqual([])

    // A dashboard opened mid-answer: after the stored events, the text so far from its start.
    await waitFor("more text", () => joinPieces(partialsOf(live)).length >= 3 * SLOW_STREAM_SENTENCE.length || null)
    const late: Live.LiveMessage[] = []
    const lateWs = await openLiveSocket(serverUrl, apiToken, late)
    lateWs.send(JSON.stringify({ type: "watch-command", commandId, afterEventSeq: -1 } satisfies Live.WatchCommand))
    const lateFirst = await waitFor("the late watcher's text", () => partialsOf(late)[0] ?? null, 30_000)
    expect(lateFirst.from).toBe(0)
    expect(lateFirst.text.length).toBeGreaterThanOrEqual(3 * SLOW_STREAM_SENTENCE.length)
    expect(WHOLE.startsWith(lateFirst.text)).toBe(true)
    // It came after the events it follows (the init), never before them.
    const lateEventsAt = late.findIndex((m) => m.type === "command-events")
    const latePartialAt = late.findIndex((m) => m.type === "command-partial")
    expect(lateEventsAt).toBeGreaterThanOrEqual(0)
    expect(lateEventsAt).toBeLessThan(latePartialAt)

    const ended = await commandEnded<Api.CommandSummary>(api, commandId)
    expect(ended.status).toBe("completed")
    ws.close()
    lateWs.close()

    // Each socket's pieces continue one another and are a prefix of the whole text.
    const streamed = joinPieces(partialsOf(live))
    expect(WHOLE.startsWith(streamed)).toBe(true)
    expect(WHOLE.startsWith(joinPieces(partialsOf(late)))).toBe(true)
    // Coalesced: fewer messages than the API's deltas, each carrying what came since the last.
    expect(live.filter((m) => m.type === "command-partial").length).toBeLessThan(SECONDS * 10)
    // What is stored: the complete message, once; no stream_event line, no partial.
    const detail = (await api<Api.CommandDetail>(`/commands/${commandId}`)).body
    expect(storedTexts(detail.events)).toEqual([WHOLE])
    expect(detail.events.filter((e) => e.event.kind === "cli" && e.event.message.type === "stream_event")).toEqual([])
    expect(detail.events.map((e) => e.eventSeq)).toEqual(detail.events.map((_, i) => i))
  }, 90_000)

  it("overlord run prints the text as it arrives, and the whole of it once", async () => {
    const child = spawn(
      "bun",
      [OVERLORD_BIN, "--home", rig!.home, "run", "--project", rig!.claude.projectDir, rig!.scenario.prompts[0]!],
      { stdio: ["ignore", "pipe", "pipe"] },
    )
    let out = ""
    let err = ""
    /** The command when the first of the answer was printed, and what was printed of it then. */
    let runningAtFirstText: Promise<Api.CommandSummary | undefined> | undefined
    let printedAtFirstText = ""
    child.stdout.on("data", (d) => {
      out += String(d)
      if (runningAtFirstText === undefined && out.includes(SLOW_STREAM_SENTENCE)) {
        printedAtFirstText = out
        runningAtFirstText = api<Api.CommandList>(`/commands?machineId=${machineId}&limit=1`).then(
          (r) => r.body.commands[0],
        )
      }
    })
    child.stderr.on("data", (d) => {
      err += String(d)
    })
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve))
    expect(code, `${out}\n${err}`).toBe(0)
    const atFirst = await runningAtFirstText
    expect(atFirst?.endedAt, `${out}\n${err}`).toBeNull()
    expect(atFirst?.status).toBe("running")
    // Printed in pieces: the first of the answer came without the rest (before, the whole block at once).
    expect(printedAtFirstText.split(SLOW_STREAM_SENTENCE).length - 1).toBeLessThan(SECONDS * 10)
    // The whole answer, on its own line, exactly once: the complete message printed only the rest.
    expect(out.split(SLOW_STREAM_SENTENCE).length - 1).toBe(SECONDS * 10)
    expect(out).toContain(`${WHOLE}\n`)
    expect(out).toMatch(/^session [0-9a-f-]+$/m)
  }, 90_000)
})
