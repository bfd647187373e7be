/**
 * The device-code pairing of `overlord login` (`device_codes`), written once for every engine
 * (`account-queries.ts` binds it): the rules that need no database (what a code's status reads as, what
 * a poll answers) and the statements. A code is read with a lock and decided or delivered in one
 * transaction; the device and user codes are stored as their SHA-256 only.
 */
import { step } from "./ingest/steps.ts"
import { all, lockIf, now, type Query, type QueryDialect, run } from "./query-dialect.ts"
import type { Actor, DeviceCodeInput, DevicePoll, DeviceRequestInfo, DeviceStatus } from "./store.ts"
import { issueToken } from "./token-queries.ts"
import { hashToken, newSecret, newUserCode, normalizeUserCode, tokensEqual } from "./tokens.ts"

const DAY_MS = 24 * 3600 * 1000
/** Fresh user codes tried before `createDeviceCode` gives up (a collision is 1 in 2.6e10 per live code). */
const USER_CODE_ATTEMPTS = 6

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
  machineUid: row.machine_uid,
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

export function* createDeviceCode(
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

export function* getDeviceRequest(db: QueryDialect, userCode: string): Query<DeviceRequestInfo | null> {
  const row = yield* deviceByUserCode(db, userCode, false)
  return row ? deviceInfo(row, row.userCode) : null
}

export function decideDeviceRequest(
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
      if (approve) {
        // The id is the request's own claim: never let it take over a live machine of the approver (to
        // re-pair that machine, revoke it first; a revoked machine's id pairs again).
        const [paired] = yield* all<{ name: string }>(
          tx,
          "SELECT name FROM machines WHERE user_id = ? AND machine_uid = ? AND revoked_at IS NULL",
          [actor.userId, row.machine_uid],
        )
        if (paired) return { ...deviceInfo(row, row.userCode), pairedMachine: paired.name }
      }
      const status = approve ? "approved" : "denied"
      yield* run(tx, "UPDATE device_codes SET status = ?, user_id = ? WHERE id = ?", [status, actor.userId, row.id])
      return deviceInfo({ ...row, status, user_id: actor.userId }, row.userCode)
    }),
  )
}

export function pollDeviceCode(db: QueryDialect, deviceCode: string, minIntervalMs: number): Query<DevicePoll> {
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
