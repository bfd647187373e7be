import { randomUUID } from "node:crypto"
import { mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"

// Damaged session files that the real-world corpus does not contain (known only from bug reports), generated so
// parsers and tailers can be tested against them.

export interface BadInput {
  readonly name: string
  readonly description: string
  readonly sessionId: string
  readonly bytes: Buffer
  /** Physical lines: `\n`-separated pieces, counting an unterminated last piece, not counting the empty tail. */
  readonly lines: number
  /**
   * JSON-object records a robust reader yields, decoding UTF-8 leniently (invalid bytes -> U+FFFD), skipping blank,
   * NUL-only, unparseable and non-object lines, and keeping unknown `type`s.
   */
  readonly records: number
}

const NOW = Date.parse("2026-01-02T03:04:05.000Z")

/** A plausible user or assistant record; `i` varies uuid order, timestamp and text. */
export function sessionRecord(sessionId: string, i: number, extra: Record<string, unknown> = {}): string {
  const base = {
    parentUuid: i === 0 ? null : `00000000-0000-4000-8000-${String(i - 1).padStart(12, "0")}`,
    isSidechain: false,
    userType: "external",
    cwd: "/home/dev/project",
    sessionId,
    version: "2.1.330",
    gitBranch: "main",
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    timestamp: new Date(NOW + i * 1000).toISOString(),
  }
  const body =
    i % 2 === 0
      ? { type: "user", message: { role: "user", content: `prompt number ${i}` } }
      : {
          type: "assistant",
          requestId: `req_011Bad${i}`,
          message: {
            id: `msg_01Bad${i}`,
            type: "message",
            role: "assistant",
            model: "claude-sonnet-4-5",
            content: [{ type: "text", text: `answer number ${i}` }],
            stop_reason: "end_turn",
            stop_sequence: null,
            usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
          },
        }
  return JSON.stringify({ ...base, ...body, ...extra })
}

const lines = (...parts: Array<string | Buffer>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : p)))

const countLines = (b: Buffer): number => {
  let n = 0
  for (const byte of b) if (byte === 0x0a) n++
  return b.length > 0 && b[b.length - 1] !== 0x0a ? n + 1 : n
}

const make = (name: string, description: string, sessionId: string, bytes: Buffer, records: number): BadInput => ({
  name,
  description,
  sessionId,
  bytes,
  lines: countLines(bytes),
  records,
})

/** Invalid UTF-8 bytes (a lone continuation byte, 0xFF, a cut 3-byte sequence) inside a JSON string value. */
export function invalidUtf8(sessionId = randomUUID()): BadInput {
  const [head, tail] = sessionRecord(sessionId, 2).split("prompt number 2") as [string, string]
  const broken = lines(head, "prompt ", Buffer.from([0x80, 0xff, 0xe2, 0x82]), " broken", tail)
  return make(
    "invalid-utf8",
    "a record whose text contains invalid UTF-8; it still parses once decoded with replacement characters",
    sessionId,
    lines(
      sessionRecord(sessionId, 0),
      "\n",
      sessionRecord(sessionId, 1),
      "\n",
      broken,
      "\n",
      sessionRecord(sessionId, 3),
      "\n",
    ),
    4,
  )
}

/** The last record cut mid-way with no newline (kill -9, power loss). */
export function truncatedLastLine(sessionId = randomUUID()): BadInput {
  const last = sessionRecord(sessionId, 3)
  return make(
    "truncated-last-line",
    "three records, then a fourth cut in half without a trailing newline",
    sessionId,
    lines(
      sessionRecord(sessionId, 0),
      "\n",
      sessionRecord(sessionId, 1),
      "\n",
      sessionRecord(sessionId, 2),
      "\n",
      last.slice(0, Math.floor(last.length / 2)),
    ),
    3,
  )
}

/** A run of NUL bytes on its own line (ext4 delayed allocation after a crash), then normal appends. */
export function nulRun(sessionId = randomUUID(), length = 512): BadInput {
  return make(
    "nul-run",
    `a line of ${length} NUL bytes between records`,
    sessionId,
    lines(sessionRecord(sessionId, 0), "\n", Buffer.alloc(length, 0), "\n", sessionRecord(sessionId, 1), "\n"),
    2,
  )
}

