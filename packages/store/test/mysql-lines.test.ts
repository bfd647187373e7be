/**
 * Line bytes in the database (`line_chunks`): a 64 MB line (a base64 image) round-trips byte for byte
 * whether it arrives whole or in the daemon's 1 MiB pieces, every stored row stays within 1 MiB, and
 * an export streams in pieces no larger than one statement's budget. Chunks are stored zstd-compressed
 * when that saves an eighth (the base64 image) and raw when not (random bytes); rows stored raw before
 * the `codec` column existed read as before; a codec this server does not know fails the read. Short
 * whole lines of one file go several to a row (line blocks), read back by every reader, and lines
 * stored before blocks read as before. Through both connectors; the PlanetScale bridge enforces
 * PlanetScale's request and result limits.
 */
import { randomBytes } from "node:crypto"
import type { Sync } from "@overlord/protocol"
import { type Append, collectBytes, type MachineActor } from "@overlord/store"
import {
  CODEC_RAW,
  CODEC_ZSTD,
  connectMysql2,
  connectPlanetscale,
  MYSQL_MIGRATIONS,
  type MysqlClient,
  MysqlEngine,
  migrateMysql,
  UnknownChunkCodec,
} from "@overlord/store/mysql"
import { type PlanetScaleBridge, startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { afterEach, describe, expect, it } from "vitest"
import { readLines } from "../src/mysql/line-chunks.ts"
import { mariaDbForTests } from "./mysql-test-server.ts"

const SID = "11111111-2222-3333-4444-555555555555"
const KEY = `-home-dev-proj/${SID}.jsonl`
const MiB = 1024 * 1024
const enc = new TextEncoder()
/** `count` user lines of the session `SID`, the i-th saying `content(i)`, each with its newline. */
const userLines = (count: number, content: (i: number) => string): string[] =>
  Array.from(
    { length: count },
    (_, i) => `{"type":"user","uuid":"u${i}","sessionId":"${SID}","message":{"content":"${content(i)}"}}\n`,
  )

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

interface Opened {
  readonly engine: MysqlEngine
  readonly client: MysqlClient
  readonly bridge?: PlanetScaleBridge
}

const connectors: Record<string, () => Promise<Opened>> = {
  mysql2: async () => {
    const db = await mariaDbForTests()
    const client = connectMysql2({ url: db.url(await db.createDatabase()) })
    const engine = await MysqlEngine.open(client)
    cleanups.push(async () => engine.close())
    return { engine, client }
  },
  planetscale: async () => {
    const mariadb = await mariaDbForTests()
    const bridge = await startPlanetScaleBridge({ mariadb, database: await mariadb.createDatabase() })
    const client = connectPlanetscale({ url: bridge.url })
    const engine = await MysqlEngine.open(client)
    cleanups.push(
      async () => engine.close(),
      () => bridge.stop(),
    )
    return { engine, client, bridge }
  },
}

/** A user record carrying an image as Claude Code writes it: one JSON line with the base64 inline. */
function imageLine(bytes: number): Uint8Array {
  const head = `{"type":"user","uuid":"u1","parentUuid":null,"sessionId":"${SID}","timestamp":"2026-11-01T10:00:00.000Z","message":{"role":"user","content":[{"type":"text","text":"look at this screenshot"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"`
  const tail = `"}}]}}`
  const data = randomBytes(Math.ceil(((bytes - head.length - tail.length) * 3) / 4))
    .toString("base64")
    .slice(0, bytes - head.length - tail.length)
  return enc.encode(head + data + tail)
}

async function machine(engine: MysqlEngine): Promise<MachineActor> {
  const userId = await engine.ensureUser("alice")
  return { userId, machineId: (await engine.openMachine({ userId }, "m-1", "laptop")).machineId }
}

const appendOf = (fromOffset: number, payload: Uint8Array, seq: number): Append => ({
  header: {
    type: "append",
    seq,
    fileKey: KEY,
    generation: 0,
    identity: "1:1",
    fromOffset,
    toOffset: fromOffset + payload.length,
  } satisfies Sync.AppendHeader,
  payload,
})

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
  )
}

