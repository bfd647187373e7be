/**
 * The MySQL/MariaDB/PlanetScale schema: numbered, forward-only migrations mirroring the SQLite data
 * model (`sqlite-schema.ts`, ARCHITECTURE.md), applied at start under `GET_LOCK('overlord_migrate')`
 * so that two servers starting at once apply each migration once, and recorded in
 * `schema_migrations`.
 *
 * Dialect differences from SQLite:
 * - `offset` and `terminated` are reserved words here: the columns are `file_offset` and `is_terminated`.
 * - Line bytes live in `line_chunks` (a PlanetScale server has no disk of its own for a line log),
 *   one row per chunk of at most 1 MiB of the line, because one request or row is bounded
 *   (max_allowed_packet), stored zstd-compressed when that pays (`codec`, `line-chunks.ts`).
 * - `entries.seq` is allocated from the `counters` row `seq` inside the storing transaction.
 * - `entry_search` holds each line's search text encoded as ASCII tokens (`search-terms.ts`) under
 *   an InnoDB FULLTEXT index.
 * - A file is found by (machine, SHA-256 of its key): an index over the key itself would exceed
 *   InnoDB's 3072-byte key limit for long project paths.
 * - Text compares byte for byte (`utf8mb4_bin`), as SQLite's does.
 *
 * DDL commits implicitly in MySQL, so a migration is a list of statements that can each be re-run
 * (IF NOT EXISTS, INSERT IGNORE): a server that died half-way through one applies the rest at its
 * next start.
 *
 * On PlanetScale, a production branch with safe migrations refuses DDL from a client: start the server
 * once against a development branch (it migrates it) and deploy that branch's schema. A deploy request
 * carries tables, not rows, so the production server then finds the tables it would create already
 * there, skips their creation, and runs only each migration's data statements and its record.
 */
import { SchemaTooNewError } from "../errors.ts"
import { runAsync } from "../ingest/steps.ts"
import { backfillPromptTitles, type UntitledSessionLine } from "../prompt-title-backfill.ts"
import type { SqlValue } from "../query-dialect.ts"
import type { MysqlClient, MysqlQueryable } from "./client.ts"
import { readLines } from "./line-chunks.ts"

const TABLE = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

/**
 * A table's creation, skipped when the table exists (a server that died half-way, or PlanetScale
 * having deployed the schema through a deploy request), or a data statement, run each time its
 * migration is.
 */
export type MysqlStatement =
  | { readonly table: string; readonly sql: string }
  /** An index's creation on an existing table, skipped when the table has an index of that name. */
  | { readonly table: string; readonly index: string; readonly sql: string }
  /** A column's addition to an existing table, skipped when the table has a column of that name. */
  | { readonly table: string; readonly column: string; readonly sql: string }
  /**
   * Data moved by code, in the migration's transaction (no DDL in the same migration, which would commit
   * part of it): committed with the migration's record, so a server that dies in it does it again.
   */
  | {
      readonly table: string
      readonly data: string
      readonly run: (q: MysqlQueryable, maxStatementBytes: number) => Promise<void>
    }
  | string

