import type { Api } from "@overlord/protocol"
import { createElement } from "react"
import { renderToString } from "react-dom/server"
import { describe, expect, it } from "vitest"
import { offThreadSeqs } from "../src/branches.ts"
import { RecordGroup } from "../src/components/RecordGroup.tsx"
import {
  expandForSeq,
  groupRows,
  groupSummary,
  indexOfSeq,
  isGroupOpen,
  type Row,
  type TranscriptItem,
  toggleGroup,
} from "../src/grouping.ts"
import { isBookkeeping, readLine } from "../src/records.ts"

const env = { sessionId: "s1", cwd: "/repo", version: "2.1.330", timestamp: "2026-01-01T10:00:00.000Z" }
const chain = (record: object, uuid: string = crypto.randomUUID(), parentUuid: string | null = null) =>
  JSON.stringify({ ...env, parentUuid, isSidechain: false, uuid, ...record })
const meta = (type: string, extra: object = {}) => JSON.stringify({ type, sessionId: "s1", ...extra })
const attachment = (type: string, extra: object = {}) => chain({ type: "attachment", attachment: { type, ...extra } })
const user = (text: string, uuid?: string, parent: string | null = null, extra: object = {}) =>
  chain({ type: "user", message: { role: "user", content: text }, ...extra }, uuid, parent)
const assistant = (text: string, uuid?: string, parent: string | null = null, extra: object = {}) =>
  chain(
    {
      type: "assistant",
      message: { id: `msg_${uuid ?? "x"}`, role: "assistant", content: [{ type: "text", text }] },
      ...extra,
    },
    uuid,
    parent,
  )

const rowsOf = (lines: readonly string[], firstSeq = 1): Row[] =>
  lines.map((line, i) => {
    const entry: Api.Entry = {
      seq: firstSeq + i,
      fileKey: "main",
      agentId: null,
      lineNo: i,
      byteOffset: 0,
      kind: "x",
      line,
    }
    return { entry, record: readLine(line) }
  })

const groups = (items: readonly TranscriptItem[]) =>
  items.filter((i): i is Extract<TranscriptItem, { type: "group" }> => i.type === "group")

/** The records a Claude Code 2.1.330 session writes around one prompt. */
const BOOKKEEPING = [
  attachment("prompt_snapshot", { content: "…" }),
  attachment("skill_listing", { content: "skills", skillCount: 3 }),
  attachment("environment"),
  attachment("model"),
  attachment("date"),
  attachment("deferred_tools_delta"),
  attachment("session_context"),
  meta("api-request-shape", { hash: "3f30" }),
  meta("api-request-blob", { hash: "37ba" }),
  meta("api-request", { requestId: "14ae" }),
  meta("tools-used", { tools: ["Bash"] }),
  meta("atis-latch", { atis: true }),
  meta("cost-state", { usd: 0.1 }),
  meta("last-prompt", { lastPrompt: "hi" }),
  meta("permission-mode", { permissionMode: "default" }),
  JSON.stringify({ type: "file-history-snapshot", messageId: "m", snapshot: { trackedFileBackups: {} } }),
  JSON.stringify({ type: "queue-operation", operation: "enqueue", content: "later", sessionId: "s1" }),
  chain({ type: "progress", data: { type: "hook_progress", hookEvent: "PostToolUse" } }),
  chain({ type: "system", subtype: "turn_duration", durationMs: 1200 }),
]

