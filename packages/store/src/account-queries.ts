/**
 * Users, tokens, machines' revocation and parents, links, device codes and session shares
 * (`AccountStore`, and the `Store`'s `adoptChildMachine`), written once for every engine: the rows the
 * account tables hold, how they read as the store's values, the rules that need no database (when a link
 * is usable, what a device-code poll answers) and the statements, as queries an engine runs through its
 * `QueryDialect` (`query-dialect.ts`; `sqlite/accounts.ts`, `mysql/accounts.ts`,
 * `{sqlite,mysql}/machine-parents.ts`).
 *
 * Security rules held here for every engine:
 * - every secret (token, pairing key, link, device code, user code) is stored as its SHA-256 only
 *   (`tokens.ts`); a row found by a hash is compared with it again in constant time (`tokensEqual`);
 * - a one-time secret works once: a token or a single-use pairing key is spent by one conditional UPDATE
 *   (`used_at IS NULL`: of two concurrent uses one changes the row); a link and a device code are read
 *   and spent in one transaction whose read locks the row (`forUpdate` on MySQL; SQLite's IMMEDIATE
 *   transaction holds the database's one write lock), so a second use waits, then finds it used;
 * - whatever a user owns is read and written through `actor.userId`;
 * - a machine's name is unique among its user's live (unrevoked) machines: every statement that names a
 *   machine (its first hello, a hello with a new name, a dashboard rename, pairing a revoked machine
 *   again, a child machine's adoption) decides it in one transaction that first locks the user's row
 *   (`userMachinesLocked`), so two of them for one user run one after the other.
 *
 * No statement needs the id of the row it inserts (MySQL gives `insertId`, SQLite `RETURNING`): each row
 * is found again by its unique key (a token by its hash, a user by name, a machine by user and uid).
 */
import { type Api, clampMachineName, numberedMachineName, type Sync } from "@overlord/protocol"
import { step } from "./ingest/steps.ts"
import type { Mode, Query, QueryDialect, Runner, SqlValue } from "./query-dialect.ts"
import { all, inChunks, placeholders, run } from "./query-dialect.ts"
import type {
  AcceptLinkOutcome,
  AccountLinkKind,
  AccountUser,
  Actor,
  CreateAccountLink,
  DeviceCodeInput,
  DevicePoll,
  DeviceRequestInfo,
  DeviceStatus,
  IssueToken,
  RenameMachineOutcome,
  RevokedMachine,
  ShareOutcome,
  TokenGrant,
  TokenKind,
  UserRole,
} from "./store.ts"
import {
  hashToken,
  newSecret,
  newToken,
  newUserCode,
  normalizeEmail,
  normalizeUserCode,
  tokensEqual,
} from "./tokens.ts"

const now = () => new Date().toISOString()
const DAY_MS = 24 * 3600 * 1000
/** Fresh user codes tried before `createDeviceCode` gives up (a collision is 1 in 2.6e10 per live code). */
const USER_CODE_ATTEMPTS = 6

// ---- rows and the rules that need no database -----------------------------------------------------

/** A user with their profile (`u`, `p`); users without one (`local`) are members without e-mail. */
const USER_COLUMNS = "u.id, u.name, p.email, p.display_name, coalesce(p.role, 'member') AS role"

interface UserRow {
  readonly id: number
  readonly name: string
  readonly email: string | null
  readonly display_name: string | null
  readonly role: UserRole
}

const userOf = (row: UserRow): AccountUser => ({
  userId: Number(row.id),
  email: row.email,
  name: row.display_name ?? row.name,
  role: row.role,
})

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

interface LinkRow {
  readonly id: number
  readonly kind: AccountLinkKind
  readonly token_hash: string
  readonly role: UserRole
  readonly expires_at: string
  readonly used_at: string | null
}

const linkUsable = (row: LinkRow): boolean => row.used_at === null && row.expires_at > now()

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

const DEVICE_COLUMNS =
  "id, device_code_hash, machine_uid, machine_name, status, user_id, expires_at, last_poll_at, delivered_at"