export const MYSQL_MIGRATIONS: readonly (readonly MysqlStatement[])[] = [
  [
    {
      table: "users",
      sql: `CREATE TABLE IF NOT EXISTS users (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      name VARCHAR(255) NOT NULL,
      created_at VARCHAR(40) NOT NULL,
      UNIQUE KEY users_by_name (name)
    ) ${TABLE}`,
    },
    {
      table: "machines",
      sql: `CREATE TABLE IF NOT EXISTS machines (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      user_id BIGINT NOT NULL,
      machine_uid VARCHAR(255) NOT NULL,
      name VARCHAR(255) NOT NULL,
      created_at VARCHAR(40) NOT NULL,
      last_seen_at VARCHAR(40) NULL,
      online TINYINT NOT NULL DEFAULT 0,
      files_tracked BIGINT NOT NULL DEFAULT 0,
      bytes_pending BIGINT NOT NULL DEFAULT 0,
      last_error TEXT NULL,
      revoked_at VARCHAR(40) NULL,
      UNIQUE KEY machines_by_uid (user_id, machine_uid)
    ) ${TABLE}`,
    },
    // Only hashes: a leaked database does not leak credentials.
    {
      table: "tokens",
      sql: `CREATE TABLE IF NOT EXISTS tokens (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      user_id BIGINT NOT NULL,
      kind VARCHAR(16) NOT NULL,
      token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      machine_uid VARCHAR(255) NULL,
      created_at VARCHAR(40) NOT NULL,
      expires_at VARCHAR(40) NULL,
      used_at VARCHAR(40) NULL,
      revoked_at VARCHAR(40) NULL,
      UNIQUE KEY tokens_by_hash (token_hash)
    ) ${TABLE}`,
    },
    {
      table: "sessions",
      sql: `CREATE TABLE IF NOT EXISTS sessions (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      user_id BIGINT NOT NULL,
      machine_id BIGINT NOT NULL,
      session_uid VARCHAR(255) NOT NULL,
      project_dir VARCHAR(600) NOT NULL,
      cwd TEXT NULL,
      custom_title TEXT NULL,
      ai_title TEXT NULL,
      summary_title TEXT NULL,
      first_prompt TEXT NULL,
      first_at VARCHAR(40) NULL,
      last_at VARCHAR(40) NULL,
      entry_count BIGINT NOT NULL DEFAULT 0,
      has_errors TINYINT NOT NULL DEFAULT 0,
      models TEXT NOT NULL,
      last_seq BIGINT NOT NULL DEFAULT 0,
      usage_input BIGINT NOT NULL DEFAULT 0,
      usage_output BIGINT NOT NULL DEFAULT 0,
      usage_cache_write BIGINT NOT NULL DEFAULT 0,
      usage_cache_read BIGINT NOT NULL DEFAULT 0,
      usage_cost DOUBLE NOT NULL DEFAULT 0,
      UNIQUE KEY sessions_by_key (user_id, machine_id, session_uid),
      KEY sessions_by_activity (user_id, last_at, id),
      KEY sessions_by_uid (user_id, session_uid),
      KEY sessions_by_project (user_id, project_dir, last_at)
    ) ${TABLE}`,
    },
    {
      table: "files",
      sql: `CREATE TABLE IF NOT EXISTS files (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      user_id BIGINT NOT NULL,
      machine_id BIGINT NOT NULL,
      file_key TEXT NOT NULL,
      key_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      session_id BIGINT NULL,
      agent_id VARCHAR(255) NULL,
      layout VARCHAR(32) NOT NULL,
      generation BIGINT NOT NULL DEFAULT 0,
      file_offset BIGINT NOT NULL DEFAULT 0,
      identity VARCHAR(255) NULL,
      live_end BIGINT NOT NULL DEFAULT 0,
      line_count BIGINT NOT NULL DEFAULT 0,
      open_seq BIGINT NULL,
      UNIQUE KEY files_by_key (machine_id, key_hash),
      KEY files_by_session (session_id)
    ) ${TABLE}`,
    },
    {
      table: "entries",
      sql: `CREATE TABLE IF NOT EXISTS entries (
      seq BIGINT NOT NULL PRIMARY KEY,
      user_id BIGINT NOT NULL,
      file_id BIGINT NOT NULL,
      session_id BIGINT NULL,
      line_no BIGINT NOT NULL,
      byte_offset BIGINT NOT NULL,
      is_terminated TINYINT NOT NULL,
      raw_len BIGINT NOT NULL,
      kind VARCHAR(255) NOT NULL,
      subtype VARCHAR(255) NULL,
      uuid VARCHAR(255) NULL,
      parent_uuid VARCHAR(255) NULL,
      ts VARCHAR(64) NULL,
      superseded TINYINT NOT NULL DEFAULT 0,
      KEY entries_by_file (file_id, superseded, byte_offset),
      KEY entries_by_session (session_id, seq),
      KEY entries_by_user (user_id, seq)
    ) ${TABLE}`,
    },
    // A line's bytes without its newline, in chunks of at most 1 MiB starting at `at` in the line (`line-chunks.ts`).
    {
      table: "line_chunks",
      sql: `CREATE TABLE IF NOT EXISTS line_chunks (
      entry_seq BIGINT NOT NULL,
      at BIGINT NOT NULL,
      bytes MEDIUMBLOB NOT NULL,
      PRIMARY KEY (entry_seq, at)
    ) ${TABLE}`,
    },
    // One row per deduplicated API response (message.id + requestId), the largest total kept.
    {
      table: "usage_messages",
      sql: `CREATE TABLE IF NOT EXISTS usage_messages (
      user_id BIGINT NOT NULL,
      dedup_key VARCHAR(255) NOT NULL,
      session_id BIGINT NULL,
      project_dir VARCHAR(600) NULL,
      entry_seq BIGINT NOT NULL,
      model VARCHAR(255) NOT NULL,
      day VARCHAR(10) NULL,
      input BIGINT NOT NULL,
      output BIGINT NOT NULL,
      cache_write BIGINT NOT NULL,
      cache_read BIGINT NOT NULL,
      total BIGINT NOT NULL,
      is_sidechain TINYINT NOT NULL,
      cost_usd DOUBLE NOT NULL,
      PRIMARY KEY (user_id, dedup_key),
      KEY usage_by_session (session_id),
      KEY usage_by_entry (entry_seq)
    ) ${TABLE}`,
    },
    // ASCII tokens only (`search-terms.ts`): no stopword, no token below innodb_ft_min_token_size.
    {
      table: "entry_search",
      sql: `CREATE TABLE IF NOT EXISTS entry_search (
      seq BIGINT NOT NULL PRIMARY KEY,
      terms MEDIUMTEXT CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
      FULLTEXT KEY entry_search_terms (terms)
    ) ENGINE=InnoDB DEFAULT CHARSET=ascii`,
    },
    // `seq`: the last entry seq handed out; `search_cursor`: the last seq indexed for search.
    {
      table: "counters",
      sql: `CREATE TABLE IF NOT EXISTS counters (
      name VARCHAR(32) NOT NULL PRIMARY KEY,
      value BIGINT NOT NULL
    ) ${TABLE}`,
    },
    "INSERT IGNORE INTO counters (name, value) VALUES ('seq', 0), ('search_cursor', 0)",
  ],
  // Local AI (issue #13), as in SQLite: one row per session the indexer handled and one per embedded
  // chunk, the vector a BLOB of float32 searched in process. New tables only.
  [
    {
      table: "ai_sessions",
      sql: `CREATE TABLE IF NOT EXISTS ai_sessions (
      session_id BIGINT NOT NULL PRIMARY KEY,
      user_id BIGINT NOT NULL,
      title TEXT NULL,
      summary TEXT NULL,
      title_model VARCHAR(255) NULL,
      titled_at_entries BIGINT NULL,
      titled_at VARCHAR(40) NULL,
      embedded_through_seq BIGINT NULL,
      embed_model VARCHAR(255) NULL,
      KEY ai_sessions_by_user (user_id)
    ) ${TABLE}`,
    },
    {
      table: "ai_chunks",
      sql: `CREATE TABLE IF NOT EXISTS ai_chunks (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      user_id BIGINT NOT NULL,
      session_id BIGINT NOT NULL,
      seq BIGINT NOT NULL,
      role VARCHAR(16) NOT NULL,
      text TEXT NOT NULL,
      model VARCHAR(255) NOT NULL,
      vector BLOB NOT NULL,
      KEY ai_chunks_by_user (user_id, id)
    ) ${TABLE}`,
    },
  ],
  // Remote commands (`mysql/commands.ts`): what each machine's daemon accepts (1:1 beside its machine
  // row), the commands asked of it, and their events in the daemon's order.
  [
    {
      table: "machine_remote",
      sql: `CREATE TABLE IF NOT EXISTS machine_remote (
      machine_id BIGINT NOT NULL PRIMARY KEY,
      user_id BIGINT NOT NULL,
      enabled TINYINT NOT NULL,
      max_concurrent INT NOT NULL,
      max_prompt_bytes INT NOT NULL,
      sandbox TINYINT NOT NULL,
      updated_at VARCHAR(40) NOT NULL
    ) ${TABLE}`,
    },
    {
      table: "commands",
      sql: `CREATE TABLE IF NOT EXISTS commands (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      user_id BIGINT NOT NULL,
      machine_id BIGINT NOT NULL,
      command_id VARCHAR(128) NOT NULL,
      kind VARCHAR(16) NOT NULL,
      location VARCHAR(16) NOT NULL,
      project_dir VARCHAR(4096) NOT NULL,
      prompt MEDIUMTEXT NOT NULL,
      request MEDIUMTEXT NOT NULL,
      resume_session_id VARCHAR(255) NULL,
      status VARCHAR(16) NOT NULL,
      exit_code INT NULL,
      session_id VARCHAR(255) NULL,
      created_at VARCHAR(40) NOT NULL,
      expires_at VARCHAR(40) NOT NULL,
      started_at VARCHAR(40) NULL,
      ended_at VARCHAR(40) NULL,
      cost_usd DOUBLE NULL,
      error_reason VARCHAR(64) NULL,
      error_message TEXT NULL,
      UNIQUE KEY commands_by_id (user_id, command_id),
      KEY commands_by_machine (machine_id, status),
      KEY commands_by_session (user_id, session_id),
      KEY commands_by_resumed (user_id, resume_session_id),
      KEY commands_by_status (status, expires_at)
    ) ${TABLE}`,
    },
    {
      table: "command_events",
      sql: `CREATE TABLE IF NOT EXISTS command_events (
      command_row BIGINT NOT NULL,
      event_seq INT NOT NULL,
      at VARCHAR(40) NOT NULL,
      event MEDIUMTEXT NOT NULL,
      PRIMARY KEY (command_row, event_seq)
    ) ${TABLE}`,
    },
  ],
  // Accounts (issue #11): new tables only (an added column could not be re-run): users' e-mail and
  // role, tokens' labels and whether a pairing key is single-use, setup/invite links, device-flow
  // codes and session shares. Every secret column holds a SHA-256 (`tokens.ts`).
  [
    {
      table: "user_profiles",
      sql: `CREATE TABLE IF NOT EXISTS user_profiles (
      user_id BIGINT NOT NULL PRIMARY KEY,
      email VARCHAR(254) NULL,
      display_name VARCHAR(255) NOT NULL,
      role VARCHAR(16) NOT NULL,
      UNIQUE KEY user_profiles_by_email (email)
    ) ${TABLE}`,
    },
    {
      table: "token_labels",
      sql: `CREATE TABLE IF NOT EXISTS token_labels (
      token_id BIGINT NOT NULL PRIMARY KEY,
      label VARCHAR(255) NULL,
      single_use TINYINT NOT NULL DEFAULT 1
    ) ${TABLE}`,
    },
    {
      table: "account_links",
      sql: `CREATE TABLE IF NOT EXISTS account_links (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      kind VARCHAR(16) NOT NULL,
      token_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      created_by BIGINT NULL,
      role VARCHAR(16) NOT NULL,
      created_at VARCHAR(40) NOT NULL,
      expires_at VARCHAR(40) NOT NULL,
      used_at VARCHAR(40) NULL,
      used_by BIGINT NULL,
      UNIQUE KEY account_links_by_hash (token_hash)
    ) ${TABLE}`,
    },
    {
      table: "device_codes",
      sql: `CREATE TABLE IF NOT EXISTS device_codes (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      device_code_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      user_code_hash CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
      machine_uid VARCHAR(255) NOT NULL,
      machine_name VARCHAR(255) NOT NULL,
      status VARCHAR(16) NOT NULL DEFAULT 'pending',
      user_id BIGINT NULL,
      created_at VARCHAR(40) NOT NULL,
      expires_at VARCHAR(40) NOT NULL,
      last_poll_at VARCHAR(40) NULL,
      delivered_at VARCHAR(40) NULL,
      UNIQUE KEY device_codes_by_hash (device_code_hash),
      UNIQUE KEY device_codes_by_user_code (user_code_hash)
    ) ${TABLE}`,
    },
    {
      table: "session_shares",
      sql: `CREATE TABLE IF NOT EXISTS session_shares (
      id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
      owner_id BIGINT NOT NULL,
      session_uid VARCHAR(255) NOT NULL,
      grantee_id BIGINT NOT NULL,
      created_at VARCHAR(40) NOT NULL,
      UNIQUE KEY session_shares_by_owner (owner_id, session_uid, grantee_id),
      KEY session_shares_by_grantee (grantee_id, session_uid)
    ) ${TABLE}`,
    },
  ],
  // Session files gone from their machine (Claude Code's cleanup after `cleanupPeriodDays`), issue #14
  // §3. A table of its own rather than a column on `files`: a creation is skipped when it exists, so the
  // migration re-runs safely and deploys through a PlanetScale deploy request (an ALTER would not).
  [
    {
      table: "files_gone",
      sql: `CREATE TABLE IF NOT EXISTS files_gone (
      file_id BIGINT NOT NULL PRIMARY KEY,
      user_id BIGINT NOT NULL,
      gone_at VARCHAR(40) NOT NULL
    ) ${TABLE}`,
    },
  ],
  // Child machines (issue #12 §4): a Daytona sandbox synced by its laptop's daemon under a machine of
  // its own; whose child it is (SQLite migration 11).
  [
    {
      table: "machine_parents",
      sql: `CREATE TABLE IF NOT EXISTS machine_parents (
      machine_id BIGINT NOT NULL PRIMARY KEY,
      user_id BIGINT NOT NULL,
      parent_machine_id BIGINT NOT NULL,
      kind VARCHAR(32) NOT NULL,
      KEY machine_parents_by_parent (parent_machine_id)
    ) ${TABLE}`,
    },
  ],
  // Usage by project (issue #11): a covering index in the grouping's order, so MariaDB sums each
  // project's rows as it reads them instead of keeping a temporary table keyed by the 600-character
  // path (10,000 one-message sessions in 200 projects: 14.7–15.4 ms → 3.3 ms, `usage-query.ts`). It
  // holds every column the report reads or filters on; the primary key (user_id, dedup_key) comes
  // with it. An index, not a table: skipped when present, so it re-runs and deploys like a table.
  [
    {
      table: "usage_messages",
      index: "usage_by_project",
      sql: `CREATE INDEX usage_by_project ON usage_messages
      (user_id, project_dir, day, session_id, input, output, cache_write, cache_read, cost_usd)`,
    },
  ],
  // Compressed line bytes: how each `line_chunks` row is stored (0 raw, 1 zstd; `line-chunks.ts`),
  // rows from before it raw. A column, not a table: every reader selects it, old rows and new alike.
  // Added with a constant default, which MariaDB ≥ 10.3 and MySQL ≥ 8.0.12 do in place without
  // rewriting the table (ALGORITHM=INSTANT), so a server with gigabytes of lines starts at once; skipped
  // when present, so it re-runs, and deploys through a PlanetScale deploy request, like an index.
  [
    {
      table: "line_chunks",
      column: "codec",
      sql: "ALTER TABLE line_chunks ADD COLUMN codec TINYINT NOT NULL DEFAULT 0",
    },
  ],
  // Line blocks: short whole lines of one file, stored several to a `line_chunks` row keyed by the
  // first one's seq; each line says where it is (`block_seq`, `block_at`; NULL and 0 for a line stored
  // in rows of its own, as every line before this was). Columns with constant defaults, added in place
  // and skipped when present, like `codec` above.
  [
    {
      table: "entries",
      column: "block_seq",
      sql: "ALTER TABLE entries ADD COLUMN block_seq BIGINT NULL",
    },
    {
      table: "entries",
      column: "block_at",
      sql: "ALTER TABLE entries ADD COLUMN block_at BIGINT NOT NULL DEFAULT 0",
    },
  ],
  // Machine names kept by the server (a dashboard rename; a clash told apart): the name the machine's
  // daemon last said in its hello, so that a hello saying it again leaves the stored name alone
  // (`openMachineRow`, `machine-queries.ts`; SQLite migration 12). NULL for rows from before: their next
  // hello's name is taken, as every hello's was. Nullable, no default: added in place, skipped when present.
  [
    {
      table: "machines",
      column: "reported_name",
      sql: "ALTER TABLE machines ADD COLUMN reported_name VARCHAR(255) NULL",
    },
  ],
  // Whether a machine's daemon runs commands with bypassPermissions (its `remote` in hello and status),
  // so the Run panel offers only what it accepts; NULL where the daemon has not said (daemons before
  // it did not). SQLite migration 13.
  [
    {
      table: "machine_remote",
      column: "bypass_permissions",
      sql: "ALTER TABLE machine_remote ADD COLUMN bypass_permissions TINYINT NULL",
    },
  ],
  // Sessions stored before a prompt command (`/review 42`) counted as a prompt had no title; each gets the
  // one today's ingest would give it, from its stored lines (`prompt-title-backfill.ts`). Data only: on
  // PlanetScale it runs on the production branch like any migration's data statements. SQLite migration 14.
  [
    {
      table: "sessions",
      data: "first_prompt of untitled sessions",
      run: async (q, maxStatementBytes) => {
        await runAsync(
          backfillPromptTitles<UntitledSessionLine>({
            all: async <T>(sql: string, params: readonly SqlValue[]) => (await q.query<T>(sql, params)).rows,
            run: async (sql, params) => (await q.query(sql, params)).affectedRows,
            lineColumns: "",
            readLines: (lines) => readLines(q, lines, maxStatementBytes),
            // Measured over 10,000 sessions, 3,000 untitled (2,000 begun by a command, 1,000 by /clear only):
            // 1.0 s on MariaDB, 8.9 s through the PlanetScale bridge at 20 ms a request; 1.5 s and 25.0 s
            // when those 1,000 hold 30 tool results each (all read, load 2.2-2.6): in one transaction that
            // would pass PlanetScale's 20 s limit.
            batchDone: async () => {
              await q.query("COMMIT")
            },
          }),
        )
      },
    },
  ],
  // Why a machine's daemon runs no sandboxes although it has Daytona settings (its `remote.sandboxesOff`),
  // kept beside what it accepts: in its last error only, its next warning replaced it. NULL when its
  // sandboxes are on or it did not say. Nullable, no default: added in place. SQLite migration 15.
  [
    {
      table: "machine_remote",
      column: "sandboxes_off",
      sql: "ALTER TABLE machine_remote ADD COLUMN sandboxes_off TEXT NULL",
    },
  ],
]

