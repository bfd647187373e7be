/** Users and tokens in SQLite (`AccountStore`): tokens are kept as SHA-256 hashes only (`../tokens.ts`). */
import type { Database } from "bun:sqlite"
import type { Api } from "@overlord/protocol"
import {
  DEVICE_COLUMNS,
  type DeviceRow,
  deviceInfo,
  devicePoll,
  deviceStatus,
  type LinkRow,
  type ListedTokenRow,
  linkUsable,
  listedToken,
  USER_COLUMNS,
  type UserRow,
  userOf,
} from "../account-rows.ts"
import type {
  AcceptLinkOutcome,
  AccountLinkKind,
  AccountStore,
  AccountUser,
  Actor,
  CreateAccountLink,
  DeviceCodeInput,
  DevicePoll,
  DeviceRequestInfo,
  IssueToken,
  RevokedMachine,
  ShareOutcome,
  TokenGrant,
  TokenKind,
} from "../store.ts"
import {
  hashToken,
  newSecret,
  newToken,
  newUserCode,
  normalizeEmail,
  normalizeUserCode,
  tokensEqual,
} from "../tokens.ts"

const now = () => new Date().toISOString()

interface TokenRow {
  id: number
  user_id: number
  kind: TokenKind
  token_hash: string
  machine_uid: string | null
  expires_at: string | null
  used_at: string | null
  revoked_at: string | null
}

export class SqliteAccounts implements AccountStore {
  constructor(private readonly db: Database) {}

  ensureUser(name: string): number {
    const found = this.db.query("SELECT id FROM users WHERE name = ?").get(name) as { id: number } | null
    if (found) return found.id
    const row = this.db.query("INSERT INTO users (name, created_at) VALUES (?, ?) RETURNING id").get(name, now()) as {
      id: number
    }
    return row.id
  }

  issueToken(input: IssueToken): string {
    const token = newToken(input.kind)
    const expires = input.ttlMs === undefined ? null : new Date(Date.now() + input.ttlMs).toISOString()
    const { id } = this.db
      .query(
        "INSERT INTO tokens (user_id, kind, token_hash, machine_uid, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
      )
      .get(input.userId, input.kind, hashToken(token), input.machineUid ?? null, now(), expires) as { id: number }
    if (input.label !== undefined || input.kind === "pairing-key") {
      this.db
        .query("INSERT INTO token_labels (token_id, label, single_use) VALUES (?, ?, ?)")
        .run(id, input.label ?? null, input.singleUse === false ? 0 : 1)
    }
    // Pairing a machine again (after a revoke) takes it back into use.
    if (input.kind === "machine" && input.machineUid !== undefined) {
      this.db
        .query("UPDATE machines SET revoked_at = NULL WHERE user_id = ? AND machine_uid = ?")
        .run(input.userId, input.machineUid)
    }
    return token
  }

  private findToken(plaintext: string, kinds: readonly TokenKind[]): TokenRow | null {
    const hash = hashToken(plaintext)
    const row = this.db
      .query(
        "SELECT id, user_id, kind, token_hash, machine_uid, expires_at, used_at, revoked_at FROM tokens WHERE token_hash = ?",
      )
      .get(hash) as TokenRow | null
    if (!row || !tokensEqual(row.token_hash, hash)) return null
    if (!kinds.includes(row.kind) || row.revoked_at) return null
    if (row.expires_at && row.expires_at < now()) return null
    return row
  }

  verifyToken(plaintext: string, kinds: readonly TokenKind[]): TokenGrant | null {
    const row = this.findToken(plaintext, kinds)
    if (!row || row.used_at) return null
    return { userId: row.user_id, kind: row.kind, machineUid: row.machine_uid }
  }

  consumeToken(plaintext: string, kind: TokenKind): TokenGrant | null {
    return this.db
      .transaction(() => {
        const row = this.findToken(plaintext, [kind])
        if (!row || row.used_at) return null
        this.db.query("UPDATE tokens SET used_at = ? WHERE id = ?").run(now(), row.id)
        return { userId: row.user_id, kind: row.kind, machineUid: row.machine_uid }
      })
      .immediate()
  }

  // ---- AccountDirectory ---------------------------------------------------------------------------

