/** The binary append frame as the server reads it, facts section included (no socket needed). */
import type { Sync } from "@overlord/protocol"
import { FACTS_VERSION, factsOfLines } from "@overlord/transcript"
import { describe, expect, it } from "vitest"
import { readAppendFrame } from "../src/sync-socket.ts"

const enc = new TextEncoder()
const line = (uuid: string) =>
  JSON.stringify({
    type: "user",
    uuid,
    sessionId: "s-1",
    timestamp: "2026-11-01T10:00:00.000Z",
    message: { role: "user", content: "hi" },
  })

function frame(payload: Uint8Array, facts?: unknown, factsVersion = FACTS_VERSION): Uint8Array {
  const header: Sync.AppendHeader = {
    type: "append",
    seq: 7,
    fileKey: "-p/s-1.jsonl",
    generation: 0,
    identity: "1:1",
    fromOffset: 100,
    toOffset: 100 + payload.length,
    ...(facts === undefined ? {} : { factsVersion }),
  }
  const h = enc.encode(JSON.stringify(header))
  const tail =
    facts === undefined ? new Uint8Array() : enc.encode(typeof facts === "string" ? facts : JSON.stringify(facts))
  const out = new Uint8Array(4 + h.length + payload.length + tail.length)
  new DataView(out.buffer).setUint32(0, h.length)
  out.set(h, 4)
  out.set(payload, 4 + h.length)
  out.set(tail, 4 + h.length + payload.length)
  return out
}

describe("append frames", () => {
  const payload = enc.encode(`${line("u1")}\n${line("u2")}\n{"type":"us`)

  it("reads header and payload from a frame without facts", () => {
    const read = readAppendFrame(frame(payload))
    if (typeof read === "string") throw new Error(read)
    expect(read.header.seq).toBe(7)
    expect(Buffer.from(read.payload).equals(Buffer.from(payload))).toBe(true)
    expect(read.facts).toBeUndefined()
  })

  it("reads the daemon's facts, one per line, null for the open tail", () => {
    const read = readAppendFrame(frame(payload, factsOfLines(payload)))
    if (typeof read === "string") throw new Error(read)
    expect(Buffer.from(read.payload).equals(Buffer.from(payload))).toBe(true)
    expect(read.facts?.map((f) => f?.uuid ?? null)).toEqual(["u1", "u2", null])
    expect(read.factsIgnored).toBeUndefined()
  })

  it("ignores facts of another version, that do not validate, or that do not match the lines", () => {
    const cases: [unknown, number, RegExp][] = [
      [factsOfLines(payload), FACTS_VERSION + 1, /facts version/],
      [[{ kind: 42 }, null, null], FACTS_VERSION, /invalid facts/],
      ['[{"kind":"user"', FACTS_VERSION, /invalid facts/],
      [
        [
          { kind: "user", usage: { model: "m", input: -1, output: 0, cacheWrite: 0, cacheWrite1h: 0, cacheRead: 0 } },
          null,
          null,
        ],
        FACTS_VERSION,
        /invalid facts/,
      ],
      [factsOfLines(payload).slice(1), FACTS_VERSION, /facts for 2 lines, the payload has 3/],
    ]
    for (const [facts, version, reason] of cases) {
      const read = readAppendFrame(frame(payload, facts, version))
      if (typeof read === "string") throw new Error(read)
      // The bytes are stored either way; only the facts are worked out again by the server.
      expect(Buffer.from(read.payload).equals(Buffer.from(payload))).toBe(true)
      expect(read.facts).toBeUndefined()
      expect(read.factsIgnored).toMatch(reason)
    }
  })

  it("refuses a frame whose header is unreadable", () => {
    expect(readAppendFrame(new Uint8Array([0, 0]))).toMatch(/shorter than its length prefix/)
    const bad = frame(payload)
    new DataView(bad.buffer).setUint32(0, 1 << 30)
    expect(readAppendFrame(bad)).toMatch(/header length out of range/)
  })
})
