/**
 * The binary append frame as the server reads it, facts section included (no socket needed), with
 * the one codec (`@overlord/protocol`'s append-frame.ts) that the daemon writes it with.
 */
import {
  type AppendFrame,
  AppendFrameError,
  decodeAppendFrame,
  encodeAppendFrame,
  type FactsIgnored,
  type Sync,
  writeAppendFactsInPlace,
  writeAppendHeaderInPlace,
} from "@overlord/protocol"
import { FACTS_VERSION, factsOfLines } from "@overlord/transcript"
import { describe, expect, it } from "vitest"
import { appendFrameReader } from "../src/sync-socket.ts"

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
  // Facts that are not even `AppendFacts` (the point of some cases) travel as their JSON text.
  return encodeAppendFrame(
    header,
    payload,
    facts === undefined ? undefined : typeof facts === "string" ? facts : JSON.stringify(facts),
  )
}

/** The server's reading of a frame, as its sync socket does it. */
const read = (bytes: Uint8Array): AppendFrame => {
  const decoded = decodeAppendFrame(bytes, appendFrameReader)
  if (decoded instanceof AppendFrameError) throw decoded
  return decoded
}
const problem = (bytes: Uint8Array) => {
  const decoded = decodeAppendFrame(bytes, appendFrameReader)
  return decoded instanceof AppendFrameError ? decoded.problem : null
}

describe("append frames", () => {
  const payload = enc.encode(`${line("u1")}\n${line("u2")}\n{"type":"us`)

  it("reads header and payload from a frame without facts", () => {
    const got = read(frame(payload))
    expect(got.header.seq).toBe(7)
    expect(Buffer.from(got.payload).equals(Buffer.from(payload))).toBe(true)
    expect(got.facts).toBeUndefined()
  })

  it("reads the daemon's facts, one per line, null for the open tail", () => {
    const got = read(frame(payload, factsOfLines(payload)))
    expect(Buffer.from(got.payload).equals(Buffer.from(payload))).toBe(true)
    expect(got.facts?.map((f) => f?.uuid ?? null)).toEqual(["u1", "u2", null])
    expect(got.factsIgnored).toBeUndefined()
  })

  it("ignores facts of another version, that do not validate, or that do not match the lines", () => {
    type Case = [unknown, number, FactsIgnored["reason"], RegExp]
    const cases: Case[] = [
      [factsOfLines(payload), FACTS_VERSION + 1, "other_version", /facts version/],
      [[{ kind: 42 }, null, null], FACTS_VERSION, "invalid", /invalid facts/],
      ['[{"kind":"user"', FACTS_VERSION, "invalid", /invalid facts/],
      [
        [
          { kind: "user", usage: { model: "m", input: -1, output: 0, cacheWrite: 0, cacheWrite1h: 0, cacheRead: 0 } },
          null,
          null,
        ],
        FACTS_VERSION,
        "invalid",
        /invalid facts/,
      ],
      [factsOfLines(payload).slice(1), FACTS_VERSION, "line_count_mismatch", /facts for 2 lines, the payload has 3/],
    ]
    for (const [facts, version, reason, message] of cases) {
      const got = read(frame(payload, facts, version))
      // The bytes are stored either way; only the facts are worked out again by the server.
      expect(Buffer.from(got.payload).equals(Buffer.from(payload))).toBe(true)
      expect(got.facts).toBeUndefined()
      expect(got.factsIgnored?.reason).toBe(reason)
      // The message is what the server logs: it must say what was wrong.
      expect(got.factsIgnored?.message).toMatch(message)
    }
  })

  it("refuses a frame whose header is unreadable", () => {
    expect(problem(new Uint8Array([0, 0]))).toBe("shorter_than_prefix")
    const bad = frame(payload)
    new DataView(bad.buffer).setUint32(0, 1 << 30)
    expect(problem(bad)).toBe("header_length_out_of_range")
    const garbled = frame(payload)
    garbled[5] = 0x7b // the header's second byte: `{{"type"...` is not JSON
    const error = decodeAppendFrame(garbled, appendFrameReader)
    expect(error).toBeInstanceOf(AppendFrameError)
    expect((error as AppendFrameError).problem).toBe("invalid_header")
    expect((error as AppendFrameError).cause).toBeDefined()
  })

  it("refuses a frame whose payload does not match its offsets", () => {
    // One byte short, and (without facts) one byte too many.
    expect(problem(frame(payload).subarray(0, -1))).toBe("payload_length_mismatch")
    const long = new Uint8Array(frame(payload).length + 1)
    long.set(frame(payload))
    expect(problem(long)).toBe("payload_length_mismatch")
    // With facts, the payload must still fit in the frame.
    const withFacts = frame(payload, factsOfLines(payload))
    const header = read(withFacts).header
    expect(problem(encodeAppendFrame({ ...header, toOffset: header.toOffset + 10_000 }, payload, "[]"))).toBe(
      "payload_length_mismatch",
    )
    expect(problem(encodeAppendFrame({ ...header, toOffset: header.fromOffset - 1 }, payload))).toBe(
      "payload_length_mismatch",
    )
  })

  it("writes the header in place in front of a payload already in the buffer, and the facts behind it", () => {
    const room = 512
    const facts = factsOfLines(payload)
    const buffer = new Uint8Array(room + payload.length + 4096)
    buffer.set(payload, room)
    const header = read(frame(payload, facts)).header
    const start = writeAppendHeaderInPlace(buffer, room, header)
    if (start === null) throw new Error("the header did not fit in 512 bytes")
    const written = writeAppendFactsInPlace(buffer, room + payload.length, facts)
    if (typeof written !== "number") throw new Error("the facts did not fit in 4 KiB")
    const inPlace = buffer.subarray(start, room + payload.length + written)
    // Byte for byte the frame the copying encoder builds.
    expect(Buffer.from(inPlace).equals(Buffer.from(encodeAppendFrame(header, payload, facts)))).toBe(true)
    expect(read(inPlace).facts).toEqual(facts)
  })

  it("says when the header or the facts do not fit where they were to be written in place", () => {
    const header = read(frame(payload)).header
    const buffer = new Uint8Array(16 + payload.length)
    buffer.set(payload, 16)
    expect(writeAppendHeaderInPlace(buffer, 16, header)).toBeNull()
    // The buffer is untouched: the caller copies instead.
    expect(Buffer.from(buffer.subarray(16)).equals(Buffer.from(payload))).toBe(true)
    const facts = factsOfLines(payload)
    const apart = writeAppendFactsInPlace(new Uint8Array(10), 0, facts)
    expect(apart).toBeInstanceOf(Uint8Array)
    expect(JSON.parse(new TextDecoder().decode(apart as Uint8Array))).toEqual(facts)
  })
})
