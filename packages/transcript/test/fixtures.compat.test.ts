/**
 * Compatibility suite: every real session file in ../shared/fixtures/claude-code, read at test time
 * (never copied into the repo). Skips cleanly when the corpus is absent.
 */
import { isUtf8 } from "node:buffer"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import {
  analyzeLine,
  analyzeWholeLine,
  buildConversation,
  classifyFileKey,
  indexFields,
  parseLine,
  SEARCH_TEXT_MAX,
  searchText,
  splitPieces,
  type TranscriptRecord,
  UsageLedger,
  usageOf,
} from "../src/index.ts"

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const corpus = path.join(path.resolve(repoRoot, "../shared"), "fixtures/claude-code")
const present = existsSync(path.join(corpus, "SOURCES.tsv"))

interface Source {
  fixture: string
  path: string
  lines: number
  provenance: string
}

function readSources(): Source[] {
  const [header, ...rows] = readFileSync(path.join(corpus, "SOURCES.tsv"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
  const cols = (header ?? "").split("\t")
  const at = (name: string) => cols.indexOf(name)
  return rows.map((row) => {
    const cells = row.split("\t")
    return {
      fixture: cells[at("fixture")] ?? "",
      path: cells[at("path")] ?? "",
      lines: Number(cells[at("lines")]),
      provenance: cells[at("provenance")] ?? "",
    }
  })
}

/** Splits raw bytes on 0x0A, as a tailer does; a final line without newline still counts. */
function splitLines(bytes: Uint8Array): string[] {
  const decoder = new TextDecoder("utf-8")
  const out: string[] = []
  let start = 0
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      out.push(decoder.decode(bytes.subarray(start, i)))
      start = i + 1
    }
  }
  if (start < bytes.length) out.push(decoder.decode(bytes.subarray(start)))
  return out
}

function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel))
    else if (entry.name.endsWith(".jsonl")) out.push(rel)
  }
  return out
}

/** The file key (relative to `projects/`) a fixture had in its original tree. */
function fileKeyOf(source: Source): string {
  const parts = source.path.split("/")
  const sub = parts.lastIndexOf("subagents")
  return (sub >= 2 ? parts.slice(sub - 2) : parts.slice(-2)).join("/")
}

const parsedCache = new Map<string, TranscriptRecord[]>()
function records(fixture: string): TranscriptRecord[] {
  let recs = parsedCache.get(fixture)
  if (recs === undefined) {
    recs = splitLines(readFileSync(path.join(corpus, fixture))).map(parseLine)
    parsedCache.set(fixture, recs)
  }
  return recs
}

function find(sources: Source[], fragment: string): Source {
  const matches = sources.filter((s) => s.fixture.includes(fragment))
  if (matches.length !== 1) throw new Error(`${fragment}: ${matches.length} fixtures match`)
  return matches[0] as Source
}

