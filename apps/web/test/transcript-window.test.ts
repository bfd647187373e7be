import type { Api } from "@overlord/protocol"
import { describe, expect, it } from "vitest"
import { parseRoute, sessionHref } from "../src/router.ts"
import {
  initialTail,
  mergeEntries,
  parseCached,
  withEarlierPage,
  withLaterPage,
  withLiveEntries,
} from "../src/transcript-window.ts"

const e = (seq: number, lineNo = seq): Api.Entry => ({
  seq,
  fileKey: "f",
  agentId: null,
  lineNo,
  byteOffset: 0,
  kind: "user",
  line: '{"type":"user"}',
})

describe("transcript window", () => {
  it("opens on the tail and knows whether earlier pages exist", () => {
    expect(initialTail([e(50, 10), e(51, 11)], 2).hasBefore).toBe(true)
    expect(initialTail([e(1, 0), e(2, 1)], 2).hasBefore).toBe(false)
    expect(initialTail([e(5, 3)], 2).hasBefore).toBe(false)
  })

  it("prepends earlier pages and stops at line 0", () => {
    let w = initialTail([e(10, 5), e(11, 6)], 2)
    w = withEarlierPage(w, [e(8, 3), e(9, 4)], 2)
    expect(w.entries.map((x) => x.seq)).toEqual([8, 9, 10, 11])
    expect(w.hasBefore).toBe(true)
    w = withEarlierPage(w, [e(6, 0), e(7, 1)], 2)
    expect(w.hasBefore).toBe(false)
  })

  it("merges overlapping pages without duplicates", () => {
    expect(mergeEntries([e(1), e(2), e(3)], [e(3), e(2), e(4)]).map((x) => x.seq)).toEqual([1, 2, 3, 4])
  })

  it("appends live entries only when the window reaches the end", () => {
    const tail = initialTail([e(1, 0)], 10)
    expect(withLiveEntries(tail, [e(2)]).entries).toHaveLength(2)
    const middle = withLaterPage(tail, [e(2), e(3)], 2)
    expect(middle.hasAfter).toBe(true)
    expect(withLiveEntries(middle, [e(9)]).entries).toHaveLength(3)
  })

  it("parses each entry once", () => {
    const x = e(1)
    expect(parseCached(x)).toBe(parseCached(x))
  })
})

describe("routes", () => {
  it("parses every page and the deep link seq", () => {
    expect(parseRoute("")).toEqual({ name: "overview" })
    expect(parseRoute("#/sessions/abc-1?seq=42")).toEqual({ name: "session", sessionId: "abc-1", seq: 42 })
    expect(parseRoute("#/sessions/abc")).toEqual({ name: "session", sessionId: "abc", seq: null })
    expect(parseRoute("#/search?q=hello%20world")).toEqual({ name: "search", q: "hello world" })
    const list = parseRoute("#/sessions?project=p&hasErrors=1")
    expect(list.name === "sessions" && list.params.get("project")).toBe("p")
    expect(parseRoute("#/usage?groupBy=model").name).toBe("usage")
    expect(parseRoute("#/nope").name).toBe("notFound")
    expect(sessionHref("a b", 7)).toBe("#/sessions/a%20b?seq=7")
  })
})
