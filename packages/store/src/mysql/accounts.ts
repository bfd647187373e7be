/**
 * Users, tokens and the account directory on MySQL/MariaDB/PlanetScale (`AccountStore`): the same
 * rules as `../sqlite/accounts.ts`, over the same tables; tokens, links and codes are kept as SHA-256
 * hashes only (`../tokens.ts`). Where two servers could race (a link used twice, a device code polled
 * twice) one statement or a `FOR UPDATE` row lock decides.
 */
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
import type { MysqlClient, MysqlQueryable } from "./client.ts"

const now = () => new Date().toISOString()
const DAY_MS = 24 * 3600 * 1000

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

export class MysqlAccounts implements AccountStore {
  constructor(private readonly client: MysqlClient) {}

  async ensureUser(name: string): Promise<number> {
    const find = async () =>
      (await this.client.query<{ id: number }>("SELECT id FROM users WHERE name = ?", [name])).rows[0]?.id
    const found = await find()
    if (found !== undefined) return Number(found)
    // Another server may create the same user at the same moment: theirs is kept.
    await this.client.query("INSERT INTO users (name, created_at) VALUES (?, ?) ON DUPLICATE KEY UPDATE id = id", [
      name,
      now(),
    ])
    const id = await find()
    if (id === undefined) throw new Error(`user ${name} could not be created`)
    return Number(id)
  }

  issueToken(input: IssueToken, on: MysqlQueryable = this.client): Promise<string> {
    return issueTokenOn(on, input)
  }

  private async findToken(plaintext: string, kinds: readonly TokenKind[], on: MysqlQueryable = this.client, lock = "") {
    const hash = hashToken(plaintext)
    const row = (
      await on.query<TokenRow>(
        `SELECT id, user_id, kind, token_hash, machine_uid, expires_at, used_at, revoked_at FROM tokens WHERE token_hash = ?${lock}`,
        [hash],
      )
    ).rows[0]
    if (!row || !tokensEqual(row.token_hash, hash)) return null
    if (!kinds.includes(row.kind) || row.revoked_at) return null
    if (row.expires_at && row.expires_at < now()) return null
    return { ...row, id: Number(row.id), user_id: Number(row.user_id) }
  }

  async verifyToken(plaintext: string, kinds: readonly TokenKind[]): Promise<TokenGrant | null> {
    const row = await this.findToken(plaintext, kinds)
    if (!row || row.used_at) return null
    return { userId: row.user_id, kind: row.kind, machineUid: row.machine_uid }
  }

  async consumeToken(plaintext: string, kind: TokenKind): Promise<TokenGrant | null> {
    const row = await this.findToken(plaintext, [kind])
    if (!row || row.used_at) return null
    // One statement decides which of two concurrent uses wins.
    const used = await this.client.query("UPDATE tokens SET used_at = ? WHERE id = ? AND used_at IS NULL", [
      now(),
      row.id,
    ])
    if (used.affectedRows !== 1) return null
    return { userId: row.user_id, kind: row.kind, machineUid: row.machine_uid }
  }

  // ---- AccountDirectory ---------------------------------------------------------------------------