describe("bookkeeping grouping", () => {
  it("folds every kind of 2.1.330 bookkeeping record", () => {
    for (const line of BOOKKEEPING) expect(isBookkeeping(readLine(line)), line).toBe(true)
  })

  it("keeps the conversation and everything meaningful as rows of their own", () => {
    const meaningful = [
      user("hello"),
      assistant("hi"),
      chain({
        type: "assistant",
        message: { role: "assistant", content: [{ type: "thinking", thinking: "hmm", signature: "s" }] },
      }),
      chain({ type: "system", subtype: "compact_boundary", compactMetadata: { trigger: "auto", preTokens: 1 } }),
      user("This session is being continued from a previous conversation", undefined, null, {
        isCompactSummary: true,
      }),
      chain({ type: "system", subtype: "api_error", level: "error", error: {} }),
      assistant("API Error: 500", undefined, null, { isApiErrorMessage: true }),
      chain({ type: "system", subtype: "local_command", content: "<local-command-stdout>x</local-command-stdout>" }),
      chain({ type: "system", subtype: "stop_hook_summary", hookCount: 1, hookInfos: [] }),
      chain({ type: "system", content: "Running PostToolUse:Bash", level: "info" }),
      attachment("hook_success", { hookName: "PostToolUse:Edit", stdout: "ok" }),
      attachment("queued_command", { prompt: "and then this" }),
      meta("custom-title", { customTitle: "Fix it" }),
      meta("ai-title", { aiTitle: "Fixing" }),
      JSON.stringify({ type: "summary", summary: "Old", leafUuid: "x" }),
    ]
    for (const line of meaningful) expect(isBookkeeping(readLine(line)), line).toBe(false)
    expect(groups(groupRows(rowsOf(meaningful)))).toEqual([])
  })

  it("never folds away malformed lines, unknown record types or unknown attachment types", () => {
    const odd = [
      '{"type":"pr-link","sessionId":"x","prNu{"parentUuid"',
      "42",
      "",
      JSON.stringify({ type: "brand-new-kind", foo: "bar" }),
      chain({ type: "brand-new-chain-kind" }),
      attachment("brand_new_attachment", { content: "?" }),
    ]
    for (const line of odd) expect(isBookkeeping(readLine(line)), line).toBe(false)
    // Even between two runs of bookkeeping, an unknown record splits them and keeps its own row.
    const items = groupRows(rowsOf([meta("api-request"), ...odd, meta("tools-used")]))
    expect(items.map((i) => i.type)).toEqual(["group", "entry", "entry", "entry", "entry", "entry", "entry", "group"])
    expect(items.filter((i) => i.type === "entry").map((i) => (i.type === "entry" ? i.row.record.kind : ""))).toEqual([
      "malformed",
      "malformed",
      "blank",
      "brand-new-kind",
      "brand-new-chain-kind",
      "attachment",
    ])
  })

  it("folds a run of consecutive bookkeeping into one group between conversation rows", () => {
    const items = groupRows(rowsOf([user("go"), ...BOOKKEEPING, assistant("done"), meta("last-prompt")], 10))
    expect(items.map((i) => i.type)).toEqual(["entry", "group", "entry", "group"])
    const [first, second] = groups(items)
    expect(first?.rows.map((r) => r.entry.seq)).toEqual(BOOKKEEPING.map((_, i) => 11 + i))
    expect(first?.key).toBe("g11")
    expect(second?.rows.map((r) => r.entry.seq)).toEqual([11 + BOOKKEEPING.length + 1])
    expect(groupSummary(first!)).toBe(
      `${BOOKKEEPING.length} bookkeeping records: prompt_snapshot, skill_listing, environment, model, …`,
    )
    expect(groupSummary(second!)).toBe("1 bookkeeping record: last-prompt")
  })

  it("counts repeated names in the summary", () => {
    const [g] = groups(groupRows(rowsOf([meta("api-request"), meta("api-request"), meta("tools-used")])))
    expect(groupSummary(g!)).toBe("3 bookkeeping records: api-request ×2, tools-used")
  })

  it("keeps the group key while live records append to it", () => {
    const lines = [user("go"), meta("api-request"), meta("tools-used")]
    const before = groups(groupRows(rowsOf(lines)))[0]!
    const after = groups(groupRows(rowsOf([...lines, meta("cost-state")])))[0]!
    expect(after.key).toBe(before.key)
    // Opened before the append, still open after it.
    const expanded = toggleGroup(before, new Set())
    expect(isGroupOpen(after, expanded, false)).toBe(true)
  })

  it("opens the group holding a deep-linked record, and only that group", () => {
    const items = groupRows(rowsOf([user("go"), meta("api-request"), meta("tools-used"), assistant("ok"), meta("x-y")]))
    // seq 3 is the tools-used record inside the first group.
    expect(indexOfSeq(items, 3)).toBe(1)
    const expanded = expandForSeq(items, new Set(), 3)
    const [first, second] = groups(items)
    expect(isGroupOpen(first!, expanded, false)).toBe(true)
    // "x-y" is unknown, so it is an entry, not a group.
    expect(second).toBeUndefined()
    // A conversation row or an already open group leaves the set alone.
    expect(expandForSeq(items, expanded, 3)).toBe(expanded)
    expect(expandForSeq(items, expanded, 1)).toBe(expanded)
    expect(indexOfSeq(items, 99)).toBe(-1)
  })

  it("toggles a group closed again, and show-all opens every group", () => {
    const [g] = groups(groupRows(rowsOf([meta("api-request"), meta("tools-used")])))
    const open = toggleGroup(g!, new Set())
    expect(isGroupOpen(g!, open, false)).toBe(true)
    expect(isGroupOpen(g!, toggleGroup(g!, open), false)).toBe(false)
    expect(isGroupOpen(g!, new Set(), true)).toBe(true)
  })

  it("renders a collapsed group as one row, and an open one with every record raw and collapsed", () => {
    const [g] = groups(groupRows(rowsOf([meta("api-request", { requestId: "r1" }), meta("tools-used")], 7)))
    const closed = renderToString(createElement(RecordGroup, { item: g!, open: false, onToggle: () => {} }))
    expect(closed).toContain('data-testid="record-group"')
    expect(closed).toContain('data-seqs="7 8"')
    expect(closed).toContain("2 bookkeeping records: api-request, tools-used")
    expect(closed).not.toContain('data-testid="entry"')
    const open = renderToString(createElement(RecordGroup, { item: g!, open: true, highlightSeq: 8 }))
    expect(open.match(/data-testid="entry"/g)).toHaveLength(2)
    expect(open).toContain('data-seq="7"')
    expect(open).toContain('data-kind="api-request"')
    expect(open).toContain('data-kind="tools-used"')
    expect(open).toMatch(/<details class="raw"/)
    expect(open).not.toMatch(/<details[^>]*open/)
    expect(open).toContain("r1")
    expect(open).toMatch(/class="entry[^"]*entry-highlight[^"]*"[^>]*data-seq="8"/)
    expect(open).toContain("record-group-highlight")
  })
})

describe("earlier branches", () => {
  it("marks records off the main thread when a prompt was edited", () => {
    const t = (s: number) => ({ timestamp: `2026-01-01T10:00:0${s}.000Z` })
    const lines = [
      user("first", "u1", null, t(0)),
      assistant("answer", "a1", "u1", t(1)),
      user("original follow-up", "u2", "a1", t(2)),
      assistant("old reply", "a2", "u2", t(3)),
      chain({ type: "progress", data: { type: "hook_progress" }, ...t(3) }, "p2", "a2"),
      user("edited follow-up", "u2b", "a1", t(5)),
      assistant("new reply", "a2b", "u2b", t(6)),
    ]
    const off = offThreadSeqs(rowsOf(lines))
    expect([...off].sort()).toEqual([3, 4, 5])
  })

  it("marks nothing in an unbranched session", () => {
    const lines = [user("q", "u1"), assistant("a", "a1", "u1"), user("q2", "u2", "a1"), assistant("a2", "a2", "u2")]
    expect(offThreadSeqs(rowsOf(lines)).size).toBe(0)
  })
})
