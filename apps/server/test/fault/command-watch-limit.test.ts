/**
 * Found by the security audit: a live socket could watch any number of commands. Each
 * `watch-command` added to one set that every later one scanned (`[...watches].find`), so a signed-in
 * client sending 100k of them grew the server's memory and stalled its one thread for every user.
 * Now a socket watches at most MAX_WATCHES_PER_SOCKET commands; a new one past it ends the socket's
 * oldest watch, and other sockets' watches are untouched.
 */
import type { Commands } from "@overlord/protocol"
import type { Interface as StoreApi } from "@overlord/store"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { CommandRelay, MAX_WATCHES_PER_SOCKET } from "../../src/command-relay.ts"
import type { LiveHub, LiveSocket } from "../../src/live-hub.ts"

/** Which commands' events the relay read, in order: a watched command's event is read for its watcher. */
function rig() {
  const reads: string[] = []
  const store = {
    expireCommands: () => Effect.succeed([]),
    listCommandEvents: (_actor: unknown, commandId: string) => {
      reads.push(commandId)
      return Effect.succeed([])
    },
    recordCommandEvents: () => Effect.succeed({ command: null, stored: 1 }),
  } as unknown as StoreApi
  const hub = { broadcast: () => undefined } as unknown as LiveHub
  const relay = new CommandRelay(store, hub)
  const socket = (): LiveSocket => ({ send: () => 0 }) as unknown as LiveSocket
  const event = (commandId: string): Commands.CommandEvent =>
    ({ type: "command-event", commandId, eventSeq: 0, event: { kind: "output-text", text: "x" } }) as never
  return { reads, relay, socket, event }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))
const actor = { userId: 1 }
const machine = { userId: 1, machineId: 7 }

describe("a live socket's command watches", () => {
  it("are at most MAX_WATCHES_PER_SOCKET: the oldest ends, the newest and other sockets' stay", async () => {
    const { reads, relay, socket, event } = rig()
    const flood = socket()
    const other = socket()
    relay.watch(other, actor, { type: "watch-command", commandId: "cmd-first", afterEventSeq: -1 })
    relay.watch(flood, actor, { type: "watch-command", commandId: "cmd-first", afterEventSeq: -1 })
    for (let i = 0; i < MAX_WATCHES_PER_SOCKET + 100; i++)
      relay.watch(flood, actor, { type: "watch-command", commandId: `cmd-${i}`, afterEventSeq: -1 })
    await settle()
    reads.length = 0

    // An event of the flooding socket's first command: read for the other socket's watch only.
    await relay.fromDaemon(machine as never, event("cmd-first"))
    await settle()
    expect(reads).toEqual(["cmd-first"])

    // The flooding socket's newest watch stands.
    reads.length = 0
    const newest = `cmd-${MAX_WATCHES_PER_SOCKET + 99}`
    await relay.fromDaemon(machine as never, event(newest))
    await settle()
    expect(reads).toEqual([newest])

    // Watched again, an ended one comes back (ending another, the oldest).
    reads.length = 0
    relay.watch(flood, actor, { type: "watch-command", commandId: "cmd-first", afterEventSeq: -1 })
    await settle()
    reads.length = 0
    await relay.fromDaemon(machine as never, event("cmd-first"))
    await settle()
    expect(reads).toEqual(["cmd-first", "cmd-first"])
    relay.close()
  })
})