  private async userWhere(where: string, value: string | number): Promise<AccountUser | null> {
    const row = (
      await this.client.query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users u LEFT JOIN user_profiles p ON p.user_id = u.id WHERE ${where} = ?`,
        [value],
      )
    ).rows[0]
    return row ? userOf(row) : null
  }

  getUser(userId: number): Promise<AccountUser | null> {
    return this.userWhere("u.id", userId)
  }

  async findUserByEmail(email: string): Promise<AccountUser | null> {
    const normal = normalizeEmail(email)
    return normal === null ? null : this.userWhere("p.email", normal)
  }

  async hasAdmin(on: MysqlQueryable = this.client): Promise<boolean> {
    return (await on.query("SELECT 1 AS one FROM user_profiles WHERE role = 'admin' LIMIT 1")).rows.length > 0
  }

  async createAccountLink(input: CreateAccountLink): Promise<{ token: string; expiresAt: string }> {
    const token = newSecret(input.kind === "setup" ? "ovs" : "ovi")
    const expiresAt = new Date(Date.now() + input.ttlMs).toISOString()
    await this.client.query(
      "INSERT INTO account_links (kind, token_hash, created_by, role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      [input.kind, hashToken(token), input.createdBy, input.role, now(), expiresAt],
    )
    return { token, expiresAt }
  }

  private async linkRow(token: string, on: MysqlQueryable = this.client, lock = ""): Promise<LinkRow | null> {
    const hash = hashToken(token)
    const row = (
      await on.query<LinkRow>(
        `SELECT id, kind, token_hash, role, expires_at, used_at FROM account_links WHERE token_hash = ?${lock}`,
        [hash],
      )
    ).rows[0]
    return row && tokensEqual(row.token_hash, hash) ? { ...row, id: Number(row.id) } : null
  }

  async accountLinkStatus(token: string): Promise<{ kind: AccountLinkKind; valid: boolean; expiresAt: string } | null> {
    const row = await this.linkRow(token)
    if (!row) return null
    const valid = linkUsable(row) && (row.kind !== "setup" || !(await this.hasAdmin()))
    return { kind: row.kind, valid, expiresAt: row.expires_at }
  }

  async acceptAccountLink(
    token: string,
    kind: AccountLinkKind,
    email: string,
    name: string,
  ): Promise<AcceptLinkOutcome> {
    const normal = normalizeEmail(email)
    const display = name.trim()
    if (normal === null || display === "") return { _tag: "Invalid" }
    return this.client.transaction(async (tx): Promise<AcceptLinkOutcome> => {
      // The link's row stays locked until commit: a second use waits, then finds it used.
      const row = await this.linkRow(token, tx, " FOR UPDATE")
      if (!row || row.kind !== kind || !linkUsable(row)) return { _tag: "Invalid" }
      if (kind === "setup" && (await this.hasAdmin(tx))) return { _tag: "Invalid" }
      const taken =
        (await tx.query("SELECT 1 AS one FROM user_profiles WHERE email = ?", [normal])).rows.length > 0 ||
        (await tx.query("SELECT 1 AS one FROM users WHERE name = ?", [normal])).rows.length > 0
      if (taken) return { _tag: "EmailTaken" }
      const created = await tx.query("INSERT INTO users (name, created_at) VALUES (?, ?)", [normal, now()])
      const userId = Number(created.insertId)
      await tx.query("INSERT INTO user_profiles (user_id, email, display_name, role) VALUES (?, ?, ?, ?)", [
        userId,
        normal,
        display,
        row.role,
      ])
      await tx.query("UPDATE account_links SET used_at = ?, used_by = ? WHERE id = ?", [now(), userId, row.id])
      return { _tag: "Accepted", user: { userId, email: normal, name: display, role: row.role } }
    })
  }

  async listTokens(actor: Actor): Promise<Api.ApiTokenInfo[]> {
    const rows = await this.client.query<ListedTokenRow>(
      "SELECT t.id, t.kind, l.label, t.created_at, t.expires_at, coalesce(l.single_use, 1) AS single_use, t.used_at, t.revoked_at FROM tokens t LEFT JOIN token_labels l ON l.token_id = t.id WHERE t.user_id = ? AND t.kind IN ('api', 'pairing-key') ORDER BY t.id DESC",
      [actor.userId],
    )
    return rows.rows.map(listedToken)
  }

  async revokeToken(actor: Actor, tokenId: number): Promise<boolean> {
    const done = await this.client.query(
      "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ? AND kind IN ('api', 'pairing-key')",
      [now(), tokenId, actor.userId],
    )
    // MySQL counts changed rows: an already revoked token matches but does not change.
    return done.affectedRows > 0 || (await this.ownsToken(actor, tokenId))
  }

  private async ownsToken(actor: Actor, tokenId: number): Promise<boolean> {
    const found = await this.client.query(
      "SELECT 1 AS one FROM tokens WHERE id = ? AND user_id = ? AND kind IN ('api', 'pairing-key')",
      [tokenId, actor.userId],
    )
    return found.rows.length > 0
  }

  async revokeMachine(actor: Actor, machineUid: string): Promise<boolean> {
    return this.client.transaction(async (tx) => {
      const at = now()
      await tx.query("UPDATE machines SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ? AND machine_uid = ?", [
        at,
        actor.userId,
        machineUid,
      ])
      // Its children (sandboxes) synced with its token go with it (a join: MySQL refuses a subquery
      // on the table an UPDATE writes).
      await tx.query(
        `UPDATE machines c JOIN machine_parents p ON p.machine_id = c.id JOIN machines parent ON parent.id = p.parent_machine_id
         SET c.revoked_at = coalesce(c.revoked_at, ?) WHERE parent.user_id = ? AND parent.machine_uid = ?`,
        [at, actor.userId, machineUid],
      )
      await tx.query(
        "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE user_id = ? AND kind = 'machine' AND machine_uid = ?",
        [at, actor.userId, machineUid],
      )
      const machines = await tx.query("SELECT 1 AS one FROM machines WHERE user_id = ? AND machine_uid = ?", [
        actor.userId,
        machineUid,
      ])
      const tokens = await tx.query(
        "SELECT 1 AS one FROM tokens WHERE user_id = ? AND kind = 'machine' AND machine_uid = ? LIMIT 1",
        [actor.userId, machineUid],
      )
      return machines.rows.length + tokens.rows.length > 0
    })
  }

  async revokedMachines(actor: Actor): Promise<RevokedMachine[]> {
    const rows = await this.client.query<{ machine_uid: string; name: string; last_seen_at: string | null }>(
      "SELECT machine_uid, name, last_seen_at FROM machines WHERE user_id = ? AND revoked_at IS NOT NULL ORDER BY name",
      [actor.userId],
    )
    return rows.rows.map((r) => ({ machineId: r.machine_uid, name: r.name, lastSeenAt: r.last_seen_at }))
  }

  async redeemPairingKey(key: string, machineUid: string): Promise<{ userId: number; token: string } | null> {
    return this.client.transaction(async (tx) => {
      const row = await this.findToken(key, ["pairing-key"], tx, " FOR UPDATE")
      if (!row || row.used_at) return null
      const label = (
        await tx.query<{ single_use: number }>("SELECT single_use FROM token_labels WHERE token_id = ?", [row.id])
      ).rows[0]
      // A multi-use key stays usable until it expires or is revoked.
      if (Number(label?.single_use ?? 1) === 1) {
        await tx.query("UPDATE tokens SET used_at = ? WHERE id = ?", [now(), row.id])
      }
      const token = await issueTokenOn(tx, { userId: row.user_id, kind: "machine", machineUid })
      return { userId: row.user_id, token }
    })
  }

  async createDeviceCode(input: DeviceCodeInput): Promise<{ deviceCode: string; userCode: string; expiresAt: string }> {
    const deviceCode = newSecret("ovd")
    const expiresAt = new Date(Date.now() + input.ttlMs).toISOString()
    // Codes a day past their expiry are of no use to anyone: their user codes become free again.
    await this.client.query("DELETE FROM device_codes WHERE expires_at < ?", [
      new Date(Date.now() - DAY_MS).toISOString(),
    ])
    for (let attempt = 0; ; attempt++) {
      const userCode = newUserCode()
      // The unique key on the user code's hash refuses a collision (1 in 2.6e10 per live code).
      const done = await this.client.query(
        "INSERT IGNORE INTO device_codes (device_code_hash, user_code_hash, machine_uid, machine_name, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        [hashToken(deviceCode), hashToken(userCode), input.machineUid, input.machineName, now(), expiresAt],
      )
      if (done.affectedRows === 1) return { deviceCode, userCode, expiresAt }
      if (attempt >= 5) throw new Error("could not find a free device user code")
    }
  }

  private async deviceByUserCode(
    userCode: string,
    on: MysqlQueryable = this.client,
    lock = "",
  ): Promise<(DeviceRow & { userCode: string }) | null> {
    const code = normalizeUserCode(userCode)
    if (code === null) return null
    const row = (
      await on.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE user_code_hash = ?${lock}`, [
        hashToken(code),
      ])
    ).rows[0]
    return row ? { ...row, id: Number(row.id), userCode: code } : null
  }

  async getDeviceRequest(userCode: string): Promise<DeviceRequestInfo | null> {
    const row = await this.deviceByUserCode(userCode)
    return row ? deviceInfo(row, row.userCode) : null
  }

  async decideDeviceRequest(actor: Actor, userCode: string, approve: boolean): Promise<DeviceRequestInfo | null> {
    return this.client.transaction(async (tx) => {
      const row = await this.deviceByUserCode(userCode, tx, " FOR UPDATE")
      if (!row) return null
      if (deviceStatus(row) !== "pending") return deviceInfo(row, row.userCode)
      const status = approve ? "approved" : "denied"
      await tx.query("UPDATE device_codes SET status = ?, user_id = ? WHERE id = ?", [status, actor.userId, row.id])
      return deviceInfo({ ...row, status, user_id: actor.userId }, row.userCode)
    })
  }

  async pollDeviceCode(deviceCode: string, minIntervalMs: number): Promise<DevicePoll> {
    return this.client.transaction(async (tx): Promise<DevicePoll> => {
      const hash = hashToken(deviceCode)
      const row = (
        await tx.query<DeviceRow>(`SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE device_code_hash = ? FOR UPDATE`, [
          hash,
        ])
      ).rows[0]
      if (!row || !tokensEqual(row.device_code_hash, hash)) return { status: "expired" }
      const at = now()
      await tx.query("UPDATE device_codes SET last_poll_at = ? WHERE id = ?", [at, row.id])
      const decision = devicePoll(row, minIntervalMs)
      if (decision !== "deliver") return { status: decision }
      await tx.query("UPDATE device_codes SET delivered_at = ? WHERE id = ?", [at, row.id])
      const token = await issueTokenOn(tx, {
        userId: Number(row.user_id),
        kind: "machine",
        machineUid: row.machine_uid,
      })
      return { status: "approved", token, machineUid: row.machine_uid }
    })
  }

  private async ownsSession(actor: Actor, sessionId: string): Promise<boolean> {
    const found = await this.client.query(
      "SELECT 1 AS one FROM sessions WHERE user_id = ? AND session_uid = ? LIMIT 1",
      [actor.userId, sessionId],
    )
    return found.rows.length > 0
  }

  async shareSession(actor: Actor, sessionId: string, granteeEmail: string): Promise<ShareOutcome> {
    if (!(await this.ownsSession(actor, sessionId))) return { _tag: "NoSession" }
    const grantee = await this.findUserByEmail(granteeEmail)
    if (!grantee || grantee.userId === actor.userId) return { _tag: "NoUser" }
    await this.client.query(
      "INSERT IGNORE INTO session_shares (owner_id, session_uid, grantee_id, created_at) VALUES (?, ?, ?, ?)",
      [actor.userId, sessionId, grantee.userId, now()],
    )
    const row = (
      await this.client.query<{ created_at: string }>(
        "SELECT created_at FROM session_shares WHERE owner_id = ? AND session_uid = ? AND grantee_id = ?",
        [actor.userId, sessionId, grantee.userId],
      )
    ).rows[0]!
    return {
      _tag: "Shared",
      share: { userId: grantee.userId, email: grantee.email, name: grantee.name, sharedAt: row.created_at },
    }
  }

  async unshareSession(actor: Actor, sessionId: string, granteeUserId: number): Promise<boolean> {
    const done = await this.client.query(
      "DELETE FROM session_shares WHERE owner_id = ? AND session_uid = ? AND grantee_id = ?",
      [actor.userId, sessionId, granteeUserId],
    )
    return done.affectedRows > 0
  }

  async listShares(actor: Actor, sessionId: string): Promise<Api.SessionShare[] | null> {
    if (!(await this.ownsSession(actor, sessionId))) return null
    const rows = await this.client.query<UserRow & { created_at: string }>(
      `SELECT ${USER_COLUMNS}, s.created_at FROM session_shares s JOIN users u ON u.id = s.grantee_id LEFT JOIN user_profiles p ON p.user_id = u.id WHERE s.owner_id = ? AND s.session_uid = ? ORDER BY s.id`,
      [actor.userId, sessionId],
    )
    return rows.rows.map((r) => {
      const u = userOf(r)
      return { userId: u.userId, email: u.email, name: u.name, sharedAt: r.created_at }
    })
  }

  async sharedSessionOwner(actor: Actor, sessionId: string): Promise<number | null> {
    const row = (
      await this.client.query<{ owner_id: number }>(
        "SELECT owner_id FROM session_shares WHERE grantee_id = ? AND session_uid = ? ORDER BY id LIMIT 1",
        [actor.userId, sessionId],
      )
    ).rows[0]
    return row ? Number(row.owner_id) : null
  }

  async listSharedWithMe(actor: Actor): Promise<Api.SharedSession[]> {
    const rows = await this.client.query<UserRow & { session_uid: string; created_at: string; title: string | null }>(
      `SELECT sh.session_uid, sh.created_at, ${USER_COLUMNS},
        (SELECT coalesce(s.custom_title, s.ai_title, s.summary_title, s.first_prompt) FROM sessions s
          WHERE s.user_id = sh.owner_id AND s.session_uid = sh.session_uid LIMIT 1) AS title
       FROM session_shares sh JOIN users u ON u.id = sh.owner_id LEFT JOIN user_profiles p ON p.user_id = u.id
       WHERE sh.grantee_id = ? ORDER BY sh.id DESC`,
      [actor.userId],
    )
    return rows.rows.map((r) => {
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

async function issueTokenOn(on: MysqlQueryable, input: IssueToken): Promise<string> {
  const token = newToken(input.kind)
  const expires = input.ttlMs === undefined ? null : new Date(Date.now() + input.ttlMs).toISOString()
  const inserted = await on.query(
    "INSERT INTO tokens (user_id, kind, token_hash, machine_uid, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    [input.userId, input.kind, hashToken(token), input.machineUid ?? null, now(), expires],
  )
  if (input.label !== undefined || input.kind === "pairing-key") {
    await on.query("INSERT INTO token_labels (token_id, label, single_use) VALUES (?, ?, ?)", [
      Number(inserted.insertId),
      input.label ?? null,
      input.singleUse === false ? 0 : 1,
    ])
  }
  // Pairing a machine again (after a revoke) takes it back into use.
  if (input.kind === "machine" && input.machineUid !== undefined) {
    await on.query("UPDATE machines SET revoked_at = NULL WHERE user_id = ? AND machine_uid = ?", [
      input.userId,
      input.machineUid,
    ])
  }
  return token
}