/** A truncated stub glued to the next record without a newline (#52387); one unparseable line. */
export function gluedRecords(sessionId = randomUUID()): BadInput {
  const stub = JSON.stringify({ type: "pr-link", sessionId, prNumber: 42, prUrl: "https://example.invalid/pr/42" })
  return make(
    "glued-records",
    "a cut pr-link record glued to a full user record; salvage from the last '{\"parentUuid\"' if you like",
    sessionId,
    lines(
      sessionRecord(sessionId, 0),
      "\n",
      stub.slice(0, 40),
      sessionRecord(sessionId, 1),
      "\n",
      sessionRecord(sessionId, 2),
      "\n",
    ),
    2,
  )
}

/** A valid user record carrying a tool_result image of about `megabytes` MB of base64, stored twice as Claude Code does. */
export function hugeLine(sessionId = randomUUID(), megabytes = 2): BadInput {
  const data = Buffer.alloc(Math.floor((megabytes * 1024 * 1024 * 3) / 4 / 2), 0x5a).toString("base64")
  const record = sessionRecord(sessionId, 2, {
    message: {
      role: "user",
      content: [
        {
          type: "tool_result",
          tool_use_id: "toolu_01BadHuge",
          content: [{ type: "image", source: { type: "base64", media_type: "image/png", data } }],
        },
      ],
    },
    toolUseResult: { type: "image", file: { base64: data, type: "image/png", originalSize: data.length } },
  })
  return make(
    "huge-line",
    `one ~${megabytes} MB line (base64 image in message and toolUseResult)`,
    sessionId,
    lines(
      sessionRecord(sessionId, 0),
      "\n",
      sessionRecord(sessionId, 1),
      "\n",
      record,
      "\n",
      sessionRecord(sessionId, 3),
      "\n",
    ),
    4,
  )
}

/** JSON values that are not objects, a comment line, blank and CRLF lines, mixed with real records. */
export function nonObjectLines(sessionId = randomUUID()): BadInput {
  return make(
    "non-object-lines",
    '42, [1], "str", null, true, a // comment, a blank line and a CRLF-terminated record',
    sessionId,
    lines(
      sessionRecord(sessionId, 0),
      '\n42\n[1]\n"str"\nnull\ntrue\n// Source: gist\n\n',
      sessionRecord(sessionId, 1),
      "\r\n",
      sessionRecord(sessionId, 2),
      "\n",
    ),
    3,
  )
}

/** A record of a type no version knows yet, which readers must keep rather than drop or choke on. */
export function unknownRecordType(sessionId = randomUUID()): BadInput {
  const future = JSON.stringify({
    type: "quantum-entanglement-snapshot",
    sessionId,
    uuid: "00000000-0000-4000-8000-00000000ffff",
    timestamp: new Date(NOW + 5000).toISOString(),
    payload: { nested: [1, 2, 3], note: "from a future Claude Code" },
  })
  return make(
    "unknown-record-type",
    "a record with an unknown `type` between normal records",
    sessionId,
    lines(sessionRecord(sessionId, 0), "\n", future, "\n", sessionRecord(sessionId, 1), "\n"),
    3,
  )
}

/** Every case with small defaults (the huge line is 2 MB). */
export function allBadInputs(): BadInput[] {
  return [
    invalidUtf8(),
    truncatedLastLine(),
    nulRun(),
    gluedRecords(),
    hugeLine(),
    nonObjectLines(),
    unknownRecordType(),
  ]
}

/** Writes each case as `<projectsDir>/<projectDirName>/<sessionId>.jsonl`; returns the paths in input order. */
export async function writeBadInputs(
  projectsDir: string,
  inputs: readonly BadInput[] = allBadInputs(),
  projectDirName = "-home-dev-project",
): Promise<string[]> {
  const dir = join(projectsDir, projectDirName)
  await mkdir(dir, { recursive: true })
  const paths: string[] = []
  for (const input of inputs) {
    const path = join(dir, `${input.sessionId}.jsonl`)
    await writeFile(path, input.bytes)
    paths.push(path)
  }
  return paths
}