/** Each codec's row count and stored bytes in `line_chunks`. */
async function codecs(client: MysqlClient): Promise<Record<number, { rows: number; bytes: number }>> {
  const { rows } = await client.query<{ codec: number; n: number; bytes: number }>(
    "SELECT codec, count(*) AS n, sum(length(bytes)) AS bytes FROM line_chunks GROUP BY codec",
  )
  return Object.fromEntries(rows.map((r) => [r.codec, { rows: r.n, bytes: r.bytes }]))
}

/** `bytes` with every newline replaced: one line that does not compress. */
function randomLine(bytes: number): Uint8Array {
  const line = randomBytes(bytes)
  for (let i = 0; i < line.length; i++) if (line[i] === 0x0a) line[i] = 0x0b
  return line
}

const withNewline = (line: Uint8Array): Uint8Array => {
  const file = new Uint8Array(line.length + 1)
  file.set(line)
  file[line.length] = 0x0a
  return file
}

async function exportedBytes(opened: Opened, actor: MachineActor): Promise<Uint8Array> {
  return collectBytes((await opened.engine.exportFile(actor, SID, KEY))!)
}

async function checkStored(opened: Opened, actor: MachineActor, file: Uint8Array): Promise<void> {
  const { engine, client } = opened
  const pieces: number[] = []
  const chunks = (await engine.exportFile(actor, SID, KEY))!
  const exported = await collectBytes(
    (async function* () {
      for await (const c of chunks) {
        pieces.push(c.length)
        yield c
      }
    })(),
  )
  expect(exported.length).toBe(file.length)
  expect(sameBytes(exported, file)).toBe(true)
  // Streamed: no piece is larger than one statement's budget (plus a newline).
  expect(Math.max(...pieces)).toBeLessThanOrEqual(client.maxStatementBytes + 1)
  const { rows } = await client.query<{ biggest: number; n: number }>(
    "SELECT max(length(bytes)) AS biggest, count(*) AS n FROM line_chunks",
  )
  expect(rows[0]!.biggest).toBeLessThanOrEqual(MiB)
  expect(rows[0]!.n).toBeGreaterThanOrEqual(Math.ceil((file.length - 1) / MiB))
  const page = (await engine.listEntries(actor, SID, {}))!
  expect(page.entries.map((e) => e.kind)).toEqual(["user"])
  expect(page.entries[0]!.line.length).toBe(file.length - 1)
}

