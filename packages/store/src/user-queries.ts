/**
 * Users, their profiles and the links that make them (`AccountStore`'s account directory: setup and invite
 * links), written once for every engine (`account-queries.ts` binds them). A link is read with a lock and
 * spent in one transaction, so a second use waits, then finds it used; a link's secret is stored as its
 * SHA-256 only and compared again in constant time.
 */
import { step } from "./ingest/steps.ts"
import { all, exists, lockIf, now, type Query, type QueryDialect, run } from "./query-dialect.ts"
import type { AcceptLinkOutcome, AccountLinkKind, AccountUser, CreateAccountLink, UserRole } from "./store.ts"
import { hashToken, newSecret, normalizeEmail, tokensEqual } from "./tokens.ts"

/** A user with their profile (`u`, `p`); users without one (`local`) are members without e-mail. */
export const USER_COLUMNS = "u.id, u.name, p.email, p.display_name, coalesce(p.role, 'member') AS role"

export interface UserRow {
  readonly id: number
  readonly name: string
  readonly email: string | null
  readonly display_name: string | null
  readonly role: UserRole
}

export const userOf = (row: UserRow): AccountUser => ({
  userId: Number(row.id),
  email: row.email,
  name: row.display_name ?? row.name,
  role: row.role,
})

interface LinkRow {
  readonly id: number
  readonly kind: AccountLinkKind
  readonly token_hash: string
  readonly role: UserRole
  readonly expires_at: string
  readonly used_at: string | null
}

const linkUsable = (row: LinkRow): boolean => row.used_at === null && row.expires_at > now()

function* userIdByName(db: QueryDialect, name: string): Query<number | null> {
  const [row] = yield* all<{ id: number }>(db, "SELECT id FROM users WHERE name = ?", [name])
  return row ? Number(row.id) : null
}

export function* ensureUser(db: QueryDialect, name: string): Query<number> {
  const found = yield* userIdByName(db, name)
  if (found !== null) return found
  // Another server may create the same user at the same moment: theirs is kept.
  yield* step(db.insertRows("users", ["name", "created_at"], [[name, now()]], true))
  const id = yield* userIdByName(db, name)
  if (id === null) throw new Error(`user ${name} could not be created`)
  return id
}

export function* userWhere(
  db: QueryDialect,
  where: "u.id" | "p.email",
  value: string | number,
): Query<AccountUser | null> {
  const [row] = yield* all<UserRow>(
    db,
    `SELECT ${USER_COLUMNS} FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id WHERE ${where} = ?`,
    [value],
  )
  return row ? userOf(row) : null
}

export function* findUserByEmail(db: QueryDialect, email: string): Query<AccountUser | null> {
  const normal = normalizeEmail(email)
  return normal === null ? null : yield* userWhere(db, "p.email", normal)
}

export const hasAdmin = (db: QueryDialect) =>
  exists(db, "SELECT 1 AS one FROM user_profiles WHERE role = 'admin' LIMIT 1", [])

export function* createAccountLink(
  db: QueryDialect,
  input: CreateAccountLink,
): Query<{ token: string; expiresAt: string }> {
  const token = newSecret(input.kind === "setup" ? "ovs" : "ovi")
  const expiresAt = new Date(Date.now() + input.ttlMs).toISOString()
  yield* run(
    db,
    "INSERT INTO account_links (kind, token_hash, created_by, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    [input.kind, hashToken(token), input.createdBy, input.role, now(), expiresAt],
  )
  return { token, expiresAt }
}

function* linkRow(db: QueryDialect, token: string, lock: boolean): Query<LinkRow | null> {
  const hash = hashToken(token)
  const [row] = yield* all<LinkRow>(
    db,
    `SELECT id, kind, token_hash, role, expires_at, used_at FROM account_links WHERE token_hash = ?${lockIf(db, lock)}`,
    [hash],
  )
  return row && tokensEqual(row.token_hash, hash) ? { ...row, id: Number(row.id) } : null
}

export function* accountLinkStatus(
  db: QueryDialect,
  token: string,
): Query<{ kind: AccountLinkKind; valid: boolean; expiresAt: string } | null> {
  const row = yield* linkRow(db, token, false)
  if (!row) return null
  const valid = linkUsable(row) && (row.kind !== "setup" || !(yield* hasAdmin(db)))
  return { kind: row.kind, valid, expiresAt: row.expires_at }
}

export function* acceptAccountLink(
  db: QueryDialect,
  token: string,
  kind: AccountLinkKind,
  email: string,
  name: string,
): Query<AcceptLinkOutcome> {
  const normal = normalizeEmail(email)
  const display = name.trim()
  if (normal === null || display === "") return { _tag: "Invalid" }
  return yield* step(
    db.transaction(function* (tx): Query<AcceptLinkOutcome> {
      // The link's row stays locked until commit: a second use waits, then finds it used.
      const row = yield* linkRow(tx, token, true)
      if (!row || row.kind !== kind || !linkUsable(row)) return { _tag: "Invalid" }
      if (kind === "setup" && (yield* hasAdmin(tx))) return { _tag: "Invalid" }
      const taken =
        (yield* exists(tx, "SELECT 1 AS one FROM user_profiles WHERE email = ?", [normal])) ||
        (yield* exists(tx, "SELECT 1 AS one FROM users WHERE name = ?", [normal]))
      if (taken) return { _tag: "EmailTaken" }
      yield* run(tx, "INSERT INTO users (name, created_at) VALUES (?, ?)", [normal, now()])
      const userId = yield* userIdByName(tx, normal)
      if (userId === null) throw new Error(`user ${normal} could not be created`)
      yield* run(tx, "INSERT INTO user_profiles (user_id, email, display_name, role) VALUES (?, ?, ?, ?)", [
        userId,
        normal,
        display,
        row.role,
      ])
      yield* run(tx, "UPDATE account_links SET used_at = ?, used_by = ? WHERE id = ?", [now(), userId, row.id])
      return { _tag: "Accepted", user: { userId, email: normal, name: display, role: row.role } }
    }),
  )
}
