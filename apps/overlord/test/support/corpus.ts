/**
 * A realistic Claude Code corpus for the exactly-once suites, and a writer that keeps appending to
 * it like live sessions do (sometimes half a line first, the rest a moment later).
 */
import { randomUUID } from "node:crypto"
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { hugeLine, invalidUtf8, nonObjectLines, sessionRecord, unknownRecordType } from "@overlord/testkit/bad-input"
import { type Rand, rng } from "@overlord/testkit/random"
import { sleep } from "./harness.ts"

// Seeded, so a failing run can be replayed from its seed.
export { type Rand, rng }

const WORDS =
  "the daemon tails session files by byte offset and the server stores each line exactly once in order".split(" ")
const words = (r: Rand, n: number) => Array.from({ length: n }, () => r.pick(WORDS)).join(" ")

/** One plausible JSONL record (user prompt, assistant text/tool_use, tool_result), 150 B .. ~12 KB. */
export function realisticLine(r: Rand, sessionId: string, i: number, agentId: string | null = null): string {
  const extra: Record<string, unknown> = agentId ? { isSidechain: true, agentId } : {}
  const kind = r.int(0, 5)
  if (kind === 0) return sessionRecord(sessionId, i, { ...extra, uuid: randomUUID() })
  if (kind === 1) {
    return sessionRecord(sessionId, i | 1, {
      ...extra,
      uuid: randomUUID(),
      message: {
        id: `msg_${randomUUID()}`,
        type: "message",
        role: "assistant",
        model: "claude-sonnet-4-5",
        content: [
          { type: "text", text: words(r, r.int(5, 400)) },
          { type: "tool_use", id: `toolu_${i}`, name: "Bash", input: { command: `echo ${words(r, 3)}` } },
        ],
        stop_reason: "tool_use",
        usage: { input_tokens: r.int(1, 5000), output_tokens: r.int(1, 900), cache_read_input_tokens: r.int(0, 90000) },
      },
    })
  }
  if (kind === 2) {
    return sessionRecord(sessionId, i & ~1, {
      ...extra,
      uuid: randomUUID(),
      message: {
        role: "user",
        content: [{ type: "tool_result", tool_use_id: `toolu_${i}`, content: words(r, r.int(20, 2000)) }],
      },
      toolUseResult: { stdout: words(r, r.int(1, 200)), stderr: "", interrupted: false },
    })
  }
  if (kind === 3) return JSON.stringify({ type: "summary", summary: words(r, 8), leafUuid: randomUUID() })
  return sessionRecord(sessionId, i, {
    ...extra,
    uuid: randomUUID(),
    message: { role: "user", content: `ünïcödé ✓ ${words(r, r.int(3, 60))} 日本語 🚀` },
  })
}

export function realisticFile(r: Rand, sessionId: string, lines: number, agentId: string | null = null): Buffer {
  const out: string[] = []
  for (let i = 0; i < lines; i++) out.push(`${realisticLine(r, sessionId, i, agentId)}\n`)
  return Buffer.from(out.join(""), "utf8")
}

export interface Corpus {
  readonly claudeDir: string
  readonly projectsDir: string
  readonly projects: readonly string[]
  /** Paths the live writer appends to. */
  readonly liveTargets: string[]
  readonly files: number
  readonly bytes: number
}

const PROJECTS = ["-home-dev-alpha", "-home-dev-beta-service", "-Users-someone-work-gamma"]

/**
 * ~40 session files in 3 project folders: main transcripts with random sizes, subagent files, one
 * ~3 MB line, an empty file, a file without a trailing newline, invalid UTF-8, non-object lines
 * and an unknown record type.
 */