for (const [name, connect] of Object.entries(connectors)) {
  describe(`line bytes through ${name}`, () => {
    it("stores a 64 MB line sent whole and exports it byte for byte", async () => {
      const opened = await connect()
      const actor = await machine(opened.engine)
      const line = imageLine(64 * 1000 * 1000)
      const file = new Uint8Array(line.length + 1)
      file.set(line)
      file[line.length] = 0x0a
      const [out] = await opened.engine.append(actor, [appendOf(0, file, 0)])
      expect(out!._tag).toBe("Ack")
      await checkStored(opened, actor, file)
      // Base64 carries 6 bits a byte: every chunk compressed, by more than an eighth.
      const stored = await codecs(opened.client)
      expect(Object.keys(stored)).toEqual([String(CODEC_ZSTD)])
      expect(stored[CODEC_ZSTD]!.bytes).toBeLessThan(line.length * 0.875)
    }, 300_000)

    it("stores a 64 MB line that does not compress raw, and exports it byte for byte", async () => {
      const opened = await connect()
      const actor = await machine(opened.engine)
      const file = withNewline(randomLine(64 * 1000 * 1000))
      const [out] = await opened.engine.append(actor, [appendOf(0, file, 0)])
      expect(out!._tag).toBe("Ack")
      const exported = await exportedBytes(opened, actor)
      expect(sameBytes(exported, file)).toBe(true)
      expect(await codecs(opened.client)).toEqual({
        [CODEC_RAW]: { rows: Math.ceil((file.length - 1) / MiB), bytes: file.length - 1 },
      })
      const detail = (await opened.engine.getSession(actor, SID))!
      expect(detail.files[0]).toMatchObject({ bytes: file.length, entryCount: 1 })
      // The search indexer reads a long line in parts across raw chunks' boundaries (`readLineRange`).
      let indexed = 0
      for (let n = await opened.engine.indexForSearch(100); n > 0; n = await opened.engine.indexForSearch(100))
        indexed += n
      expect(indexed).toBe(1)
    }, 300_000)

    it("reads rows stored raw before the codec column existed, after the migration that adds it", async () => {
      const opened = await connect()
      const actor = await machine(opened.engine)
      const text = enc.encode(
        `{"type":"user","uuid":"u1","sessionId":"${SID}","message":{"role":"user","content":"${"again and again ".repeat(200_000)}"}}`,
      )
      const file = withNewline(text)
      for (let at = 0, seq = 0; at < file.length; at += 1_500_000, seq++) {
        const [out] = await opened.engine.append(actor, [
          appendOf(at, file.subarray(at, Math.min(file.length, at + 1_500_000)), seq),
        ])
        expect(out!._tag).toBe("Ack")
      }
      expect(Object.keys(await codecs(opened.client))).toEqual([String(CODEC_ZSTD)])
      // The database as a server before the codec column left it: every row raw, no column, no record.
      const version = MYSQL_MIGRATIONS.findIndex((m) => m.some((s) => typeof s !== "string" && "column" in s)) + 1
      const { rows } = await opened.client.query<{ entry_seq: number; at: number }>(
        "SELECT entry_seq, at FROM line_chunks ORDER BY at",
      )
      // A line that arrived in pieces has chunks where the pieces began: each ends where the next starts.
      expect(rows.length).toBeGreaterThan(Math.ceil(text.length / MiB))
      for (const [k, r] of rows.entries()) {
        const end = rows[k + 1]?.at ?? text.length
        await opened.client.query("UPDATE line_chunks SET bytes = ?, codec = 0 WHERE entry_seq = ? AND at = ?", [
          text.subarray(r.at, end),
          r.entry_seq,
          r.at,
        ])
      }
      await opened.client.query("ALTER TABLE line_chunks DROP COLUMN codec")
      await opened.client.query("DELETE FROM schema_migrations WHERE version = ?", [version])
      expect(await migrateMysql(opened.client)).toEqual([version])
      expect(await codecs(opened.client)).toEqual({ [CODEC_RAW]: { rows: rows.length, bytes: text.length } })
      expect(sameBytes(await exportedBytes(opened, actor), file)).toBe(true)
      const page = (await opened.engine.listEntries(actor, SID, {}))!
      expect(page.entries[0]!.line.length).toBe(text.length)
    }, 120_000)

    it("fails a read of a chunk whose codec this server does not know, instead of returning its bytes", async () => {
      const opened = await connect()
      const actor = await machine(opened.engine)
      const [out] = await opened.engine.append(actor, [
        appendOf(0, enc.encode(`{"type":"user","sessionId":"${SID}","message":{"content":"hi"}}\n`), 0),
      ])
      expect(out!._tag).toBe("Ack")
      await opened.client.query("UPDATE line_chunks SET codec = 7")
      await expect(exportedBytes(opened, actor)).rejects.toBeInstanceOf(UnknownChunkCodec)
    })

    it("stores short whole lines of one file several to a row, and reads each back byte for byte", async () => {
      const opened = await connect()
      const actor = await machine(opened.engine)
      const OTHER = "99999999-2222-3333-4444-555555555555"
      const otherKey = `-home-dev-proj/${OTHER}.jsonl`
      // Lines like a transcript's: the same keys again and again, some text unique to each line.
      const lineOf = (sid: string, i: number) =>
        `{"type":"${i % 2 ? "assistant" : "user"}","uuid":"u${i}","sessionId":"${sid}","message":{"role":"user","content":"line ${i} ${"word".repeat(i % 300)} ${randomBytes(8).toString("hex")}"}}\n`
      const mainLines = Array.from({ length: 400 }, (_, i) => lineOf(SID, i))
      const otherLines = Array.from({ length: 50 }, (_, i) => lineOf(OTHER, i))
      // The main file's last line arrives unterminated in the first group and ends in the second.
      const open = mainLines[399]!
      const firstGroup = enc.encode(mainLines.slice(0, 399).join("") + open.slice(0, 40))
      const rest = enc.encode(open.slice(40))
      const other = enc.encode(otherLines.join(""))
      const half = firstGroup.indexOf(0x0a, firstGroup.length >> 1) + 1
      const outs = await opened.engine.append(actor, [
        appendOf(0, firstGroup.subarray(0, half), 0),
        { ...appendOf(0, other, 1), header: { ...appendOf(0, other, 1).header, fileKey: otherKey } },
        appendOf(half, firstGroup.subarray(half), 2),
      ])
      expect(outs.map((o) => o._tag)).toEqual(["Ack", "Ack", "Ack"])
      const { rows: open1 } = await opened.client.query<{ block_seq: number | null; is_terminated: number }>(
        "SELECT block_seq, is_terminated FROM entries WHERE is_terminated = 0",
      )
      expect(open1).toEqual([{ block_seq: null, is_terminated: 0 }])
      const [more] = await opened.engine.append(actor, [appendOf(firstGroup.length, rest, 3)])
      expect(more!._tag).toBe("Ack")

      // Few rows: blocks of at most 256 KiB, each holding one file's lines only.
      const mainFile = enc.encode(mainLines.join(""))
      const { rows: counted } = await opened.client.query<{ n: number }>("SELECT count(*) AS n FROM line_chunks")
      expect(counted[0]!.n).toBeLessThan(20)
      const { rows: placed } = await opened.client.query<{ blocks: number; mixed: number; inBlocks: number }>(
        `SELECT count(DISTINCT e.block_seq) AS blocks, sum(e.file_id <> b.file_id) AS mixed, count(*) AS inBlocks
         FROM entries e JOIN entries b ON b.seq = e.block_seq`,
      )
      expect(placed[0]!.mixed).toBe(0)
      expect(placed[0]!.inBlocks).toBe(449)
      expect(placed[0]!.blocks).toBeGreaterThan(2)

      // Each line through every reader: export, the transcript page, search, and a restarted daemon's tails.
      expect(sameBytes(await exportedBytes(opened, actor), mainFile)).toBe(true)
      expect(sameBytes(await collectBytes((await opened.engine.exportFile(actor, OTHER, otherKey))!), other)).toBe(true)
      const page = (await opened.engine.listEntries(actor, SID, { limit: 1000 }))!
      expect(page.entries.map((e) => e.line)).toEqual(mainLines.map((l) => l.slice(0, -1)))
      while ((await opened.engine.indexForSearch(100)) > 0) {}
      const found = await opened.engine.search(actor, '"line 257"', 10)
      expect(found.hits.map((h) => h.snippet)).toEqual([expect.stringContaining("257")])
      const { cursors } = await opened.engine.openMachine({ userId: actor.userId }, "m-1", "laptop")
      for (const [key, bytes] of [
        [KEY, mainFile],
        [otherKey, other],
      ] as const) {
        const cursor = cursors.find((c) => c.fileKey === key)!
        expect(cursor.offset).toBe(bytes.length)
        const tail = Buffer.from(cursor.tail!, "base64")
        expect(tail.length).toBeGreaterThan(0)
        expect(sameBytes(tail, bytes.subarray(bytes.length - tail.length))).toBe(true)
      }
    }, 120_000)

    it("keeps a line cut across two appends of one group in rows of its own, between blocks", async () => {
      const opened = await connect()
      const actor = await machine(opened.engine)
      const lines = userLines(40, (i) => `line ${i}`)
      const file = enc.encode(lines.join(""))
      // The group's two appends meet in the middle of line 20.
      const cut = enc.encode(lines.slice(0, 20).join("")).length + 10
      const outs = await opened.engine.append(actor, [
        appendOf(0, file.subarray(0, cut), 0),
        appendOf(cut, file.subarray(cut), 1),
      ])
      expect(outs.map((o) => o._tag)).toEqual(["Ack", "Ack"])
      const { rows } = await opened.client.query<{ line_no: number; block_seq: number | null; first: number }>(
        `SELECT e.line_no, e.block_seq, (SELECT min(seq) FROM entries) AS first FROM entries e ORDER BY e.seq`,
      )
      expect(rows.length).toBe(40)
      expect(rows[20]!.block_seq).toBeNull()
      // The lines before it in one block, the lines after it in another.
      expect(new Set(rows.slice(0, 20).map((r) => r.block_seq))).toEqual(new Set([rows[0]!.first]))
      expect(new Set(rows.slice(21).map((r) => r.block_seq))).toEqual(new Set([rows[0]!.first + 21]))
      expect(sameBytes(await exportedBytes(opened, actor), file)).toBe(true)
      const page = (await opened.engine.listEntries(actor, SID, { limit: 100 }))!
      expect(page.entries.map((e) => e.line)).toEqual(lines.map((l) => l.slice(0, -1)))
    })

    it("reads lines stored before line blocks, after the migration that adds them, and blocks new ones", async () => {
      const opened = await connect()
      const actor = await machine(opened.engine)
      const lines = userLines(30, (i) => `hello ${i}`)
      const file = enc.encode(lines.join(""))
      // One line a group: each in rows of its own, as every line was before blocks.
      let at = 0
      for (const [seq, line] of lines.slice(0, 20).entries()) {
        const bytes = enc.encode(line)
        expect((await opened.engine.append(actor, [appendOf(at, bytes, seq)]))[0]!._tag).toBe("Ack")
        at += bytes.length
      }
      const version =
        MYSQL_MIGRATIONS.findIndex((m) =>
          m.some((st) => typeof st !== "string" && "column" in st && st.column === "block_seq"),
        ) + 1
      await opened.client.query("ALTER TABLE entries DROP COLUMN block_seq, DROP COLUMN block_at")
      await opened.client.query("DELETE FROM schema_migrations WHERE version = ?", [version])
      expect(await migrateMysql(opened.client)).toEqual([version])
      expect(sameBytes(await exportedBytes(opened, actor), file.subarray(0, at))).toBe(true)
      const [out] = await opened.engine.append(actor, [appendOf(at, file.subarray(at), 20)])
      expect(out!._tag).toBe("Ack")
      const { rows } = await opened.client.query<{ n: number }>(
        "SELECT count(*) AS n FROM entries WHERE block_seq IS NOT NULL",
      )
      expect(rows[0]!.n).toBe(10)
      expect(sameBytes(await exportedBytes(opened, actor), file)).toBe(true)
    })

    it("stores a 64 MB line sent in the daemon's 1 MiB pieces, four to a group, byte for byte", async () => {
      const opened = await connect()
      const actor = await machine(opened.engine)
      const line = imageLine(64 * 1000 * 1000)
      const file = new Uint8Array(line.length + 1)
      file.set(line)
      file[line.length] = 0x0a
      let seq = 0
      for (let at = 0; at < file.length; ) {
        const group: Append[] = []
        for (let k = 0; k < 4 && at < file.length; k++) {
          const end = Math.min(file.length, at + MiB)
          group.push(appendOf(at, file.subarray(at, end), seq++))
          at = end
        }
        const outs = await opened.engine.append(actor, group)
        expect(outs.map((o) => o._tag)).toEqual(group.map(() => "Ack"))
      }
      await checkStored(opened, actor, file)
      const detail = (await opened.engine.getSession(actor, SID))!
      expect(detail.files[0]).toMatchObject({ bytes: file.length, entryCount: 1 })
      // Its facts came from a streamed scan of the stored chunks, its search text too (never read whole).
      expect(detail.session).toMatchObject({ lastAt: "2026-11-01T10:00:00.000Z", title: "look at this screenshot" })
      while ((await opened.engine.indexForSearch(100)) > 0) {}
      const found = await opened.engine.search(actor, "screenshot", 10)
      expect(found.hits.map((h) => h.snippet)).toEqual([expect.stringContaining("«screenshot»")])
    }, 300_000)
  })
}

