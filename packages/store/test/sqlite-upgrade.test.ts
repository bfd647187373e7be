/**
 * A database written by the first release (migration 1 only, line bytes in `entries.raw`) opens under
 * the current engine: every migration runs, and its sessions, usage totals and exports stay intact.
 */
import { Database } from "bun:sqlite"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Sync } from "@overlord/protocol"
import { collectBytes, type MachineActor } from "@overlord/store"
import { SqliteEngine } from "@overlord/store/sqlite"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { SQLITE_MIGRATIONS } from "../src/sqlite/schema.ts"

const enc = new TextEncoder()
const dec = new TextDecoder()
const SID = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f"
const PROJECT = "-home-dev-proj"
const KEY = `${PROJECT}/${SID}.jsonl`
const MODEL = "claude-sonnet-4-5-20250929"

// Lines as Claude Code writes them: a user prompt, then the assistant's answer with its usage.
const USER_LINE = JSON.stringify({
  parentUuid: null,
  isSidechain: false,
  userType: "external",
  cwd: "/home/dev/proj",
  sessionId: SID,
  version: "2.0.14",
  gitBranch: "main",
  type: "user",
  message: { role: "user", content: "add a test for the upgrade path" },
  uuid: "6a1f0c9e-1111-4a2b-9c3d-000000000001",
  timestamp: "2026-10-01T09:00:00.000Z",
})
const ASSISTANT_LINE = JSON.stringify({
  parentUuid: "6a1f0c9e-1111-4a2b-9c3d-000000000001",
  isSidechain: false,
  userType: "external",
  cwd: "/home/dev/proj",
  sessionId: SID,
  version: "2.0.14",
  gitBranch: "main",
  message: {
    id: "msg_01UpgradeTestAAAAAAAAAAA",
    type: "message",
    role: "assistant",
    model: MODEL,
    content: [{ type: "text", text: "Done: the test builds a version-1 database." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: 120,
      cache_creation_input_tokens: 40,
      cache_read_input_tokens: 300,
      output_tokens: 15,
      service_tier: "standard",
    },
  },
  requestId: "req_011UpgradeTestBBBBBBBBB",
  type: "assistant",
  uuid: "6a1f0c9e-2222-4a2b-9c3d-000000000002",
  timestamp: "2026-10-01T09:00:05.000Z",
})
const COST = 0.000756
const LINES = [USER_LINE, ASSISTANT_LINE]
const FILE_TEXT = `${USER_LINE}\n${ASSISTANT_LINE}\n`
const FILE_BYTES = enc.encode(FILE_TEXT)

let dir: string
let path: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "overlord-upgrade-"))
  path = join(dir, "overlord.db")
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** The database as the first release left it: migration 1's schema, one session synced in full. */
function writeFirstReleaseDatabase(): void {
  const v1 = new Database(path, { strict: true })
  v1.run(SQLITE_MIGRATIONS[0] as string)
  v1.run("PRAGMA user_version = 1")
  v1.run("INSERT INTO users (id, name, created_at) VALUES (1, 'alice', '2026-10-01T08:00:00.000Z')")
  v1.run(
    `INSERT INTO machines (id, user_id, machine_uid, name, created_at, last_seen_at, online, files_tracked)
     VALUES (1, 1, 'm-1', 'laptop', '2026-10-01T08:00:00.000Z', '2026-10-01T09:00:05.000Z', 0, 1)`,
  )
  v1.query(
    `INSERT INTO sessions (id, user_id, machine_id, session_uid, project_dir, cwd, first_prompt, first_at, last_at,
     entry_count, has_errors, models, last_seq) VALUES (1, 1, 1, ?, ?, '/home/dev/proj', ?, ?, ?, 2, 0, ?, 2)`,
  ).run(
    SID,
    PROJECT,
    "add a test for the upgrade path",
    "2026-10-01T09:00:00.000Z",
    "2026-10-01T09:00:05.000Z",
    JSON.stringify([MODEL]),
  )
  v1.query(
    `INSERT INTO files (id, user_id, machine_id, file_key, session_id, agent_id, layout, generation, offset, identity,
     live_end, line_count, open_seq) VALUES (1, 1, 1, ?, 1, NULL, 'main', 0, ?, '1:1', ?, 2, NULL)`,
  ).run(KEY, FILE_BYTES.length, FILE_BYTES.length)
  const insert = v1.query(
    `INSERT INTO entries (seq, user_id, file_id, session_id, line_no, byte_offset, terminated, raw, kind, subtype, uuid,
     parent_uuid, ts, superseded) VALUES (?, 1, 1, 1, ?, ?, 1, ?, ?, NULL, ?, ?, ?, 0)`,
  )
  let offset = 0
  LINES.forEach((line, i) => {
    const parsed = JSON.parse(line) as { type: string; uuid: string; parentUuid: string | null; timestamp: string }
    insert.run(i + 1, i, offset, enc.encode(line), parsed.type, parsed.uuid, parsed.parentUuid, parsed.timestamp)
    offset += enc.encode(line).length + 1
  })
  v1.query(
    `INSERT INTO usage_messages (user_id, dedup_key, session_id, project_dir, entry_seq, model, day, input, output,
     cache_write, cache_read, total, is_sidechain, cost_usd) VALUES (1, ?, 1, ?, 2, ?, '2026-10-01', 120, 15, 40, 300, 475, 0, ?)`,
  ).run("msg_01UpgradeTestAAAAAAAAAAA:req_011UpgradeTestBBBBBBBBB", PROJECT, MODEL, COST)
  v1.close()
}