describe.skipIf(!present)("Claude Code fixture corpus", () => {
  const sources = present ? readSources() : []

  it("lists every file on disk in SOURCES.tsv, dot-files included", () => {
    const onDisk = listFiles(corpus).sort()
    expect(onDisk).toEqual(sources.map((s) => s.fixture).sort())
    expect(onDisk.filter((f) => path.basename(f).startsWith("."))).toHaveLength(7)
    expect(onDisk).toHaveLength(66)
  })

  it("parses every line without losing any, and reports fallbacks per file", () => {
    const table: Record<string, { lines: number; unknown: string; malformed: string; provenance: string }> = {}
    let totalLines = 0
    let totalUnknown = 0
    let totalMalformed = 0
    for (const source of sources) {
      const recs = records(source.fixture)
      expect(recs.length, source.fixture).toBe(source.lines)
      const unknown = recs.filter((r) => r.kind === "unknown").length
      const malformed = recs.filter((r) => r.kind === "malformed").length
      totalLines += recs.length
      totalUnknown += unknown
      totalMalformed += malformed
      const pct = (n: number) => `${((100 * n) / Math.max(recs.length, 1)).toFixed(1)}%`
      table[source.fixture.length > 70 ? `…${source.fixture.slice(-69)}` : source.fixture] = {
        lines: recs.length,
        unknown: `${unknown} (${pct(unknown)})`,
        malformed: `${malformed} (${pct(malformed)})`,
        provenance: source.provenance,
      }
      if (source.provenance === "captured") {
        const bad = recs.flatMap((r, i) =>
          r.kind === "unknown" || r.kind === "malformed" ? [`${i + 1}:${r.kind}`] : [],
        )
        expect(bad, source.fixture).toEqual([])
      }
    }
    console.table(table)
    console.log(
      `corpus: ${totalLines} lines, unknown ${totalUnknown} (${((100 * totalUnknown) / totalLines).toFixed(2)}%), ` +
        `malformed ${totalMalformed} (${((100 * totalMalformed) / totalLines).toFixed(2)}%)`,
    )
    expect(totalLines).toBe(3747)
  })

  it("finds malformed lines exactly where the README says", () => {
    const found: string[] = []
    for (const source of sources) {
      records(source.fixture).forEach((r, i) => {
        if (r.kind === "malformed")
          found.push(`${source.fixture.split("/")[0]}|${source.fixture.slice(-24)}|${i + 1}|${r.reason}`)
      })
    }
    const expected = [
      ["edge_cases.jsonl", [13, 15, 16], "non-object"],
      ["ae063a0a-d78c-4cb1-a755-22e56549885b.jsonl", [3], "invalid-json"],
      ["images-in-user-messages.jsonl", [1, 2], "invalid-json"],
      ["images-in-tool-results.jsonl", [1, 2], "invalid-json"],
      ["malformed__truncated.jsonl", [3], "invalid-json"],
      ["malformed__invalid_json.jsonl", [2, 4], "invalid-json"],
    ] as const
    const want = expected.flatMap(([fragment, lines, reason]) => {
      const f = find(sources, fragment).fixture
      return lines.map((n) => `${f.split("/")[0]}|${f.slice(-24)}|${n}|${reason}`)
    })
    expect(found.sort()).toEqual(want.sort())
    // The edge-case file's one object without `type` is kept as unknown, not dropped.
    const edge = records(find(sources, "edge_cases.jsonl").fixture)
    expect(edge[13]).toMatchObject({ kind: "unknown", type: null, json: { silly: "this" } })
  })

  it("sees every record kind somewhere in the corpus", () => {
    const kinds = new Set<string>()
    for (const source of sources) for (const r of records(source.fixture)) kinds.add(r.kind)
    for (const kind of [
      "user",
      "assistant",
      "system",
      "summary",
      "attachment",
      "progress",
      "file-history-snapshot",
      "queue-operation",
      "metadata",
      "history-entry",
      "unknown",
      "malformed",
    ]) {
      expect(kinds, kind).toContain(kind)
    }
  })

  it("gives every line the same facts whether its long deep strings are emptied first or not", () => {
    let long = 0
    for (const source of sources) {
      const bytes = readFileSync(path.join(corpus, source.fixture))
      for (const piece of splitPieces(bytes, 0)) {
        if (!piece.terminated) continue
        if (piece.bytes.length >= 4096) long++
        const where = `${source.fixture}@${piece.byteOffset}`
        expect(analyzeLine(piece.bytes), where).toEqual(analyzeWholeLine(piece.bytes))
        expect(analyzeLine(piece.bytes, isUtf8), where).toEqual(analyzeWholeLine(piece.bytes))
      }
    }
    // The long lines are the ones the fast path takes.
    expect(long).toBeGreaterThan(100)
  })

  it("derives index fields and bounded search text for every line, without base64", () => {
    for (const source of sources) {
      for (const r of records(source.fixture)) {
        const f = indexFields(r)
        expect(typeof f.kind).toBe("string")
        const t = searchText(r)
        expect(t.length).toBeLessThanOrEqual(SEARCH_TEXT_MAX)
      }
    }
    // The 1.2 MB line stores one screenshot twice; neither copy may reach the search text.
    const big = records(find(sources, "images-in-tool-results.jsonl").fixture)
    const texts = big.map(searchText).join("\n")
    expect(texts).not.toMatch(/iVBORw0KGgo|\/9j\/4AAQ/)
  })

  it("deduplicates usage in marot 258c7280 to hand-checked totals", () => {
    const source = find(sources, "258c7280-ae70-4798-800f-63464d01a85d.jsonl")
    const recs = records(source.fixture)
    const ledger = new UsageLedger()
    for (const r of recs) ledger.addRecord(source.fixture, r)

    // Independent: straight from the raw JSON, keeping the max-total copy per message.id:requestId.
    const raw = splitLines(readFileSync(path.join(corpus, source.fixture))).map((l) => JSON.parse(l))
    const best = new Map<string, { i: number; o: number; cw: number; cr: number; t: number }>()
    const naive = { i: 0, o: 0, cw: 0, cr: 0 }
    const recordsPerId = new Map<string, number>()
    for (const j of raw) {
      if (j.type !== "assistant" || j.message?.model === "<synthetic>" || j.isApiErrorMessage) continue
      const u = j.message.usage
      const b = u.cache_creation ?? {}
      const e = {
        i: u.input_tokens ?? 0,
        o: u.output_tokens ?? 0,
        cw: Math.max(
          u.cache_creation_input_tokens ?? 0,
          (b.ephemeral_5m_input_tokens ?? 0) + (b.ephemeral_1h_input_tokens ?? 0),
        ),
        cr: u.cache_read_input_tokens ?? 0,
        t: 0,
      }
      e.t = e.i + e.o + e.cw + e.cr
      naive.i += e.i
      naive.o += e.o
      naive.cw += e.cw
      naive.cr += e.cr
      const key = `${j.message.id}:${j.requestId}`
      recordsPerId.set(j.message.id, (recordsPerId.get(j.message.id) ?? 0) + 1)
      const prev = best.get(key)
      if (prev === undefined || e.t > prev.t) best.set(key, e)
    }
    const repeatedIds = [...recordsPerId.values()].filter((n) => n > 1).length
    const sum = (k: "i" | "o" | "cw" | "cr") => [...best.values()].reduce((a, e) => a + e[k], 0)

    // Hand-checked with jq: 299 assistant records, 152 responses, 94 ids repeated.
    const totals = ledger.totals()
    expect(totals).toMatchObject({
      input: 180,
      output: 38_899,
      cacheWrite: 349_474,
      cacheWrite1h: 349_474,
      cacheRead: 14_771_617,
    })
    expect(totals.messages).toBe(152)
    expect(repeatedIds).toBe(94)
    expect(best.size).toBe(152)
    expect({ i: totals.input, o: totals.output, cw: totals.cacheWrite, cr: totals.cacheRead }).toEqual({
      i: sum("i"),
      o: sum("o"),
      cw: sum("cw"),
      cr: sum("cr"),
    })
    expect(naive).toEqual({ i: 385, o: 39_736, cw: 950_016, cr: 26_096_314 })
    expect(naive.o).not.toBe(totals.output)

    // The placeholder (10) vs final (441) output tokens of one response.
    const ee = [...ledger.entries()].find((e) => e.usage.dedupKey?.startsWith("msg_01EEiRWuVvwAmenNJXZcerPY:"))
    expect(ee?.usage.output).toBe(441)
    const eeCopies = recs.map(usageOf).filter((u) => u?.dedupKey?.startsWith("msg_01EEiRWuVvwAmenNJXZcerPY:"))
    expect(eeCopies.map((u) => u?.output)).toEqual([10, 10, 10, 10, 10, 441])

    // Opus 4.6 list prices ($5 / $25 / $10 1h write / $0.50 read per MTok).
    expect(totals.costUsd).toBeCloseTo((180 * 5 + 38_899 * 25 + 349_474 * 10 + 14_771_617 * 0.5) / 1e6, 9)
    expect(ledger.totalsByModel().get("claude-opus-4-6")?.messages).toBe(152)

    // Adding the same file again (a resume copy) changes nothing.
    for (const r of recs) ledger.addRecord("copy.jsonl", r)
    expect(ledger.totals()).toEqual(totals)
  })

  const parentChild = [
    {
      parent: "marot__spotter/test__fixtures__transcripts__258c7280-ae70-4798-800f-63464d01a85d.jsonl",
      child: "agent-a881341.jsonl",
    },
    { parent: "moredip__session-share/samples__claude-code-projects__0ccf1a04", child: "agent-a5bdbc1.jsonl" },
    { parent: "moredip__session-share/samples__claude-code-projects__4b2030ed", child: "agent-a2018e5.jsonl" },
    { parent: "Eiji1202__dotclaude/projects__-Users-tachikawa-eiji__f6f74d81", child: "agent-a7c91f4.jsonl" },
    {
      parent:
        "kfischer-okarin__scripts-and-tools/src__claude-history__test__fixtures__claude-projects__-Users-user-project__b3edadab",
      child: "agent-a434715.jsonl",
    },
  ]

  it.each(parentChild)("links $parent to $child through the Agent/Task tool result", ({ parent, child }) => {
    const parentSource = sources.find(
      (s) => s.fixture.startsWith(parent) && s.fixture.endsWith(".jsonl") && !s.fixture.includes("agent-"),
    )
    const childSource = sources.find(
      (s) => s.fixture.startsWith(parent.split("/")[0] ?? "") && s.fixture.endsWith(child),
    )
    if (parentSource === undefined || childSource === undefined) throw new Error("fixture missing")
    const childRecords = records(childSource.fixture)
    const childAgentIds = new Set(childRecords.map((r) => indexFields(r).agentId).filter((a) => a !== null))
    expect(childAgentIds.size).toBe(1)
    const [agentId] = [...childAgentIds]
    const childKey = fileKeyOf(childSource)
    expect(classifyFileKey(childKey).agentId).toBe(agentId)

    const conv = buildConversation([
      ...records(parentSource.fixture).map((record, lineNo) => ({ record, fileKey: fileKeyOf(parentSource), lineNo })),
      ...childRecords.map((record, lineNo) => ({ record, fileKey: childKey, lineNo })),
    ])
    const link = conv.subagentLinks.find((l) => l.agentId === agentId)
    expect(link).toBeDefined()
    expect(["Task", "Agent"]).toContain(link?.toolName)
    expect(link?.childFileKeys).toContain(childKey)
    // The parent's tool result is the one that names the agent.
    const call = link === undefined ? undefined : conv.toolCalls.get(link.toolUseId)
    expect((call?.toolUseResult as { agentId?: string } | null)?.agentId).toBe(agentId)
    // Agent files carry the parent's session id (reference §1.3).
    const parentSession = indexFields(
      records(parentSource.fixture).find((r) => indexFields(r).sessionId !== null) as TranscriptRecord,
    ).sessionId
    expect(childRecords.every((r) => indexFields(r).sessionId === parentSession)).toBe(true)
  })

  it("places non-Task agents (compaction, prompt suggestion, warmup) under their parent session", () => {
    for (const fragment of [
      "agent-acompact-fffbd0.jsonl",
      "agent-aprompt_suggestion-029c25.jsonl",
      "agent-acompact-9a97b2.jsonl",
    ]) {
      const source = find(sources, fragment)
      const info = classifyFileKey(fileKeyOf(source))
      expect(info.layout).toBe("subagent")
      expect(info.agentId).toBe(fragment.slice("agent-".length, -".jsonl".length))
      for (const r of records(source.fixture)) expect(indexFields(r).sessionId).toBe(info.sessionId)
    }
    const warmup = find(sources, "agent-a86dcdc.jsonl")
    expect(classifyFileKey(fileKeyOf(warmup))).toMatchObject({
      layout: "flat-agent",
      agentId: "a86dcdc",
      sessionId: null,
    })
    expect(indexFields(records(warmup.fixture)[0] as TranscriptRecord)).toMatchObject({
      agentId: "a86dcdc",
      isSidechain: true,
      sessionId: "b3edadab-bca0-4054-9b41-f7ffa6941260",
    })
  })

  it("rebuilds the moredip 0ccf1a04 DAG: parallel results on the main thread, one rewind branch", () => {
    const source = find(sources, "0ccf1a04-1b4c-43b6-8aa5-79e41db43a68.jsonl")
    const recs = records(source.fixture)
    const conv = buildConversation(recs.map((record, lineNo) => ({ record, lineNo })))
    const uuidAt = (line1: number) => indexFields(recs[line1 - 1] as TranscriptRecord).uuid as string
    // Lines 8–10 (1-based) are the three results of one response, each under its own tool_use block.
    for (const n of [8, 9, 10]) expect(conv.mainThread).toContain(uuidAt(n))
    expect([8, 9, 10].map((n) => conv.nodes.get(uuidAt(n))?.parentUuid?.slice(0, 8))).toEqual([
      "b95eef62",
      "70d0d752",
      "23969559",
    ])
    const fork = [...conv.nodes.values()].find((n) => n.uuid.startsWith("ca0c6553"))
    expect(fork?.children).toHaveLength(2)
    expect(conv.branchCount).toBe(2)
  })

  it("stitches compactions across the boundary (marot 258c7280)", () => {
    const recs = records(find(sources, "258c7280-ae70-4798-800f-63464d01a85d.jsonl").fixture)
    const conv = buildConversation(recs.map((record, lineNo) => ({ record, lineNo })))
    expect(conv.compactions.length).toBeGreaterThan(0)
    for (const b of conv.compactions) {
      expect(b.logicalParentUuid).not.toBeNull()
      expect(conv.mainThread).toContain(b.uuid)
      expect(conv.mainThread).toContain(b.logicalParentUuid)
      expect(b.summaryUuid).not.toBeNull()
    }
    expect(conv.nodes.get(conv.mainThread[0] ?? "")?.parentUuid).toBeNull()
    expect(conv.branchCount).toBe(1)
  })
})