describe("requests per group through the PlanetScale driver", () => {
  it("stores a 4 MB group in a small number of requests, whatever its line count", async () => {
    const opened = await connectors.planetscale!()
    const actor = await machine(opened.engine)
    let at = 0
    let n = 0
    /** Requests for a group of four 1 MiB appends of `linesPerAppend` lines each. */
    const requestsFor = async (linesPerAppend: number, kind: "user" | "assistant") => {
      const group: Append[] = []
      for (let k = 0; k < 4; k++) {
        const width = Math.floor(MiB / linesPerAppend)
        let text = ""
        for (let i = 0; i < linesPerAppend; i++) {
          const id = n++
          const head =
            kind === "user"
              ? `{"type":"user","uuid":"u${id}","sessionId":"${SID}","message":{"role":"user","content":"`
              : `{"type":"assistant","uuid":"a${id}","sessionId":"${SID}","requestId":"req_${id}","message":{"id":"msg_${id}","role":"assistant","model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":1,"output_tokens":2},"content":"`
          text += `${head}${"x".repeat(Math.max(1, width - head.length - 5))}"}}\n`
        }
        const payload = enc.encode(text)
        group.push(appendOf(at, payload, k))
        at += payload.length
      }
      const before = opened.bridge!.requestCount()
      const outs = await opened.engine.append(actor, group)
      expect(outs.map((o) => o._tag)).toEqual(["Ack", "Ack", "Ack", "Ack"])
      return opened.bridge!.requestCount() - before
    }
    const created = await requestsFor(4, "user") // the file and its session are created here
    const few = await requestsFor(4, "user")
    // BEGIN, files (with their sessions), open lines (with their bytes), seqs; entries, line bytes (one
    // statement of up to 6 MiB), sessions, files; COMMIT.
    expect(few).toBeLessThanOrEqual(10)
    // A new file and its session: one insert each, then one read of both (`createFiles`; it was four).
    expect(created).toBe(few + 3)
    expect(await requestsFor(2000, "user")).toBe(few)
    // API responses add two: their kept copies are read, and written, in one statement each.
    const usage = await requestsFor(2000, "assistant")
    expect(usage).toBe(few + 2)
  }, 120_000)
})