interface DeviceRow {
  readonly id: number
  readonly device_code_hash: string
  readonly machine_uid: string
  readonly machine_name: string
  readonly status: "pending" | "approved" | "denied"
  readonly user_id: number | null
  readonly expires_at: string
  readonly last_poll_at: string | null
  readonly delivered_at: string | null
}

/** A delivered code is spent: it reads as expired, as does any code past its time. */
const deviceStatus = (row: DeviceRow): DeviceStatus =>
  row.delivered_at !== null || (row.status === "pending" && row.expires_at <= now()) ? "expired" : row.status

const deviceInfo = (row: DeviceRow, userCode: string): DeviceRequestInfo => ({
  userCode,
  machineName: row.machine_name,
  status: deviceStatus(row),
  expiresAt: row.expires_at,
})

/** What a poll answers, or `deliver` (approved, not yet delivered: issue the token now). */
function devicePoll(row: DeviceRow, minIntervalMs: number): "pending" | "slow_down" | "denied" | "expired" | "deliver" {
  const status = deviceStatus(row)
  if (status === "expired" || row.expires_at <= now()) return "expired"
  if (status === "denied") return "denied"
  if (row.last_poll_at !== null && Date.now() - Date.parse(row.last_poll_at) < minIntervalMs) return "slow_down"
  return status === "approved" ? "deliver" : "pending"
}

// ---- the statements (`AccountStore`'s methods, in its order) ---------------------------------------

/** Whether a SELECT finds a row. */
function* exists(db: QueryDialect, sql: string, params: readonly SqlValue[]): Query<boolean> {
  return (yield* all(db, sql, params)).length > 0
}

/** `FOR UPDATE` where the row is read to be changed in the same transaction. */
const lockIf = (db: QueryDialect, lock: boolean) => (lock ? db.forUpdate : "")

function* userIdByName(db: QueryDialect, name: string): Query<number | null> {
  const [row] = yield* all<{ id: number }>(db, "SELECT id FROM users WHERE name = ?", [name])
  return row ? Number(row.id) : null
}

function* ensureUser(db: QueryDialect, name: string): Query<number> {
  const found = yield* userIdByName(db, name)
  if (found !== null) return found
  // Another server may create the same user at the same moment: theirs is kept.
  yield* step(db.insertRows("users", ["name", "created_at"], [[name, now()]], true))
  const id = yield* userIdByName(db, name)
  if (id === null) throw new Error(`user ${name} could not be created`)
  return id
}

