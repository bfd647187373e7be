/**
 * Read-only session shares (`session_shares`), written once for every engine (`account-queries.ts`
 * binds them): only a session's owner shares it, lists and withdraws its shares; a grantee finds the
 * owner to read the session as.
 */
import type { Api } from "@overlord/protocol"
import { step } from "./ingest/steps.ts"
import { all, exists, now, type Query, type QueryDialect, run } from "./query-dialect.ts"
import type { Actor, ShareOutcome } from "./store.ts"
import { findUserByEmail, USER_COLUMNS, type UserRow, userOf } from "./user-queries.ts"

const ownsSession = (db: QueryDialect, actor: Actor, sessionId: string) =>
  exists(db, "SELECT 1 AS one FROM sessions WHERE user_id = ? AND session_uid = ? LIMIT 1", [actor.userId, sessionId])

export function* shareSession(
  db: QueryDialect,
  actor: Actor,
  sessionId: string,
  granteeEmail: string,
): Query<ShareOutcome> {
  if (!(yield* ownsSession(db, actor, sessionId))) return { _tag: "NoSession" }
  const grantee = yield* findUserByEmail(db, granteeEmail)
  if (!grantee || grantee.userId === actor.userId) return { _tag: "NoUser" }
  // Shared twice, the first share (and its time) stays.
  yield* step(
    db.insertRows(
      "session_shares",
      ["owner_id", "session_uid", "grantee_id", "created_at"],
      [[actor.userId, sessionId, grantee.userId, now()]],
      true,
    ),
  )
  const [row] = yield* all<{ created_at: string }>(
    db,
    "SELECT created_at FROM session_shares WHERE owner_id = ? AND session_uid = ? AND grantee_id = ?",
    [actor.userId, sessionId, grantee.userId],
  )
  if (!row) throw new Error(`the share of ${sessionId} could not be stored`)
  return {
    _tag: "Shared",
    share: { userId: grantee.userId, email: grantee.email, name: grantee.name, sharedAt: row.created_at },
  }
}

export function* unshareSession(
  db: QueryDialect,
  actor: Actor,
  sessionId: string,
  granteeUserId: number,
): Query<boolean> {
  const deleted = yield* run(
    db,
    "DELETE FROM session_shares WHERE owner_id = ? AND session_uid = ? AND grantee_id = ?",
    [actor.userId, sessionId, granteeUserId],
  )
  return deleted > 0
}

export function* listShares(db: QueryDialect, actor: Actor, sessionId: string): Query<Api.SessionShare[] | null> {
  if (!(yield* ownsSession(db, actor, sessionId))) return null
  const rows = yield* all<UserRow & { created_at: string }>(
    db,
    `SELECT ${USER_COLUMNS}, s.created_at FROM session_shares s JOIN users u ON u.id = s.grantee_id
     LEFT JOIN user_profiles p ON p.user_id = u.id WHERE s.owner_id = ? AND s.session_uid = ? ORDER BY s.id`,
    [actor.userId, sessionId],
  )
  return rows.map((r) => {
    const u = userOf(r)
    return { userId: u.userId, email: u.email, name: u.name, sharedAt: r.created_at }
  })
}

export function* sharedSessionOwner(db: QueryDialect, actor: Actor, sessionId: string): Query<number | null> {
  const [row] = yield* all<{ owner_id: number }>(
    db,
    "SELECT owner_id FROM session_shares WHERE grantee_id = ? AND session_uid = ? ORDER BY id LIMIT 1",
    [actor.userId, sessionId],
  )
  return row ? Number(row.owner_id) : null
}

export function* listSharedWithMe(db: QueryDialect, actor: Actor): Query<Api.SharedSession[]> {
  const rows = yield* all<UserRow & { session_uid: string; created_at: string; title: string | null }>(
    db,
    `SELECT sh.session_uid, sh.created_at, ${USER_COLUMNS},
       (SELECT coalesce(s.custom_title, s.ai_title, s.summary_title, s.first_prompt) FROM sessions s
         WHERE s.user_id = sh.owner_id AND s.session_uid = sh.session_uid LIMIT 1) AS title
     FROM session_shares sh JOIN users u ON u.id = sh.owner_id LEFT JOIN user_profiles p ON p.user_id = u.id
     WHERE sh.grantee_id = ? ORDER BY sh.id DESC`,
    [actor.userId],
  )
  return rows.map((r) => {
    const u = userOf(r)
    return {
      sessionId: r.session_uid,
      owner: { userId: u.userId, email: u.email, name: u.name },
      title: r.title,
      sharedAt: r.created_at,
    }
  })
}