describe("reading lines in blocks through the PlanetScale driver", () => {
  it("keeps a read's result within its bound when each line asked for is in a different block", async () => {
    const mariadb = await mariaDbForTests()
    // A result limit of 1.2 MiB stands for PlanetScale's 64 MiB, read in statements of about 1 MiB of lines.
    const bridge = await startPlanetScaleBridge({
      mariadb,
      database: await mariadb.createDatabase(),
      maxResultBytes: 1.2 * MiB,
    })
    const client = connectPlanetscale({ url: bridge.url })
    const engine = await MysqlEngine.open(client)
    cleanups.push(
      async () => engine.close(),
      () => bridge.stop(),
    )
    const actor = await machine(engine)
    // 40 lines of ~120 KiB that barely compress: blocks of two lines (~240 KiB each).
    const lines = userLines(40, () => randomBytes(90 * 1024).toString("base64"))
    const file = enc.encode(lines.join(""))
    for (let at = 0, seq = 0; at < file.length; seq++) {
      const end = Math.min(file.length, at + MiB)
      const cut = file.lastIndexOf(0x0a, end - 1) + 1
      const [out] = await engine.append(actor, [appendOf(at, file.subarray(at, cut), seq)])
      expect(out!._tag).toBe("Ack")
      at = cut
    }
    const { rows } = await client.query<{ seq: number; raw_len: number; block_seq: number | null }>(
      "SELECT seq, raw_len, block_seq FROM entries ORDER BY seq",
    )
    const firsts = rows.filter((r) => r.block_seq === r.seq)
    expect(firsts.length).toBeGreaterThanOrEqual(15)
    // One line of each block, 1 MiB of lines at most a statement: their blocks (~180 KiB each, stored)
    // are ~1.4 MiB for eight lines, past the limit, unless a read counts what each block may bring.
    const read = await readLines(client, firsts, MiB)
    for (const [k, line] of firsts.entries()) {
      expect(new TextDecoder().decode(read[k]!)).toBe(lines[rows.indexOf(line)]!.slice(0, -1))
    }
  }, 120_000)
})