function* issueToken(db: QueryDialect, input: IssueToken): Query<string> {
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

function* verifyToken(db: QueryDialect, plaintext: string, kinds: readonly TokenKind[]): Query<TokenGrant | null> {
  const row = yield* findToken(db, plaintext, kinds)
  return !row || row.used_at ? null : grantOf(row)
}

function* consumeToken(db: QueryDialect, plaintext: string, kind: TokenKind): Query<TokenGrant | null> {
  const row = yield* findToken(db, plaintext, [kind])
  if (!row || row.used_at) return null
  // One statement decides which of two concurrent uses wins.
  const used = yield* run(db, "UPDATE tokens SET used_at = ? WHERE id = ? AND used_at IS NULL", [now(), row.id])
  return used === 1 ? grantOf(row) : null
}

// ---- AccountDirectory ---------------------------------------------------------------------------

function* userWhere(db: QueryDialect, where: "u.id" | "p.email", value: string | number): Query<AccountUser | null> {
  const [row] = yield* all<UserRow>(
    db,
    `SELECT ${USER_COLUMNS} FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id WHERE ${where} = ?`,
    [value],
  )
  return row ? userOf(row) : null
}

function* findUserByEmail(db: QueryDialect, email: string): Query<AccountUser | null> {
  const normal = normalizeEmail(email)
  return normal === null ? null : yield* userWhere(db, "p.email", normal)
}

const hasAdmin = (db: QueryDialect) => exists(db, "SELECT 1 AS one FROM user_profiles WHERE role = 'admin' LIMIT 1", [])

function* createAccountLink(db: QueryDialect, input: CreateAccountLink): Query<{ token: string; expiresAt: string }> {
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

function* accountLinkStatus(
  db: QueryDialect,
  token: string,
): Query<{ kind: AccountLinkKind; valid: boolean; expiresAt: string } | null> {
  const row = yield* linkRow(db, token, false)
  if (!row) return null
  const valid = linkUsable(row) && (row.kind !== "setup" || !(yield* hasAdmin(db)))
  return { kind: row.kind, valid, expiresAt: row.expires_at }
}

function* acceptAccountLink(
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

function* listTokens(db: QueryDialect, actor: Actor): Query<Api.ApiTokenInfo[]> {
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

function* revokeToken(db: QueryDialect, actor: Actor, tokenId: number): Query<boolean> {
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

/** A machine's tokens (`machine_uid` is the machine's uid). */
const MACHINE_TOKENS = "user_id = ? AND kind = 'machine' AND machine_uid = ?"

function revokeMachine(db: QueryDialect, actor: Actor, machineUid: string): Query<boolean> {
  return step(
    db.transaction(function* (tx) {
      const at = now()
      const machines = yield* run(
        tx,
        "UPDATE machines SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ? AND machine_uid = ?",
        [at, actor.userId, machineUid],
      )
      // Its children (sandboxes) synced with its token: they go with it. Read, then updated by id: MySQL
      // refuses a subquery on the table an UPDATE writes, and SQLite has no UPDATE … JOIN. The parent's
      // row, written above, stays locked until commit, so no child is adopted in between
      // (`adoptChildMachine` reads the parent with a lock).
      const children = yield* all<{ machine_id: number }>(
        tx,
        `SELECT p.machine_id FROM machine_parents p JOIN machines parent ON parent.id = p.parent_machine_id
         WHERE parent.user_id = ? AND parent.machine_uid = ?`,
        [actor.userId, machineUid],
      )
      for (const part of inChunks(children)) {
        yield* run(
          tx,
          `UPDATE machines SET revoked_at = coalesce(revoked_at, ?)
           WHERE user_id = ? AND id IN (${placeholders(part.length)})`,
          [at, actor.userId, ...part.map((c) => Number(c.machine_id))],
        )
      }
      const tokens = yield* run(tx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE ${MACHINE_TOKENS}`, [
        at,
        actor.userId,
        machineUid,
      ])
      if (machines + tokens > 0) return true
      // As in `revokeToken`: on MySQL a machine revoked before matches without changing.
      return (
        (yield* exists(tx, "SELECT 1 AS one FROM machines WHERE user_id = ? AND machine_uid = ?", [
          actor.userId,
          machineUid,
        ])) ||
        (yield* exists(tx, `SELECT 1 AS one FROM tokens WHERE ${MACHINE_TOKENS} LIMIT 1`, [actor.userId, machineUid]))
      )
    }),
  )
}

function* revokedMachines(db: QueryDialect, actor: Actor): Query<RevokedMachine[]> {
  const rows = yield* all<{ machine_uid: string; name: string; last_seen_at: string | null }>(
    db,
    "SELECT machine_uid, name, last_seen_at FROM machines WHERE user_id = ? AND revoked_at IS NOT NULL ORDER BY name",
    [actor.userId],
  )
  return rows.map((r) => ({ machineId: r.machine_uid, name: r.name, lastSeenAt: r.last_seen_at }))
}

function redeemPairingKey(
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

function* createDeviceCode(
  db: QueryDialect,
  input: DeviceCodeInput,
): Query<{ deviceCode: string; userCode: string; expiresAt: string }> {
  const deviceCode = newSecret("ovd")
  const expiresAt = new Date(Date.now() + input.ttlMs).toISOString()
  // Codes a day past their expiry are of no use to anyone: their user codes become free again.
  yield* run(db, "DELETE FROM device_codes WHERE expires_at < ?", [new Date(Date.now() - DAY_MS).toISOString()])
  for (let attempt = 1; attempt <= USER_CODE_ATTEMPTS; attempt++) {
    const userCode = newUserCode()
    // The unique key on the user code's hash refuses a collision; the row is then not inserted.
    const inserted = yield* step(
      db.insertRows(
        "device_codes",
        ["device_code_hash", "user_code_hash", "machine_uid", "machine_name", "created_at", "expires_at"],
        [[hashToken(deviceCode), hashToken(userCode), input.machineUid, input.machineName, now(), expiresAt]],
        true,
      ),
    )
    if (inserted === 1) return { deviceCode, userCode, expiresAt }
  }
  throw new Error("could not find a free device user code")
}

const deviceRowOf = (row: DeviceRow): DeviceRow => ({
  ...row,
  id: Number(row.id),
  user_id: row.user_id === null ? null : Number(row.user_id),
})

function* deviceByUserCode(
  db: QueryDialect,
  userCode: string,
  lock: boolean,
): Query<(DeviceRow & { userCode: string }) | null> {
  const code = normalizeUserCode(userCode)
  if (code === null) return null
  const [row] = yield* all<DeviceRow>(
    db,
    `SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE user_code_hash = ?${lockIf(db, lock)}`,
    [hashToken(code)],
  )
  return row ? { ...deviceRowOf(row), userCode: code } : null
}

function* getDeviceRequest(db: QueryDialect, userCode: string): Query<DeviceRequestInfo | null> {
  const row = yield* deviceByUserCode(db, userCode, false)
  return row ? deviceInfo(row, row.userCode) : null
}

function decideDeviceRequest(
  db: QueryDialect,
  actor: Actor,
  userCode: string,
  approve: boolean,
): Query<DeviceRequestInfo | null> {
  return step(
    db.transaction(function* (tx) {
      const row = yield* deviceByUserCode(tx, userCode, true)
      if (!row) return null
      if (deviceStatus(row) !== "pending") return deviceInfo(row, row.userCode)
      const status = approve ? "approved" : "denied"
      yield* run(tx, "UPDATE device_codes SET status = ?, user_id = ? WHERE id = ?", [status, actor.userId, row.id])
      return deviceInfo({ ...row, status, user_id: actor.userId }, row.userCode)
    }),
  )
}

function pollDeviceCode(db: QueryDialect, deviceCode: string, minIntervalMs: number): Query<DevicePoll> {
  return step(
    db.transaction(function* (tx): Query<DevicePoll> {
      const hash = hashToken(deviceCode)
      const [found] = yield* all<DeviceRow>(
        tx,
        `SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE device_code_hash = ?${tx.forUpdate}`,
        [hash],
      )
      if (!found || !tokensEqual(found.device_code_hash, hash)) return { status: "expired" }
      const row = deviceRowOf(found)
      const at = now()
      yield* run(tx, "UPDATE device_codes SET last_poll_at = ? WHERE id = ?", [at, row.id])
      const decision = devicePoll(row, minIntervalMs)
      if (decision !== "deliver") return { status: decision }
      // Approved codes carry their approver (`decideDeviceRequest`).
      if (row.user_id === null) throw new Error("an approved device code has no user")
      yield* run(tx, "UPDATE device_codes SET delivered_at = ? WHERE id = ?", [at, row.id])
      const token = yield* issueToken(tx, { userId: row.user_id, kind: "machine", machineUid: row.machine_uid })
      return { status: "approved", token, machineUid: row.machine_uid }
    }),
  )
}

const ownsSession = (db: QueryDialect, actor: Actor, sessionId: string) =>
  exists(db, "SELECT 1 AS one FROM sessions WHERE user_id = ? AND session_uid = ? LIMIT 1", [actor.userId, sessionId])

function* shareSession(db: QueryDialect, actor: Actor, sessionId: string, granteeEmail: string): Query<ShareOutcome> {
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

function* unshareSession(db: QueryDialect, actor: Actor, sessionId: string, granteeUserId: number): Query<boolean> {
  const deleted = yield* run(
    db,
    "DELETE FROM session_shares WHERE owner_id = ? AND session_uid = ? AND grantee_id = ?",
    [actor.userId, sessionId, granteeUserId],
  )
  return deleted > 0
}

function* listShares(db: QueryDialect, actor: Actor, sessionId: string): Query<Api.SessionShare[] | null> {
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

function* sharedSessionOwner(db: QueryDialect, actor: Actor, sessionId: string): Query<number | null> {
  const [row] = yield* all<{ owner_id: number }>(
    db,
    "SELECT owner_id FROM session_shares WHERE grantee_id = ? AND session_uid = ? ORDER BY id LIMIT 1",
    [actor.userId, sessionId],
  )
  return row ? Number(row.owner_id) : null
}

function* listSharedWithMe(db: QueryDialect, actor: Actor): Query<Api.SharedSession[]> {
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

// ---- machine names (unique among a user's live machines) ------------------------------------------

/**
 * `name` if no other live machine of the user has it, else numbered (`numberedMachineName`, the CLI's
 * `-N` step; the CLI first tries `<host> (<OS user>)`, which only the laptop can take). The numbering
 * starts again from the base of a name it gave (`vm-2` → `vm-3`, not `vm-2-2`) when that base is taken
 * too: the server does not know the host name the CLI strips instead, only the names taken.
 */
export function uniqueMachineName(name: string, taken: ReadonlySet<string>): string {
  const wanted = clampMachineName(name)
  if (!taken.has(wanted)) return wanted
  const numbered = /^(.+)-\d+$/.exec(wanted)
  return numberedMachineName(numbered?.[1] !== undefined && taken.has(numbered[1]) ? numbered[1] : wanted, taken)
}

/**
 * The name a machine has after a hello that says `hello`: a name the daemon did not say before (a new
 * `--name`, a login, the CLI's own de-duplication) replaces the stored one; the name it said last time
 * leaves the stored one alone, so a rename in the dashboard or a clash the server told apart survives the
 * daemon's reconnects, which keep sending the name in its `machine.json`. Rows from before the server
 * kept `reported_name` (null) take the hello's name, as every hello did then. Either way unique.
 */
export function nameAtHello(
  stored: { readonly name: string; readonly reported_name: string | null },
  hello: string,
  taken: ReadonlySet<string>,
): string {
  const said = clampMachineName(hello)
  return uniqueMachineName(stored.reported_name !== null && stored.reported_name === said ? stored.name : said, taken)
}

interface NamedMachineRow {
  readonly id: number
  readonly machine_uid: string
  readonly name: string
  readonly reported_name: string | null
  readonly revoked_at: string | null
}

/**
 * Every machine of the user, read in a write transaction after locking the user's row: whatever names
 * a machine takes this lock first, so of two hellos (or a hello and a rename) of one user's machines the
 * second waits and then sees the first's name.
 *
 * `first`: this is the transaction's first statement. MySQL's REPEATABLE READ takes a transaction's
 * snapshot at its first plain read, which then comes after the lock, so a plain read sees every name
 * committed by whoever held it. Otherwise (a pairing, which reads its key first) the machines are read
 * with a lock, which reads the latest committed rows; that is not the default because locking every
 * machine row of the user made a hello wait on, and deadlock with, a `revokeMachine` holding a parent's row
 * and wanting its children's.
 */
function* userMachinesLocked(tx: QueryDialect, userId: number, first: boolean): Query<NamedMachineRow[]> {
  yield* all(tx, `SELECT id FROM users WHERE id = ?${tx.forUpdate}`, [userId])
  const rows = yield* all<NamedMachineRow>(
    tx,
    `SELECT id, machine_uid, name, reported_name, revoked_at FROM machines WHERE user_id = ?${first ? "" : tx.forUpdate}`,
    [userId],
  )
  return rows.map((r) => ({ ...r, id: Number(r.id) }))
}

/** The names of the user's live machines other than `machineUid` (a revoked machine's name is free). */
const namesTakenBesides = (rows: readonly NamedMachineRow[], machineUid: string): Set<string> =>
  new Set(rows.filter((r) => r.revoked_at === null && r.machine_uid !== machineUid).map((r) => r.name))

/**
 * The `SyncStore`'s `openMachine` less its cursors: registers the machine at its daemon's hello (or
 * names it as `nameAtHello` says and marks it online), in one transaction; its row id.
 */
export function openMachineRow(db: QueryDialect, actor: Actor, machineUid: string, name: string): Query<number> {
  return step(
    db.transaction(function* (tx) {
      const rows = yield* userMachinesLocked(tx, actor.userId, true)
      const taken = namesTakenBesides(rows, machineUid)
      const own = rows.find((r) => r.machine_uid === machineUid)
      const at = now()
      if (own) {
        yield* run(tx, "UPDATE machines SET name = ?, reported_name = ?, last_seen_at = ?, online = 1 WHERE id = ?", [
          nameAtHello(own, name, taken),
          clampMachineName(name),
          at,
          own.id,
        ])
        return own.id
      }
      yield* run(
        tx,
        `INSERT INTO machines (user_id, machine_uid, name, reported_name, created_at, last_seen_at, online)
         VALUES (?, ?, ?, ?, ?, ?, 1)`,
        [actor.userId, machineUid, uniqueMachineName(name, taken), clampMachineName(name), at, at],
      )
      const [row] = yield* all<{ id: number }>(tx, "SELECT id FROM machines WHERE user_id = ? AND machine_uid = ?", [
        actor.userId,
        machineUid,
      ])
      if (!row) throw new Error(`machine ${machineUid} could not be created`)
      return Number(row.id)
    }),
  )
}

/**
 * Renames one of the user's live machines (the dashboard): refused, not de-duplicated, when another of
 * the user's live machines has the name, since the user chose it. The daemon's `reported_name` stays, so
 * its next hello (still saying its old name) keeps this one (`nameAtHello`).
 */
function* renameMachine(db: QueryDialect, actor: Actor, machineUid: string, name: string): Query<RenameMachineOutcome> {
  const wanted = name.trim()
  if (wanted === "" || clampMachineName(wanted) !== wanted) return { _tag: "Invalid" }
  return yield* step(
    db.transaction(function* (tx): Query<RenameMachineOutcome> {
      const rows = yield* userMachinesLocked(tx, actor.userId, true)
      const own = rows.find((r) => r.machine_uid === machineUid && r.revoked_at === null)
      if (!own) return { _tag: "NotFound" }
      if (namesTakenBesides(rows, machineUid).has(wanted)) return { _tag: "NameTaken", name: wanted }
      if (own.name !== wanted) yield* run(tx, "UPDATE machines SET name = ? WHERE id = ?", [wanted, own.id])
      return { _tag: "Renamed", machineId: machineUid, name: wanted }
    }),
  )
}

/**
 * Takes a revoked machine back into use (it is paired again), under another name if one of the user's
 * live machines took its name meanwhile. Nothing for a machine that is live, or not yet seen.
 */
function relistMachine(db: QueryDialect, userId: number, machineUid: string): Query<void> {
  return step(
    db.transaction(function* (tx) {
      // Most pairings are of a new machine (no row yet) or a live one: nothing more is locked for them. A
      // locking read: the pairing has read before, and a plain read would see its snapshot's row.
      const [row] = yield* all<{ revoked_at: string | null }>(
        tx,
        `SELECT revoked_at FROM machines WHERE user_id = ? AND machine_uid = ?${tx.forUpdate}`,
        [userId, machineUid],
      )
      if (!row || row.revoked_at === null) return
      // Inside a pairing, which has read before: the machines are read with a lock.
      const rows = yield* userMachinesLocked(tx, userId, false)
      const own = rows.find((r) => r.machine_uid === machineUid)
      if (!own || own.revoked_at === null) return
      // Its children revoked with it (`revokeMachine` gives them its `revoked_at`) come back with it: its
      // daemon syncs them with its token, and without this a sandbox's machine stayed refused for good
      // after `overlord logout` and a new `overlord login`, daemon restarted or not. A child revoked on
      // its own before keeps its own time, and stays revoked. Compared in SQL, as stored, before the
      // parent's row is written.
      const children = yield* all<{ machine_uid: string }>(
        tx,
        `SELECT m.machine_uid FROM machine_parents p
         JOIN machines m ON m.id = p.machine_id
         JOIN machines parent ON parent.id = p.parent_machine_id
         WHERE parent.id = ? AND m.user_id = ? AND m.revoked_at = parent.revoked_at`,
        [own.id, userId],
      )
      const taken = namesTakenBesides(rows, machineUid)
      const back = new Set(children.map((c) => c.machine_uid))
      for (const row of [own, ...rows.filter((r) => back.has(r.machine_uid))]) {
        const name = uniqueMachineName(row.name, taken)
        taken.add(name)
        yield* run(tx, "UPDATE machines SET revoked_at = NULL, name = ? WHERE id = ?", [name, row.id])
      }
    }),
  )
}

// ---- child machines (`machine_parents`; the `Store`'s `adoptChildMachine`) -------------------------

interface ChildRow {
  readonly id: number
  readonly revoked_at: string | null
  readonly parent_machine_id: number | null
  readonly kind: string | null
}

/**
 * Registers `childUid` as a machine `parentUid` runs for the same user (see `SyncStore`), in one
 * transaction. The parent's row is read with a lock (a `revokeMachine` of it waits, or is waited for and
 * then seen), the child's too; the child's machine and parent rows are inserted ignoring a taken key, so
 * two hellos of the same child racing both find the one row, and only the parent it names accepts it.
 */
export function* adoptChildMachine(
  db: QueryDialect,
  actor: Actor,
  parentUid: string,
  childUid: string,
  name: string,
  kind: Sync.MachineParent["kind"],
): Query<boolean> {
  if (parentUid === childUid) return false
  return yield* step(
    db.transaction(function* (tx) {
      const machines = yield* userMachinesLocked(tx, actor.userId, true)
      const [parent] = yield* all<{ id: number }>(
        tx,
        `SELECT id FROM machines WHERE user_id = ? AND machine_uid = ? AND revoked_at IS NULL${tx.forUpdate}`,
        [actor.userId, parentUid],
      )
      if (!parent) return false
      const parentId = Number(parent.id)
      const childRow = () =>
        all<ChildRow>(
          tx,
          `SELECT m.id, m.revoked_at, p.parent_machine_id, p.kind FROM machines m
           LEFT JOIN machine_parents p ON p.machine_id = m.id WHERE m.user_id = ? AND m.machine_uid = ?${tx.forUpdate}`,
          [actor.userId, childUid],
        )
      let [child] = yield* childRow()
      if (!child) {
        yield* step(
          tx.insertRows(
            "machines",
            ["user_id", "machine_uid", "name", "reported_name", "created_at"],
            [
              [
                actor.userId,
                childUid,
                uniqueMachineName(name, namesTakenBesides(machines, childUid)),
                clampMachineName(name),
                now(),
              ],
            ],
            true,
          ),
        )
        const [machine] = yield* all<{ id: number }>(
          tx,
          "SELECT id FROM machines WHERE user_id = ? AND machine_uid = ?",
          [actor.userId, childUid],
        )
        if (!machine) throw new Error(`machine ${childUid} could not be created`)
        yield* step(
          tx.insertRows(
            "machine_parents",
            ["machine_id", "user_id", "parent_machine_id", "kind"],
            [[Number(machine.id), actor.userId, parentId, kind]],
            true,
          ),
        )
        ;[child] = yield* childRow()
      }
      return (
        child !== undefined &&
        child.revoked_at === null &&
        Number(child.parent_machine_id) === parentId &&
        child.kind === kind
      )
    }),
  )
}

/**
 * The `AccountStore` on an engine: each method runs its query on the engine's dialect with the engine's
 * runner (`runSync`: it answers values; `runAsync`: promises). `sqlite/accounts.ts` and
 * `mysql/accounts.ts` extend it.
 */
export function accountStoreOn<M extends Mode>(runQuery: Runner<M>) {
  return class AccountQueries {
    constructor(protected readonly db: QueryDialect) {}
    ensureUser(name: string) {
      return runQuery(ensureUser(this.db, name))
    }
    issueToken(input: IssueToken) {
      return runQuery(issueToken(this.db, input))
    }
    verifyToken(plaintext: string, kinds: readonly TokenKind[]) {
      return runQuery(verifyToken(this.db, plaintext, kinds))
    }
    consumeToken(plaintext: string, kind: TokenKind) {
      return runQuery(consumeToken(this.db, plaintext, kind))
    }
    getUser(userId: number) {
      return runQuery(userWhere(this.db, "u.id", userId))
    }
    findUserByEmail(email: string) {
      return runQuery(findUserByEmail(this.db, email))
    }
    hasAdmin() {
      return runQuery(hasAdmin(this.db))
    }
    createAccountLink(input: CreateAccountLink) {
      return runQuery(createAccountLink(this.db, input))
    }
    accountLinkStatus(token: string) {
      return runQuery(accountLinkStatus(this.db, token))
    }
    acceptAccountLink(token: string, kind: AccountLinkKind, email: string, name: string) {
      return runQuery(acceptAccountLink(this.db, token, kind, email, name))
    }
    listTokens(actor: Actor) {
      return runQuery(listTokens(this.db, actor))
    }
    revokeToken(actor: Actor, tokenId: number) {
      return runQuery(revokeToken(this.db, actor, tokenId))
    }
    revokeMachine(actor: Actor, machineUid: string) {
      return runQuery(revokeMachine(this.db, actor, machineUid))
    }
    revokedMachines(actor: Actor) {
      return runQuery(revokedMachines(this.db, actor))
    }
    renameMachine(actor: Actor, machineUid: string, name: string) {
      return runQuery(renameMachine(this.db, actor, machineUid, name))
    }
    /** The machine row of `SyncStore.openMachine` (its engine adds the cursors). */
    openMachineRow(actor: Actor, machineUid: string, name: string) {
      return runQuery(openMachineRow(this.db, actor, machineUid, name))
    }
    redeemPairingKey(key: string, machineUid: string) {
      return runQuery(redeemPairingKey(this.db, key, machineUid))
    }
    createDeviceCode(input: DeviceCodeInput) {
      return runQuery(createDeviceCode(this.db, input))
    }
    getDeviceRequest(userCode: string) {
      return runQuery(getDeviceRequest(this.db, userCode))
    }
    decideDeviceRequest(actor: Actor, userCode: string, approve: boolean) {
      return runQuery(decideDeviceRequest(this.db, actor, userCode, approve))
    }
    pollDeviceCode(deviceCode: string, minIntervalMs: number) {
      return runQuery(pollDeviceCode(this.db, deviceCode, minIntervalMs))
    }
    shareSession(actor: Actor, sessionId: string, granteeEmail: string) {
      return runQuery(shareSession(this.db, actor, sessionId, granteeEmail))
    }
    unshareSession(actor: Actor, sessionId: string, granteeUserId: number) {
      return runQuery(unshareSession(this.db, actor, sessionId, granteeUserId))
    }
    listShares(actor: Actor, sessionId: string) {
      return runQuery(listShares(this.db, actor, sessionId))
    }
    sharedSessionOwner(actor: Actor, sessionId: string) {
      return runQuery(sharedSessionOwner(this.db, actor, sessionId))
    }
    listSharedWithMe(actor: Actor) {
      return runQuery(listSharedWithMe(this.db, actor))
    }
  }
}
