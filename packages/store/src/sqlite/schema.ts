import type { Database, SQLQueryBindings } from "bun:sqlite"
import { runSync } from "../ingest/steps.ts"
import { type LineLog, type LineSpan, readLines } from "../line-log.ts"
import { backfillPromptTitles, type UntitledSessionLine } from "../prompt-title-backfill.ts"
import type { SqlValue } from "../query-dialect.ts"
import { settleLineLog } from "./line-log-compaction.ts"

/**
 * SQLite schema, as forward-only migrations applied in order at open (tracked in `user_version`),
 * each in its own transaction. A migration is SQL, or a function for one that moves data.
 *
 * The data model leaves room for the roadmap: users own machines and tokens; every row a query can
 * reach carries `user_id`; vectors for semantic search will hang off `entries.seq` like `entry_fts`.
 */
export type SqliteMigration = string | ((db: Database, lines: LineLog) => void)

const NEWLINE = new Uint8Array([0x0a])

/** Migration 14 (`prompt-title-backfill.ts`); its own name, so a test can run it over rows written the old way. */
export function titleUntitledSessions(db: Database, lines: LineLog): void {
  settleLineLog(db, lines)
  const end = lines.size()
  runSync(
    backfillPromptTitles<UntitledSessionLine & LineSpan>({
      all: <T>(sql: string, params: readonly SqlValue[]) => db.query(sql).all(...(params as SQLQueryBindings[])) as T[],
      run: (sql, params) => db.query(sql).run(...(params as SQLQueryBindings[])).changes,
      lineColumns: ", e.raw_at, e.terminated",
      readLines: (spans) => {
        const whole = spans.filter((s) => s.raw_at + s.raw_len <= end)
        const read = readLines(lines, whole)
        const bytes = new Map(whole.map((s, i) => [s, read[i]!]))
        return spans.map((s) => bytes.get(s) ?? null)
      },
    }),
  )
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
  );
  CREATE TABLE machines (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    machine_uid TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT,
    online INTEGER NOT NULL DEFAULT 0,
    files_tracked INTEGER NOT NULL DEFAULT 0,
    bytes_pending INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    revoked_at TEXT,
    UNIQUE (user_id, machine_uid)
  );
  -- Only hashes: a leaked database does not leak credentials.
  CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    machine_uid TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    used_at TEXT,
    revoked_at TEXT
  );
  CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    machine_id INTEGER NOT NULL REFERENCES machines(id),
    session_uid TEXT NOT NULL,
    project_dir TEXT NOT NULL,
    cwd TEXT,
    custom_title TEXT,
    ai_title TEXT,
    summary_title TEXT,
    first_prompt TEXT,
    first_at TEXT,
    last_at TEXT,
    entry_count INTEGER NOT NULL DEFAULT 0,
    has_errors INTEGER NOT NULL DEFAULT 0,
    models TEXT NOT NULL DEFAULT '[]',
    last_seq INTEGER NOT NULL DEFAULT 0,
    UNIQUE (user_id, machine_id, session_uid)
  );
  CREATE INDEX sessions_by_activity ON sessions (user_id, last_at DESC, id DESC);
  CREATE INDEX sessions_by_uid ON sessions (user_id, session_uid);
  CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    machine_id INTEGER NOT NULL REFERENCES machines(id),
    file_key TEXT NOT NULL,
    session_id INTEGER REFERENCES sessions(id),
    agent_id TEXT,
    layout TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    offset INTEGER NOT NULL DEFAULT 0,
    identity TEXT,
    -- End of the live (not superseded) lines: below it, a re-read after a reset is verified, not re-stored.
    live_end INTEGER NOT NULL DEFAULT 0,
    line_count INTEGER NOT NULL DEFAULT 0,
    open_seq INTEGER,
    UNIQUE (machine_id, file_key)
  );
  CREATE INDEX files_by_session ON files (session_id);
  CREATE TABLE entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    file_id INTEGER NOT NULL REFERENCES files(id),
    session_id INTEGER,
    line_no INTEGER NOT NULL,
    byte_offset INTEGER NOT NULL,
    terminated INTEGER NOT NULL,
    raw BLOB NOT NULL,
    kind TEXT NOT NULL,
    subtype TEXT,
    uuid TEXT,
    parent_uuid TEXT,
    ts TEXT,
    superseded INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX entries_by_file ON entries (file_id, byte_offset) WHERE superseded = 0;
  CREATE INDEX entries_by_session ON entries (session_id, seq);
  -- One row per deduplicated API response (message.id + requestId), the largest total kept.
  CREATE TABLE usage_messages (
    user_id INTEGER NOT NULL,
    dedup_key TEXT NOT NULL,
    session_id INTEGER,
    project_dir TEXT,
    entry_seq INTEGER NOT NULL,
    model TEXT NOT NULL,
    day TEXT,
    input INTEGER NOT NULL,
    output INTEGER NOT NULL,
    cache_write INTEGER NOT NULL,
    cache_read INTEGER NOT NULL,
    total INTEGER NOT NULL,
    is_sidechain INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    PRIMARY KEY (user_id, dedup_key)
  ) WITHOUT ROWID;
  CREATE INDEX usage_by_session ON usage_messages (session_id);
  -- Contentless: snippets are cut from the entry itself, so the text is not stored twice.
  CREATE VIRTUAL TABLE entry_fts USING fts5 (text, content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2');
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  INSERT INTO meta (key, value) VALUES ('search_cursor', '0');
  `,
  // 2: per-session usage totals kept by triggers, so listing sessions never sums their messages
  // (a 100,000-entry session took 34 ms per page to sum). The triggers follow every path: a new
  // message, a larger copy replacing a smaller one, a flat agent file attached to its session.
  `
  ALTER TABLE sessions ADD COLUMN usage_input INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sessions ADD COLUMN usage_output INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sessions ADD COLUMN usage_cache_write INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sessions ADD COLUMN usage_cache_read INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE sessions ADD COLUMN usage_cost REAL NOT NULL DEFAULT 0;
  UPDATE sessions SET
    usage_input = (SELECT coalesce(sum(input), 0) FROM usage_messages u WHERE u.session_id = sessions.id),
    usage_output = (SELECT coalesce(sum(output), 0) FROM usage_messages u WHERE u.session_id = sessions.id),
    usage_cache_write = (SELECT coalesce(sum(cache_write), 0) FROM usage_messages u WHERE u.session_id = sessions.id),
    usage_cache_read = (SELECT coalesce(sum(cache_read), 0) FROM usage_messages u WHERE u.session_id = sessions.id),
    usage_cost = (SELECT coalesce(sum(cost_usd), 0) FROM usage_messages u WHERE u.session_id = sessions.id);
  CREATE TRIGGER usage_added AFTER INSERT ON usage_messages BEGIN
    UPDATE sessions SET usage_input = usage_input + NEW.input, usage_output = usage_output + NEW.output,
      usage_cache_write = usage_cache_write + NEW.cache_write, usage_cache_read = usage_cache_read + NEW.cache_read,
      usage_cost = usage_cost + NEW.cost_usd
    WHERE id = NEW.session_id;
  END;
  CREATE TRIGGER usage_changed AFTER UPDATE ON usage_messages BEGIN
    UPDATE sessions SET usage_input = usage_input - OLD.input, usage_output = usage_output - OLD.output,
      usage_cache_write = usage_cache_write - OLD.cache_write, usage_cache_read = usage_cache_read - OLD.cache_read,
      usage_cost = usage_cost - OLD.cost_usd
    WHERE id = OLD.session_id;
    UPDATE sessions SET usage_input = usage_input + NEW.input, usage_output = usage_output + NEW.output,
      usage_cache_write = usage_cache_write + NEW.cache_write, usage_cache_read = usage_cache_read + NEW.cache_read,
      usage_cost = usage_cost + NEW.cost_usd
    WHERE id = NEW.session_id;
  END;
  CREATE TRIGGER usage_removed AFTER DELETE ON usage_messages BEGIN
    UPDATE sessions SET usage_input = usage_input - OLD.input, usage_output = usage_output - OLD.output,
      usage_cache_write = usage_cache_write - OLD.cache_write, usage_cache_read = usage_cache_read - OLD.cache_read,
      usage_cost = usage_cost - OLD.cost_usd
    WHERE id = OLD.session_id;
  END;
  `,
  // 3: the projects list groups sessions by project; with 10,000 sessions the scan took 60 ms.
  `
  CREATE INDEX sessions_by_project ON sessions (user_id, project_dir, last_at);
  `,
  // 4: the engine keeps session usage totals itself, per append (now the ingest core's `decideUsage`). A statement that
  // fires a trigger makes SQLite journal every page it touches so it can undo just that statement:
  // with the triggers, 88 MB of such journal per 100 MB of backfilled lines.
  `
  DROP TRIGGER usage_added;
  DROP TRIGGER usage_changed;
  DROP TRIGGER usage_removed;
  `,
  // 5: line bytes move out of the database into the line log (`line-log.ts`), each file's lines in
  // byte order so that an export reads them back in runs.
  (db, lines) => {
    db.run("ALTER TABLE entries ADD COLUMN raw_at INTEGER NOT NULL DEFAULT 0")
    db.run("ALTER TABLE entries ADD COLUMN raw_len INTEGER NOT NULL DEFAULT 0")
    const place = db.prepare("UPDATE entries SET raw_at = ?, raw_len = ? WHERE seq = ?")
    const rows = db
      .query("SELECT seq, raw, terminated FROM entries ORDER BY file_id, byte_offset")
      .iterate() as IterableIterator<{ seq: number; raw: Uint8Array; terminated: number }>
    lines.begin()
    let queued = 0
    for (const row of rows) {
      place.run(lines.append(row.raw), row.raw.length, row.seq)
      if (row.terminated) lines.append(NEWLINE)
      queued += row.raw.length
      if (queued >= 16 * 1024 * 1024) {
        lines.flush()
        queued = 0
      }
    }
    lines.flush()
    // Once, here: the database about to commit names every byte moved.
    lines.sync()
    db.run("ALTER TABLE entries DROP COLUMN raw")
    db.query("INSERT INTO meta (key, value) VALUES ('line_log_end', ?)").run(String(lines.end()))
  },
  // 6: seqs are taken from a counter row inside each write transaction (`allocateSeqs`), which stays
  // locked until the transaction commits, so seqs commit in order: readers of "everything after seq N"
  // (the live feed; a change feed shared by several servers) never see a smaller seq appear later.
  // AUTOINCREMENT keeps the seqs given so far; the counter starts after the largest ever handed out.
  `
  CREATE TABLE seq_counter (id INTEGER PRIMARY KEY CHECK (id = 1), next_seq INTEGER NOT NULL);
  INSERT INTO seq_counter (id, next_seq) VALUES (1, 1 + max(
    (SELECT coalesce(max(seq), 0) FROM entries),
    coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'entries'), 0)
  ));
  `,
  // Local AI (issue #13): one row per session the indexer handled (its generated title and summary,
  // the entry count they were made from, how far its lines are embedded) and one per embedded chunk,
  // the vector a BLOB of float32 searched in process. New tables only.
  `
  CREATE TABLE IF NOT EXISTS ai_sessions (
    session_id INTEGER PRIMARY KEY REFERENCES sessions(id),
    user_id INTEGER NOT NULL,
    title TEXT,
    summary TEXT,
    title_model TEXT,
    titled_at_entries INTEGER,
    titled_at TEXT,
    embedded_through_seq INTEGER,
    embed_model TEXT
  );
  CREATE INDEX IF NOT EXISTS ai_sessions_by_user ON ai_sessions (user_id);
  CREATE TABLE IF NOT EXISTS ai_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL,
    session_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
  );
  CREATE INDEX IF NOT EXISTS ai_chunks_by_user ON ai_chunks (user_id, id);
  `,
  // Remote commands (`sqlite/commands.ts`): what each machine's daemon accepts (beside its machine row,
  // which it extends 1:1), the commands asked of it, and their events in the daemon's order.
  `
  CREATE TABLE machine_remote (
    machine_id INTEGER PRIMARY KEY REFERENCES machines(id),
    user_id INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    max_concurrent INTEGER NOT NULL,
    max_prompt_bytes INTEGER NOT NULL,
    sandbox INTEGER NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    machine_id INTEGER NOT NULL REFERENCES machines(id),
    command_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    project_dir TEXT NOT NULL,
    prompt TEXT NOT NULL,
    request TEXT NOT NULL,
    resume_session_id TEXT,
    status TEXT NOT NULL,
    exit_code INTEGER,
    session_id TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    cost_usd REAL,
    error_reason TEXT,
    error_message TEXT,
    UNIQUE (user_id, command_id)
  );
  CREATE INDEX commands_by_machine ON commands (machine_id, status);
  CREATE INDEX commands_by_session ON commands (user_id, session_id);
  CREATE INDEX commands_by_resumed ON commands (user_id, resume_session_id);
  CREATE INDEX commands_by_status ON commands (status, expires_at);
  CREATE TABLE command_events (
    command_row INTEGER NOT NULL REFERENCES commands(id),
    event_seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    PRIMARY KEY (command_row, event_seq)
  ) WITHOUT ROWID;
  `,
  // Accounts (issue #11): new tables only (as the MySQL mirror, where added columns could not be
  // re-run): users' e-mail and role, tokens' labels and whether a pairing key is single-use,
  // setup/invite links, device-flow codes and session shares. Every secret column holds a SHA-256.
  `
  CREATE TABLE user_profiles (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    email TEXT UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL
  );
  CREATE TABLE token_labels (
    token_id INTEGER PRIMARY KEY REFERENCES tokens(id),
    label TEXT,
    single_use INTEGER NOT NULL DEFAULT 1
  );
  CREATE INDEX tokens_by_user ON tokens (user_id, kind);
  CREATE TABLE account_links (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by INTEGER REFERENCES users(id),
    role TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    used_by INTEGER REFERENCES users(id)
  );
  CREATE TABLE device_codes (
    id INTEGER PRIMARY KEY,
    device_code_hash TEXT NOT NULL UNIQUE,
    user_code_hash TEXT NOT NULL UNIQUE,
    machine_uid TEXT NOT NULL,
    machine_name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    user_id INTEGER REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    last_poll_at TEXT,
    delivered_at TEXT
  );
  CREATE TABLE session_shares (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES users(id),
    session_uid TEXT NOT NULL,
    grantee_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    UNIQUE (owner_id, session_uid, grantee_id)
  );
  CREATE INDEX session_shares_by_grantee ON session_shares (grantee_id, session_uid);
  `,
  // Session files gone from their machine (Claude Code's cleanup after \`cleanupPeriodDays\`): when the
  // daemon said so; what was stored stays (issue #14 §3).
  `
  ALTER TABLE files ADD COLUMN source_gone_at TEXT;
  `,
  // Child machines (issue #12 §4): a Daytona sandbox's session files are synced by the laptop's daemon,
  // with the laptop's token, under a machine of their own; this row says whose child it is, so the
  // server accepts it only from that parent and revoking the parent revokes it. A new table, as above.
  `
  CREATE TABLE machine_parents (
    machine_id INTEGER PRIMARY KEY REFERENCES machines(id),
    user_id INTEGER NOT NULL,
    parent_machine_id INTEGER NOT NULL REFERENCES machines(id),
    kind TEXT NOT NULL
  );
  CREATE INDEX machine_parents_by_parent ON machine_parents (parent_machine_id);
  `,
  // Machine names kept by the server (a dashboard rename; a clash told apart): the name the machine's
  // daemon last said in its hello, so that the next hello saying the same name leaves the stored one
  // alone, and only a name the laptop changed replaces it (\`openMachineRow\` in \`machine-queries.ts\`).
  // NULL for rows from before: their next hello's name is taken (as every hello's was). MySQL migration 10.
  `
  ALTER TABLE machines ADD COLUMN reported_name TEXT;
  `,
  // Whether a machine's daemon runs commands with bypassPermissions (its \`remote\` in hello and status);
  // NULL where it has not said (daemons before it did not). MySQL migration 11.
  `
  ALTER TABLE machine_remote ADD COLUMN bypass_permissions INTEGER;
  `,
  // 14: sessions stored before a prompt command (\`/review 42\`) counted as a prompt had no title; each
  // gets the one today's ingest would give it, from its stored lines (\`prompt-title-backfill.ts\`). A line
  // past the end of a log cut short by a power loss is skipped: recovery rolls its file back after this,
  // and the daemon's resent lines title the session at ingest. A compaction cut short is settled first
  // (the engine does it after the migrations), so every \`raw_at\` names the log that is open. MySQL
  // migration 12.
  titleUntitledSessions,
  // 15: why a machine's daemon runs no sandboxes although it has Daytona settings (its
  // \`remote.sandboxesOff\`), kept beside what it accepts: in its last error only, its next warning
  // replaced it. NULL when its sandboxes are on or it did not say. MySQL migration 13.
  `
  ALTER TABLE machine_remote ADD COLUMN sandboxes_off TEXT;
  `,
]