  private userRow(where: string, value: string | number): AccountUser | null {
    const row = this.db
      .query(`SELECT ${USER_COLUMNS} FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id WHERE ${where} = ?`)
      .get(value) as UserRow | null
    return row ? userOf(row) : null
  }

  getUser(userId: number): AccountUser | null {
    return this.userRow("u.id", userId)
  }

  findUserByEmail(email: string): AccountUser | null {
    const normal = normalizeEmail(email)
    return normal === null ? null : this.userRow("p.email", normal)
  }

  hasAdmin(): boolean {
    return this.db.query("SELECT 1 FROM user_profiles WHERE role = 'admin' LIMIT 1").get() !== null
  }

  createAccountLink(input: CreateAccountLink): { token: string; expiresAt: string } {
    const token = newSecret(input.kind === "setup" ? "ovs" : "ovi")
    const expiresAt = new Date(Date.now() + input.ttlMs).toISOString()
    this.db
      .query(
        "INSERT INTO account_links (kind, token_hash, created_by, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(input.kind, hashToken(token), input.createdBy, input.role, now(), expiresAt)
    return { token, expiresAt }
  }

  private linkRow(token: string): LinkRow | null {
    const hash = hashToken(token)
    const row = this.db
      .query("SELECT id, kind, token_hash, role, expires_at, used_at FROM account_links WHERE token_hash = ?")
      .get(hash) as LinkRow | null
    return row && tokensEqual(row.token_hash, hash) ? row : null
  }

  accountLinkStatus(token: string): { kind: AccountLinkKind; valid: boolean; expiresAt: string } | null {
    const row = this.linkRow(token)
    if (!row) return null
    const valid = linkUsable(row) && (row.kind !== "setup" || !this.hasAdmin())
    return { kind: row.kind, valid, expiresAt: row.expires_at }
  }

  acceptAccountLink(token: string, kind: AccountLinkKind, email: string, name: string): AcceptLinkOutcome {
    const normal = normalizeEmail(email)
    const display = name.trim()
    if (normal === null || display === "") return { _tag: "Invalid" }
    return this.db
      .transaction((): AcceptLinkOutcome => {
        const row = this.linkRow(token)
        if (!row || row.kind !== kind || !linkUsable(row)) return { _tag: "Invalid" }
        if (kind === "setup" && this.hasAdmin()) return { _tag: "Invalid" }
        const taken =
          this.db.query("SELECT 1 FROM user_profiles WHERE email = ?").get(normal) !== null ||
          this.db.query("SELECT 1 FROM users WHERE name = ?").get(normal) !== null
        if (taken) return { _tag: "EmailTaken" }
        const created = this.db
          .query("INSERT INTO users (name, created_at) VALUES (?, ?) RETURNING id")
          .get(normal, now()) as { id: number }
        this.db
          .query("INSERT INTO user_profiles (user_id, email, display_name, role) VALUES (?, ?, ?, ?)")
          .run(created.id, normal, display, row.role)
        this.db.query("UPDATE account_links SET used_at = ?, used_by = ? WHERE id = ?").run(now(), created.id, row.id)
        return {
          _tag: "Accepted",
          user: { userId: created.id, email: normal, name: display, role: row.role },
        }
      })
      .immediate()
  }

  listTokens(actor: Actor): Api.ApiTokenInfo[] {
    const rows = this.db
      .query(
        "SELECT t.id, t.kind, l.label, t.created_at, t.expires_at, coalesce(l.single_use, 1) AS single_use, t.used_at, t.revoked_at FROM tokens t LEFT JOIN token_labels l ON l.token_id = t.id WHERE t.user_id = ? AND t.kind IN ('api', 'pairing-key') ORDER BY t.id DESC",
      )
      .all(actor.userId) as ListedTokenRow[]
    return rows.map(listedToken)
  }

  revokeToken(actor: Actor, tokenId: number): boolean {
    const done = this.db
      .query(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ? AND kind IN ('api', 'pairing-key')",
      )
      .run(now(), tokenId, actor.userId)
    return done.changes > 0
  }

  revokeMachine(actor: Actor, machineUid: string): boolean {
    return this.db
      .transaction(() => {
        const at = now()
        const machines = this.db
          .query("UPDATE machines SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ? AND machine_uid = ?")
          .run(at, actor.userId, machineUid).changes
        // Its children (sandboxes) synced with its token: they go with it.
        this.db
          .query(
            `UPDATE machines SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ? AND id IN (
               SELECT p.machine_id FROM machine_parents p JOIN machines parent ON parent.id = p.parent_machine_id
               WHERE parent.user_id = ? AND parent.machine_uid = ?)`,
          )
          .run(at, actor.userId, actor.userId, machineUid)
        const tokens = this.db
          .query(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ? AND kind = 'machine' AND machine_uid = ?",
          )
          .run(at, actor.userId, machineUid).changes
        return machines + tokens > 0
      })
      .immediate()
  }

  revokedMachines(actor: Actor): RevokedMachine[] {
    return (
      this.db
        .query(
          "SELECT machine_uid, name, last_seen_at FROM machines WHERE user_id = ? AND revoked_at IS NOT NULL ORDER BY name",
        )
        .all(actor.userId) as { machine_uid: string; name: string; last_seen_at: string | null }[]
    ).map((r) => ({ machineId: r.machine_uid, name: r.name, lastSeenAt: r.last_seen_at }))
  }

  redeemPairingKey(key: string, machineUid: string): { userId: number; token: string } | null {
    return this.db
      .transaction(() => {
        const row = this.findToken(key, ["pairing-key"])
        if (!row || row.used_at) return null
        const label = this.db.query("SELECT single_use FROM token_labels WHERE token_id = ?").get(row.id) as {
          single_use: number
        } | null
        const single_use = label?.single_use ?? 1
        // A multi-use key stays usable until it expires or is revoked.
        if (single_use) this.db.query("UPDATE tokens SET used_at = ? WHERE id = ?").run(now(), row.id)
        const token = this.issueToken({ userId: row.user_id, kind: "machine", machineUid })
        return { userId: row.user_id, token }
      })
      .immediate()
  }

  createDeviceCode(input: DeviceCodeInput): { deviceCode: string; userCode: string; expiresAt: string } {
    const deviceCode = newSecret("ovd")
    const expiresAt = new Date(Date.now() + input.ttlMs).toISOString()
    return this.db
      .transaction(() => {
        // Codes a day past their expiry are of no use to anyone: their user codes become free again.
        this.db.query("DELETE FROM device_codes WHERE expires_at < ?").run(new Date(Date.now() - DAY_MS).toISOString())
        for (;;) {
          const userCode = newUserCode()
          const taken = this.db.query("SELECT 1 FROM device_codes WHERE user_code_hash = ?").get(hashToken(userCode))
          if (taken) continue
          this.db
            .query(
              "INSERT INTO device_codes (device_code_hash, user_code_hash, machine_uid, machine_name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .run(hashToken(deviceCode), hashToken(userCode), input.machineUid, input.machineName, now(), expiresAt)
          return { deviceCode, userCode, expiresAt }
        }
      })
      .immediate()
  }

  private deviceByUserCode(userCode: string): (DeviceRow & { userCode: string }) | null {
    const code = normalizeUserCode(userCode)
    if (code === null) return null
    const row = this.db
      .query(`SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE user_code_hash = ?`)
      .get(hashToken(code)) as DeviceRow | null
    return row ? { ...row, userCode: code } : null
  }

  getDeviceRequest(userCode: string): DeviceRequestInfo | null {
    const row = this.deviceByUserCode(userCode)
    return row ? deviceInfo(row, row.userCode) : null
  }

  decideDeviceRequest(actor: Actor, userCode: string, approve: boolean): DeviceRequestInfo | null {
    return this.db
      .transaction(() => {
        const row = this.deviceByUserCode(userCode)
        if (!row) return null
        if (deviceStatus(row) !== "pending") return deviceInfo(row, row.userCode)
        const status = approve ? "approved" : "denied"
        this.db.query("UPDATE device_codes SET status = ?, user_id = ? WHERE id = ?").run(status, actor.userId, row.id)
        return deviceInfo({ ...row, status, user_id: actor.userId }, row.userCode)
      })
      .immediate()
  }

  pollDeviceCode(deviceCode: string, minIntervalMs: number): DevicePoll {
    return this.db
      .transaction((): DevicePoll => {
        const hash = hashToken(deviceCode)
        const row = this.db
          .query(`SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE device_code_hash = ?`)
          .get(hash) as DeviceRow | null
        if (!row || !tokensEqual(row.device_code_hash, hash)) return { status: "expired" }
        const at = now()
        this.db.query("UPDATE device_codes SET last_poll_at = ? WHERE id = ?").run(at, row.id)
        const decision = devicePoll(row, minIntervalMs)
        if (decision !== "deliver") return { status: decision }
        this.db.query("UPDATE device_codes SET delivered_at = ? WHERE id = ?").run(at, row.id)
        const token = this.issueToken({ userId: row.user_id!, kind: "machine", machineUid: row.machine_uid })
        return { status: "approved", token, machineUid: row.machine_uid }
      })
      .immediate()
  }

  private ownsSession(actor: Actor, sessionId: string): boolean {
    return (
      this.db
        .query("SELECT 1 FROM sessions WHERE user_id = ? AND session_uid = ? LIMIT 1")
        .get(actor.userId, sessionId) !== null
    )
  }

  shareSession(actor: Actor, sessionId: string, granteeEmail: string): ShareOutcome {
    if (!this.ownsSession(actor, sessionId)) return { _tag: "NoSession" }
    const grantee = this.findUserByEmail(granteeEmail)
    if (!grantee || grantee.userId === actor.userId) return { _tag: "NoUser" }
    this.db
      .query(
        "INSERT INTO session_shares (owner_id, session_uid, grantee_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      )
      .run(actor.userId, sessionId, grantee.userId, now())
    const row = this.db
      .query("SELECT created_at FROM session_shares WHERE owner_id = ? AND session_uid = ? AND grantee_id = ?")
      .get(actor.userId, sessionId, grantee.userId) as { created_at: string }
    return {
      _tag: "Shared",
      share: { userId: grantee.userId, email: grantee.email, name: grantee.name, sharedAt: row.created_at },
    }
  }

  unshareSession(actor: Actor, sessionId: string, granteeUserId: number): boolean {
    return (
      this.db
        .query("DELETE FROM session_shares WHERE owner_id = ? AND session_uid = ? AND grantee_id = ?")
        .run(actor.userId, sessionId, granteeUserId).changes > 0
    )
  }

  listShares(actor: Actor, sessionId: string): Api.SessionShare[] | null {
    if (!this.ownsSession(actor, sessionId)) return null
    const rows = this.db
      .query(
        `SELECT ${USER_COLUMNS}, s.created_at FROM session_shares s JOIN users u ON u.id = s.grantee_id LEFT JOIN user_profiles p ON p.user_id = u.id WHERE s.owner_id = ? AND s.session_uid = ? ORDER BY s.id`,
      )
      .all(actor.userId, sessionId) as (UserRow & { created_at: string })[]
    return rows.map((r) => {
      const u = userOf(r)
      return { userId: u.userId, email: u.email, name: u.name, sharedAt: r.created_at }
    })
  }

  sharedSessionOwner(actor: Actor, sessionId: string): number | null {
    const row = this.db
      .query("SELECT owner_id FROM session_shares WHERE grantee_id = ? AND session_uid = ? ORDER BY id LIMIT 1")
      .get(actor.userId, sessionId) as { owner_id: number } | null
    return row?.owner_id ?? null
  }

  listSharedWithMe(actor: Actor): Api.SharedSession[] {
    const rows = this.db
      .query(
        `SELECT sh.session_uid, sh.created_at, ${USER_COLUMNS},
          (SELECT coalesce(s.custom_title, s.ai_title, s.summary_title, s.first_prompt) FROM sessions s
            WHERE s.user_id = sh.owner_id AND s.session_uid = sh.session_uid LIMIT 1) AS title
         FROM session_shares sh JOIN users u ON u.id = sh.owner_id LEFT JOIN user_profiles p ON p.user_id = u.id
         WHERE sh.grantee_id = ? ORDER BY sh.id DESC`,
      )
      .all(actor.userId) as (UserRow & { session_uid: string; created_at: string; title: string | null })[]
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
}

const DAY_MS = 24 * 3600 * 1000
