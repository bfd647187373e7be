/**
 * Rows of the account tables as both engines read them (`sqlite/accounts.ts`, `mysql/accounts.ts`),
 * and the rules that need no database: when a link is usable, what a device-code poll answers.
 */
import type { Api } from "@overlord/protocol"
import type { AccountLinkKind, AccountUser, DeviceRequestInfo, DeviceStatus, UserRole } from "./store.ts"

const now = () => new Date().toISOString()

/** A user with their profile (`u`, `p`); users without one (`local`) are members without e-mail. */
export const USER_COLUMNS = "u.id, u.name, p.email, p.display_name, coalesce(p.role, 'member') AS role"

export interface UserRow {
  id: number
  name: string
  email: string | null
  display_name: string | null
  role: UserRole
}

export const userOf = (row: UserRow): AccountUser => ({
  userId: Number(row.id),
  email: row.email,
  name: row.display_name ?? row.name,
  role: row.role,
})

export interface LinkRow {
  id: number
  kind: AccountLinkKind
  token_hash: string
  role: UserRole
  expires_at: string
  used_at: string | null
}

export const linkUsable = (row: LinkRow): boolean => row.used_at === null && row.expires_at > now()

export interface ListedTokenRow {
  id: number
  kind: "api" | "pairing-key"
  label: string | null
  created_at: string
  expires_at: string | null
  single_use: number
  used_at: string | null
  revoked_at: string | null
}

export const listedToken = (r: ListedTokenRow): Api.ApiTokenInfo => ({
  tokenId: Number(r.id),
  kind: r.kind,
  label: r.label,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  singleUse: r.kind === "pairing-key" && Number(r.single_use) === 1,
  usedAt: r.used_at,
  revoked: r.revoked_at !== null,
})

export const DEVICE_COLUMNS =
  "id, device_code_hash, machine_uid, machine_name, status, user_id, expires_at, last_poll_at, delivered_at"

export interface DeviceRow {
  id: number
  device_code_hash: string
  machine_uid: string
  machine_name: string
  status: "pending" | "approved" | "denied"
  user_id: number | null
  expires_at: string
  last_poll_at: string | null
  delivered_at: string | null
}

/** A delivered code is spent: it reads as expired, as does any code past its time. */
export const deviceStatus = (row: DeviceRow): DeviceStatus =>
  row.delivered_at !== null || (row.status === "pending" && row.expires_at <= now()) ? "expired" : row.status

export const deviceInfo = (row: DeviceRow, userCode: string): DeviceRequestInfo => ({
  userCode,
  machineName: row.machine_name,
  status: deviceStatus(row),
  expiresAt: row.expires_at,
})

/** What a poll answers, or `deliver` (approved, not yet delivered: issue the token now). */
export function devicePoll(
  row: DeviceRow,
  minIntervalMs: number,
): "pending" | "slow_down" | "denied" | "expired" | "deliver" {
  const status = deviceStatus(row)
  if (status === "expired" || row.expires_at <= now()) return "expired"
  if (status === "denied") return "denied"
  if (row.last_poll_at !== null && Date.now() - Date.parse(row.last_poll_at) < minIntervalMs) return "slow_down"
  return status === "approved" ? "deliver" : "pending"
}
