/**
 * Tokens (machine, API, login-link, browser, pairing-key), written once for every engine
 * (`account-queries.ts` binds them): each stored as its SHA-256 only (`tokens.ts`) and compared again in
 * constant time once found by its hash; a token or a single-use pairing key is spent by one conditional
 * UPDATE (`used_at IS NULL`), so of two concurrent uses one changes the row.
 */
import type { Api } from "@overlord/protocol"
import { step } from "./ingest/steps.ts"
import { relistMachine } from "./machine-queries.ts"
import { all, exists, now, type Query, type QueryDialect, run } from "./query-dialect.ts"
import type { Actor, IssueToken, TokenGrant, TokenKind } from "./store.ts"
import { hashToken, newToken, tokensEqual } from "./tokens.ts"

const TOKEN_COLUMNS = "id, user_id, kind, token_hash, machine_uid, expires_at, used_at, revoked_at"

interface TokenRow {
  readonly id: number
  readonly user_id: number
  readonly kind: TokenKind
  readonly token_hash: string
  readonly machine_uid: string | null
  readonly expires_at: string | null
  readonly used_at: string | null
  readonly revoked_at: string | null
}

const grantOf = (row: TokenRow): TokenGrant => ({
  userId: Number(row.user_id),
  kind: row.kind,
  machineUid: row.machine_uid,
})

interface ListedTokenRow {
  readonly id: number
  readonly kind: "api" | "pairing-key"
  readonly label: string | null
  readonly created_at: string
  readonly expires_at: string | null
  readonly single_use: number
  readonly used_at: string | null
  readonly revoked_at: string | null
}

const listedToken = (r: ListedTokenRow): Api.ApiTokenInfo => ({
  tokenId: Number(r.id),
  kind: r.kind,
  label: r.label,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  singleUse: r.kind === "pairing-key" && Number(r.single_use) === 1,
  usedAt: r.used_at,
  revoked: r.revoked_at !== null,
})

export function* issueToken(db: QueryDialect, input: IssueToken): Query<string> {
  const token = newToken(input.kind)
  const hash = hashToken(token)
  const expires = input.ttlMs === undefined ? null : new Date(Date.now() + input.ttlMs).toISOString()
  yield* run(
    db,
    "INSERT INTO tokens (user_id, kind, token_hash, machine_uid, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    [input.userId, input.kind, hash, input.machineUid ?? null, now(), expires],
  )
  if (input.label !== undefined || input.kind === "pairing-key") {
    yield* run(
      db,
      "INSERT INTO token_labels (token_id, label, single_use) SELECT id, ?, ? FROM tokens WHERE token_hash = ?",
      [input.label ?? null, input.singleUse === false ? 0 : 1, hash],
    )
  }
  // Pairing a machine again (after a revoke) takes it back into use.
  if (input.kind === "machine" && input.machineUid !== undefined)
    yield* relistMachine(db, input.userId, input.machineUid)
  return token
}

/** The token `plaintext` is, if it is one of `kinds`, unrevoked and unexpired (used or not). */
function* findToken(db: QueryDialect, plaintext: string, kinds: readonly TokenKind[]): Query<TokenRow | null> {
  const hash = hashToken(plaintext)
  const [row] = yield* all<TokenRow>(db, `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?`, [hash])
  if (!row || !tokensEqual(row.token_hash, hash)) return null
  if (!kinds.includes(row.kind) || row.revoked_at) return null
  if (row.expires_at && row.expires_at < now()) return null
  return { ...row, id: Number(row.id) }
}

export function* verifyToken(
  db: QueryDialect,
  plaintext: string,
  kinds: readonly TokenKind[],
): Query<TokenGrant | null> {
  const row = yield* findToken(db, plaintext, kinds)
  return !row || row.used_at ? null : grantOf(row)
}

export function* consumeToken(db: QueryDialect, plaintext: string, kind: TokenKind): Query<TokenGrant | null> {
  const row = yield* findToken(db, plaintext, [kind])
  if (!row || row.used_at) return null
  // One statement decides which of two concurrent uses wins.
  const used = yield* run(db, "UPDATE tokens SET used_at = ? WHERE id = ? AND used_at IS NULL", [now(), row.id])
  return used === 1 ? grantOf(row) : null
}

export function* listTokens(db: QueryDialect, actor: Actor): Query<Api.ApiTokenInfo[]> {
  const rows = yield* all<ListedTokenRow>(
    db,
    `SELECT t.id, t.kind, l.label, t.created_at, t.expires_at, coalesce(l.single_use, 1) AS single_use, t.used_at,
       t.revoked_at
     FROM tokens t LEFT JOIN token_labels l ON l.token_id = t.id
     WHERE t.user_id = ? AND t.kind IN ('api', 'pairing-key') ORDER BY t.id DESC`,
    [actor.userId],
  )
  return rows.map(listedToken)
}

/** Tokens a user lists and revokes (machine tokens go with their machine, `revokeMachine`). */
const LISTED_TOKEN = "id = ? AND user_id = ? AND kind IN ('api', 'pairing-key')"

export function* revokeToken(db: QueryDialect, actor: Actor, tokenId: number): Query<boolean> {
  const changed = yield* run(db, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE ${LISTED_TOKEN}`, [
    now(),
    tokenId,
    actor.userId,
  ])
  // MySQL counts changed rows: an already revoked token matches but does not change (SQLite counts it).
  return (
    changed > 0 || (yield* exists(db, `SELECT 1 AS one FROM tokens WHERE ${LISTED_TOKEN}`, [tokenId, actor.userId]))
  )
}

export function redeemPairingKey(
  db: QueryDialect,
  key: string,
  machineUid: string,
): Query<{ userId: number; token: string } | null> {
  return step(
    // The key is spent and the machine token issued together, or neither. The key's row is not read
    // with a lock: redemptions waiting on that lock, queued on the `tokens` index, made InnoDB refuse the
    // winner's INSERT of the machine token as a deadlock (the contract's "pairing key used at the same
    // moment" case, 5 rounds of 4 at once: a deadlock in 3 of 3 runs, on mysql2 and PlanetScale alike;
    // fleets over HTTP: 503s in 2 of 3 runs, `apps/server/test/fault/pairing-key-race.test.ts`). A
    // single-use key is spent by one conditional UPDATE instead, as `consumeToken`: of two redemptions
    // one changes the row; the other finds it spent (an UPDATE reads the latest committed row).
    db.transaction(function* (tx) {
      const row = yield* findToken(tx, key, ["pairing-key"])
      if (!row || row.used_at) return null
      const [label] = yield* all<{ single_use: number }>(tx, "SELECT single_use FROM token_labels WHERE token_id = ?", [
        row.id,
      ])
      // A multi-use key stays usable until it expires or is revoked.
      if (Number(label?.single_use ?? 1) === 1) {
        const spent = yield* run(tx, "UPDATE tokens SET used_at = ? WHERE id = ? AND used_at IS NULL", [now(), row.id])
        if (spent !== 1) return null
      }
      const userId = Number(row.user_id)
      const token = yield* issueToken(tx, { userId, kind: "machine", machineUid })
      return { userId, token }
    }),
  )
}
