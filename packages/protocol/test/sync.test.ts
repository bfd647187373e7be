import { Sync } from "@overlord/protocol"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"

const decodeDaemon = Schema.decodeUnknownExit(Sync.DaemonMessageFromJson)

describe("sync protocol", () => {
  it("decodes a hello", () => {
    const hello = {
      type: "hello",
      protocolVersion: Sync.PROTOCOL_VERSION,
      daemonVersion: "0.1.0",
      machineId: "m1",
      machineName: "laptop",
      token: "t",
    }
    const exit = decodeDaemon(JSON.stringify(hello))
    expect(exit._tag).toBe("Success")
  })

  it("refuses a file key that escapes projects/", () => {
    for (const fileKey of ["../etc/passwd", "/abs.jsonl", "a/../../b.jsonl", "a\0b"]) {
      const reset = { type: "reset", fileKey, generation: 1, identity: "1:2", size: 0, reason: "shrunk" }
      expect(decodeDaemon(JSON.stringify(reset))._tag).toBe("Failure")
    }
  })

  it("refuses unknown message types and non-JSON", () => {
    expect(decodeDaemon(JSON.stringify({ type: "nope" }))._tag).toBe("Failure")
    expect(decodeDaemon("{not json")._tag).toBe("Failure")
  })
})