export function writeCorpus(
  claudeDir: string,
  seed: number,
  options: { mainFiles?: number; hugeMegabytes?: number } = {},
): Corpus {
  const r = rng(seed)
  const projectsDir = join(claudeDir, "projects")
  let files = 0
  let bytes = 0
  const put = (path: string, content: Buffer) => {
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, content)
    files += 1
    bytes += content.length
  }
  const liveTargets: string[] = []
  const mainFiles = options.mainFiles ?? 30
  for (let n = 0; n < mainFiles; n++) {
    const project = PROJECTS[n % PROJECTS.length]!
    const sid = randomUUID()
    const path = join(projectsDir, project, `${sid}.jsonl`)
    put(path, realisticFile(r, sid, r.int(5, 120)))
    if (n % 5 === 0) {
      for (let a = 0; a < r.int(1, 2); a++) {
        const agentId = `a${randomUUID().slice(0, 8)}`
        const agentPath = join(projectsDir, project, sid, "subagents", `agent-${agentId}.jsonl`)
        put(agentPath, realisticFile(r, sid, r.int(3, 60), agentId))
        if (n === 0) liveTargets.push(agentPath)
      }
    }
    if (n < 3) liveTargets.push(path)
  }
  const [p0, p1, p2] = PROJECTS as [string, string, string]
  const special = (project: string, sid: string, content: Buffer) =>
    put(join(projectsDir, project, `${sid}.jsonl`), content)
  if ((options.hugeMegabytes ?? 3) > 0) {
    const huge = hugeLine(randomUUID(), options.hugeMegabytes ?? 3)
    special(p0, huge.sessionId, huge.bytes)
  }
  special(p1, randomUUID(), Buffer.alloc(0))
  const open = randomUUID()
  special(p1, open, Buffer.concat([realisticFile(r, open, 7), Buffer.from(realisticLine(r, open, 7))]))
  const bad = invalidUtf8()
  special(p2, bad.sessionId, bad.bytes)
  const nonObj = nonObjectLines()
  special(p2, nonObj.sessionId, nonObj.bytes)
  const unknown = unknownRecordType()
  special(p0, unknown.sessionId, unknown.bytes)
  // A side file that is not a transcript: must be ignored, not synced.
  mkdirSync(join(projectsDir, p0, "tool-results"), { recursive: true })
  writeFileSync(join(projectsDir, p0, "tool-results", "out.txt"), "not a session\n")
  return { claudeDir, projectsDir, projects: PROJECTS, liveTargets, files, bytes }
}

/**
 * Appends lines to a few files until stopped, and creates a couple of new sessions along the way.
 * A quarter of the lines are written in two parts with a pause in between (a write in progress).
 * `stop()` finishes the line in progress, so the files end on whole lines.
 */
export function startWriter(corpus: Corpus, seed: number, options: { newFiles?: number } = {}) {
  const r = rng(seed)
  const targets = [...corpus.liveTargets]
  const sessionOf = (path: string) => {
    const m = /([0-9a-f-]{36})(?:\.jsonl|\/subagents\/)/.exec(path)
    return m ? m[1]! : randomUUID()
  }
  let stopped = false
  let lines = 0
  let newFiles = options.newFiles ?? 2
  const step = async (i: number) => {
    if (newFiles > 0 && r.next() < 0.03) {
      newFiles -= 1
      const sid = randomUUID()
      const path = join(corpus.projectsDir, r.pick(corpus.projects), `${sid}.jsonl`)
      mkdirSync(dirname(path), { recursive: true })
      appendFileSync(path, `${realisticLine(r, sid, 0)}\n`)
      targets.push(path)
    }
    const path = r.pick(targets)
    const line = Buffer.from(`${realisticLine(r, sessionOf(path), i)}\n`)
    if (r.next() < 0.25) {
      // Cut anywhere, even inside a UTF-8 sequence.
      const cut = r.int(1, line.length - 1)
      appendFileSync(path, line.subarray(0, cut))
      await sleep(r.int(20, 300))
      appendFileSync(path, line.subarray(cut))
    } else {
      appendFileSync(path, line)
    }
    lines += 1
    await sleep(r.int(10, 80))
  }
  const loop = (async () => {
    for (let i = 1000; !stopped; i++) await step(i)
  })()
  // A failed write surfaces in `stop()`, not as an unhandled rejection.
  loop.catch(() => undefined)
  const writer = {
    get lines() {
      return lines
    },
    async stop(): Promise<number> {
      stopped = true
      await loop
      writers.delete(writer)
      return lines
    },
  }
  writers.add(writer)
  return writer
}

const writers = new Set<{ stop(): Promise<number> }>()

/** Stops every writer still running (afterEach, before the folders are removed). */
export async function stopAllWriters(): Promise<void> {
  await Promise.all([...writers].map((w) => w.stop().catch(() => 0)))
}