const MIGRATE_LOCK = "overlord_migrate"
const MIGRATE_LOCK_TIMEOUT_S = 60

/**
 * Applies the migrations the database lacks, holding the named lock for the whole run (on one
 * connection: a transaction's), so a second server waits and then finds nothing to do.
 * Returns the versions it applied.
 */
export async function migrateMysql(client: MysqlClient): Promise<number[]> {
  return client.transaction(async (conn) => {
    const got = await conn.query<{ got: number | null }>("SELECT GET_LOCK(?, ?) AS got", [
      MIGRATE_LOCK,
      MIGRATE_LOCK_TIMEOUT_S,
    ])
    if (got.rows[0]?.got !== 1) {
      throw new Error(`another server held the migration lock '${MIGRATE_LOCK}' for ${MIGRATE_LOCK_TIMEOUT_S} s`)
    }
    try {
      const tables = new Set(
        (
          await conn.query<{ name: string }>(
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = database()",
          )
        ).rows.map((r) => r.name),
      )
      const create = async (statement: Exclude<MysqlStatement, string>) => {
        if ("column" in statement) {
          const found = await conn.query<{ n: number }>(
            `SELECT count(*) AS n FROM information_schema.columns
             WHERE table_schema = database() AND table_name = ? AND column_name = ?`,
            [statement.table, statement.column],
          )
          if (Number(found.rows[0]?.n ?? 0) === 0) await conn.query(statement.sql)
          return
        }
        if ("data" in statement) {
          await statement.run(conn, client.maxStatementBytes)
          return
        }
        if ("index" in statement) {
          const found = await conn.query<{ n: number }>(
            `SELECT count(*) AS n FROM information_schema.statistics
             WHERE table_schema = database() AND table_name = ? AND index_name = ?`,
            [statement.table, statement.index],
          )
          if (Number(found.rows[0]?.n ?? 0) === 0) await conn.query(statement.sql)
          return
        }
        if (tables.has(statement.table)) return
        await conn.query(statement.sql)
        tables.add(statement.table)
      }
      await create({
        table: "schema_migrations",
        sql: `CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, applied_at VARCHAR(40) NOT NULL) ${TABLE}`,
      })
      const done = new Set(
        (await conn.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) =>
          Number(r.version),
        ),
      )
      const newest = Math.max(0, ...done)
      if (newest > MYSQL_MIGRATIONS.length) throw new SchemaTooNewError(newest, MYSQL_MIGRATIONS.length)
      const applied: number[] = []
      for (let i = 0; i < MYSQL_MIGRATIONS.length; i++) {
        const version = i + 1
        if (done.has(version)) continue
        for (const statement of MYSQL_MIGRATIONS[i]!) {
          if (typeof statement === "string") await conn.query(statement)
          else await create(statement)
        }
        await conn.query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", [
          version,
          new Date().toISOString(),
        ])
        // DDL committed the statements before it; this commits the record.
        await conn.query("COMMIT")
        applied.push(version)
      }
      return applied
    } finally {
      await releaseLock(conn)
    }
  })
}

async function releaseLock(conn: MysqlQueryable): Promise<void> {
  await conn.query("SELECT RELEASE_LOCK(?) AS released", [MIGRATE_LOCK])
}