describe("SQLite upgrade from the first release", () => {
  it("migrates to the current schema with its sessions, usage and exports intact", async () => {
    writeFirstReleaseDatabase()

    const engine = new SqliteEngine({ path })
    const db = (engine as unknown as { db: Database }).db
    expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(
      SQLITE_MIGRATIONS.length,
    )

    const actor: MachineActor = { userId: 1, machineId: 1 }
    const list = await engine.listSessions({ userId: 1 }, {})
    expect(list.sessions.map((s) => s.sessionId)).toEqual([SID])
    const summary = list.sessions[0]!
    expect(summary.projectDir).toBe(PROJECT)
    expect(summary.entryCount).toBe(2)
    expect(summary.models).toEqual([MODEL])
    expect(summary.usage).toEqual({ input: 120, output: 15, cacheWrite: 40, cacheRead: 300, costUsd: COST })

    const detail = (await engine.getSession({ userId: 1 }, SID))!
    expect(detail.session.entryCount).toBe(2)
    expect(detail.session.usage).toEqual(summary.usage)

    const exported = await collectBytes((await engine.exportFile(actor, SID, KEY))!)
    expect(Buffer.compare(Buffer.from(exported), Buffer.from(FILE_BYTES))).toBe(0)
    expect(dec.decode(exported)).toBe(FILE_TEXT)

    // The machine goes on where the first release stopped: an append at the stored offset is accepted.
    const opened = await engine.openMachine({ userId: 1 }, "m-1", "laptop")
    expect(opened.machineId).toBe(1)
    expect(opened.cursors.find((c) => c.fileKey === KEY)?.offset).toBe(FILE_BYTES.length)
    const next = `${JSON.stringify({
      parentUuid: "6a1f0c9e-2222-4a2b-9c3d-000000000002",
      sessionId: SID,
      type: "user",
      message: { role: "user", content: "thanks" },
      uuid: "6a1f0c9e-3333-4a2b-9c3d-000000000003",
      timestamp: "2026-10-01T09:01:00.000Z",
    })}\n`
    const payload = enc.encode(next)
    const header: Sync.AppendHeader = {
      type: "append",
      seq: 1,
      fileKey: KEY,
      generation: 0,
      identity: "1:1",
      fromOffset: FILE_BYTES.length,
      toOffset: FILE_BYTES.length + payload.length,
    }
    const [out] = await engine.append(actor, [{ header, payload }])
    expect(out!._tag).toBe("Ack")
    expect(dec.decode(await collectBytes((await engine.exportFile(actor, SID, KEY))!))).toBe(FILE_TEXT + next)
    expect((await engine.getSession({ userId: 1 }, SID))!.session.entryCount).toBe(3)
    engine.close()
  })
})
