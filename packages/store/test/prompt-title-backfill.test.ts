/**
 * Sessions stored before a prompt command counted as a prompt (dc5b7d4) keep no title until their file is
 * read again, which never happens to a file that stopped growing: "untitled a5c478e1" for good. The
 * migration that titles them (SQLite 14, MySQL 12, `prompt-title-backfill.ts`) runs over a database holding
 * sessions written as the older code wrote them: the same rows, with `first_prompt` NULL where the session
 * began with a command (the older rule skipped every `<command-…` line), and the later typed prompt where
 * one followed. On SQLite (reopened), MariaDB through mysql2 and the PlanetScale driver, and with two
 * servers migrating at once.
 */
import type { Database } from "bun:sqlite"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Sync } from "@overlord/protocol"
import type { MachineActor } from "@overlord/store"
import { connectMysql2, connectPlanetscale, MYSQL_MIGRATIONS, MysqlEngine, migrateMysql } from "@overlord/store/mysql"
import { SqliteEngine } from "@overlord/store/sqlite"
import { sessionRecord } from "@overlord/testkit/bad-input"
import { startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { afterEach, describe, expect, it } from "vitest"
import type { LineLog } from "../src/line-log.ts"
import { SQLITE_MIGRATIONS, titleUntitledSessions } from "../src/sqlite/schema.ts"
import { mariaDbForTests } from "./mysql-test-server.ts"

const enc = new TextEncoder()
const PROJECT = "-home-dev-slash"
const COMMAND = "e1e1e1e1-0000-4000-8000-000000000001"
const LOCAL = "e2e2e2e2-0000-4000-8000-000000000002"
const TYPED = "e3e3e3e3-0000-4000-8000-000000000003"
const LATER = "e4e4e4e4-0000-4000-8000-000000000004"
const AGENT_ONLY = "e5e5e5e5-0000-4000-8000-000000000005"
const AFTER_TOOLS = "e6e6e6e6-0000-4000-8000-000000000006"

const user = (content: unknown, extra: Record<string, unknown> = {}) => ({
  message: { role: "user", content },
  ...extra,
})
const commandXml = (name: string, args: string) =>
  `<command-message>${name.slice(1)} is running…</command-message>\n<command-name>${name}</command-name>\n<command-args>${args}</command-args>`
const toolResult = (i: number) =>
  user([{ type: "tool_result", tool_use_id: `toolu_${i}`, content: `output ${i} `.repeat(200) }])

/** Each session's file (key → lines), as Claude Code writes them. */
const FILES: Record<string, string[]> = {
  // A prompt command, its expanded prompt (meta), the answer.
  [`${PROJECT}/${COMMAND}.jsonl`]: [
    sessionRecord(COMMAND, 0, user(commandXml("/erk:plan-implement", "8511"))),
    sessionRecord(COMMAND, 1),
    sessionRecord(COMMAND, 2, user("# /erk:plan-implement\n\nImplement a plan…", { isMeta: true })),
  ],
  // A local command only: untitled now as then.
  [`${PROJECT}/${LOCAL}.jsonl`]: [
    sessionRecord(
      LOCAL,
      0,
      user(
        "<command-name>/clear</command-name>\n<command-message>clear</command-message>\n<command-args></command-args>",
      ),
    ),
  ],
  // A typed prompt: titled then and now.
  [`${PROJECT}/${TYPED}.jsonl`]: [sessionRecord(TYPED, 0, user("fix the flaky login test")), sessionRecord(TYPED, 1)],
  // A command, then a typed prompt: the older rule titled it by the typed one, which stays.
  [`${PROJECT}/${LATER}.jsonl`]: [
    sessionRecord(LATER, 0, user(commandXml("/review", "42"))),
    sessionRecord(LATER, 1),
    sessionRecord(LATER, 2, user("now fix what you found")),
  ],
  // Only a subagent's transcript (its prompt is the Task tool's input): no main lines, no title.
  [`${PROJECT}/${AGENT_ONLY}/subagents/agent-a6c06884.jsonl`]: [
    sessionRecord(AGENT_ONLY, 0, user(commandXml("/init", ""), { isSidechain: true, agentId: "a6c06884" })),
  ],
  // Local commands and tool results before the prompt command: found past the first read's lines.
  [`${PROJECT}/${AFTER_TOOLS}.jsonl`]: [
    ...Array.from({ length: 9 }, (_, i) => sessionRecord(AFTER_TOOLS, 2 * i, toolResult(i))),
    sessionRecord(AFTER_TOOLS, 18, user(commandXml("/security-review", ""))),
  ],
}

/** What the older code stored as `first_prompt`, where it differs from today's. */
const OLD_FIRST_PROMPT: Record<string, string | null> = {
  [COMMAND]: null,
  [LATER]: "now fix what you found",
  [AFTER_TOOLS]: null,
}

/** Today's titles, as the ingest gives them. */
const TODAY: Record<string, string | null> = {
  [COMMAND]: "/erk:plan-implement 8511",
  [LOCAL]: null,
  [TYPED]: "fix the flaky login test",
  [LATER]: "/review 42",
  [AGENT_ONLY]: null,
  [AFTER_TOOLS]: "/security-review",
}

/** After the migration: every untitled session as today; one titled by a later typed prompt keeps it. */
const MIGRATED: Record<string, string | null> = { ...TODAY, [LATER]: "now fix what you found" }

type Engine = SqliteEngine | MysqlEngine

/** Syncs every file, as a daemon would, and returns the user. */
async function syncAll(engine: Engine): Promise<number> {
  const userId = await engine.ensureUser("alice")
  const actor: MachineActor = { userId, machineId: (await engine.openMachine({ userId }, "m-1", "laptop")).machineId }
  let seq = 0
  for (const [fileKey, lines] of Object.entries(FILES)) {
    const payload = enc.encode(`${lines.join("\n")}\n`)
    const header: Sync.AppendHeader = {
      type: "append",
      seq: seq++,
      fileKey,
      generation: 0,
      identity: "1:1",
      fromOffset: 0,
      toOffset: payload.length,
    }
    await engine.append(actor, [{ header, payload }])
  }
  return userId
}

async function titles(engine: Engine, userId: number): Promise<Record<string, string | null>> {
  const list = await engine.listSessions({ userId }, {})
  return Object.fromEntries(list.sessions.map((s) => [s.sessionId, s.title]))
}

/** The statements that turn today's rows into the older code's. */
const OLD_ROWS = Object.entries(OLD_FIRST_PROMPT).map(
  ([sid, prompt]) => ["UPDATE sessions SET first_prompt = ? WHERE session_uid = ?", [prompt, sid]] as const,
)

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe("titles of sessions stored before prompt commands counted", () => {
  it("SQLite: migration 14 titles them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "overlord-prompt-titles-"))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const path = join(dir, "overlord.db")
    let engine = new SqliteEngine({ path })
    const userId = await syncAll(engine)
    expect(await titles(engine, userId)).toEqual(TODAY)

    // The rows as an Overlord before the migration left them, then the migration as the engine runs it at
    // open (in a transaction), on the engine's own connection and line log. Later migrations follow it in
    // the list, so the database cannot simply be taken back to version 13 and reopened.
    const { db, lines } = engine as unknown as { db: Database; lines: LineLog }
    for (const [sql, params] of OLD_ROWS) db.query(sql).run(...params)
    expect((await titles(engine, userId))[COMMAND]).toBeNull()
    expect(SQLITE_MIGRATIONS.indexOf(titleUntitledSessions) + 1).toBe(14)
    db.transaction(() => titleUntitledSessions(db, lines)).immediate()
    expect(await titles(engine, userId)).toEqual(MIGRATED)
    engine.close()
    engine = new SqliteEngine({ path })
    cleanups.push(() => engine.close())
    expect(await titles(engine, userId)).toEqual(MIGRATED)
  })

  const connectors = {
    mysql2: async () => {
      const db = await mariaDbForTests()
      const url = db.url(await db.createDatabase())
      return () => connectMysql2({ url })
    },
    planetscale: async () => {
      const mariadb = await mariaDbForTests()
      const bridge = await startPlanetScaleBridge({ mariadb, database: await mariadb.createDatabase() })
      cleanups.push(() => bridge.stop())
      return () => connectPlanetscale({ url: bridge.url })
    },
  }
  const version =
    MYSQL_MIGRATIONS.findIndex((m) => m.some((s) => typeof s !== "string" && "data" in s && s.table === "sessions")) + 1

  for (const [name, connector] of Object.entries(connectors)) {
    it(`${name}: the migration titles them, once, with two servers starting at once`, async () => {
      const connect = await connector()
      const client = connect()
      cleanups.push(() => client.close())
      const engine = await MysqlEngine.open(client)
      const userId = await syncAll(engine)
      expect(await titles(engine, userId)).toEqual(TODAY)

      for (const [sql, params] of OLD_ROWS) await client.query(sql, [...params])
      await client.query("DELETE FROM schema_migrations WHERE version = ?", [version])
      expect((await titles(engine, userId))[COMMAND]).toBeNull()

      const other = connect()
      cleanups.push(() => other.close())
      const applied = await Promise.all([migrateMysql(client), migrateMysql(other)])
      expect(applied.flat()).toEqual([version])
      expect(await titles(engine, userId)).toEqual(MIGRATED)
    }, 120_000)
  }
})
