/**
 * Client for the accounts, pairing and sharing routes (contract: `apps/server/src/http-accounts.ts`,
 * schemas in `@overlord/protocol` `Api`). Reads go through `getJson` (a 401 there tells the whole app);
 * writes send JSON from this origin, so the server's Origin check passes, with the session cookie.
 */
import type { Api } from "@overlord/protocol"
import { getJson, HttpError } from "./api.ts"

/** `GET /machines` answers revoked machines too, marked (`Api.MachineRevocation`). */
export type AccountMachine = Api.Machine & { readonly revoked?: boolean }

const errorMessage = async (res: Response): Promise<string> => {
  try {
    const body = (await res.json()) as Partial<Api.ApiError>
    if (body.error?.message) return body.error.message
  } catch {
    // not JSON: keep the status line
  }
  return `${res.status} ${res.statusText}`
}

/** A JSON request other than GET; resolves to the parsed body, or undefined for 204. */
export const sendJson = async <T>(method: "POST" | "DELETE", path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: "same-origin",
    headers: { accept: "application/json", ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  if (!res.ok) throw new HttpError(res.status, await errorMessage(res))
  if (res.status === 204) return undefined as T
  return (await res.json()) as T
}

const seg = encodeURIComponent

export const accountsApi = {
  me: (signal?: AbortSignal) => getJson<Api.Me>("/me", {}, signal),
  /** Ends this browser's session on the server (the cookie stops working everywhere it was copied). */
  signOut: () => sendJson<void>("POST", "/sign-out"),
  machines: (signal?: AbortSignal) => getJson<{ machines: AccountMachine[] }>("/machines", {}, signal),
  revokeMachine: (machineId: string) => sendJson<void>("POST", `/machines/${seg(machineId)}/revoke`),
  /** 409 (another of your machines has the name) rejects with the server's sentence. */
  renameMachine: (machineId: string, name: string) =>
    sendJson<Api.RenamedMachine>("POST", `/machines/${seg(machineId)}/rename`, { name: name.trim() }),

  tokens: (signal?: AbortSignal) => getJson<Api.TokenList>("/tokens", {}, signal),
  createToken: (label: string) =>
    sendJson<Api.CreatedToken>("POST", "/tokens", label.trim() ? { label: label.trim() } : {}),
  revokeToken: (tokenId: number) => sendJson<void>("POST", `/tokens/${tokenId}/revoke`),

  createInvite: (role: Api.UserRole, ttlMinutes: number) =>
    sendJson<Api.CreatedLink>("POST", "/invites", { role, ttlMinutes }),
  createPairingKey: (input: { singleUse: boolean; ttlMinutes: number; label: string }) =>
    sendJson<Api.CreatedPairingKey>("POST", "/pairing-keys", {
      singleUse: input.singleUse,
      ttlMinutes: input.ttlMinutes,
      ...(input.label.trim() ? { label: input.label.trim() } : {}),
    }),

  linkStatus: (token: string, signal?: AbortSignal) => getJson<Api.LinkStatus>(`/links/${seg(token)}`, {}, signal),
  setup: (req: Api.AcceptLinkRequest) => sendJson<Api.Me>("POST", "/setup", req),
  acceptInvite: (req: Api.AcceptLinkRequest) => sendJson<Api.Me>("POST", "/invites/accept", req),

  deviceRequest: (userCode: string, signal?: AbortSignal) =>
    getJson<Api.DeviceRequest>(`/device/${seg(userCode)}`, {}, signal),
  decideDevice: (userCode: string, decision: "approve" | "deny") =>
    sendJson<Api.DeviceRequest>("POST", `/device/${seg(userCode)}/${decision}`),

  shares: (sessionId: string, signal?: AbortSignal) =>
    getJson<Api.SessionShareList>(`/sessions/${seg(sessionId)}/shares`, {}, signal),
  share: (sessionId: string, email: string) =>
    sendJson<Api.SessionShare>("POST", `/sessions/${seg(sessionId)}/shares`, { email: email.trim() }),
  unshare: (sessionId: string, userId: number) =>
    sendJson<void>("DELETE", `/sessions/${seg(sessionId)}/shares/${userId}`),
  sharedWithMe: (signal?: AbortSignal) => getJson<Api.SharedSessionList>("/shared-sessions", {}, signal),
}

/** A user code as the CLI prints it (`WDJB-MJHT`), normalised the way people retype it. */
export const normalizeUserCode = (raw: string): string => {
  const s = raw.toUpperCase().replace(/[^A-Z0-9]/g, "")
  return s.length === 8 ? `${s.slice(0, 4)}-${s.slice(4)}` : raw.trim().toUpperCase()
}

/** The token in `/setup/<token>` or `/invite/<token>`, or null when the path is not one of them. */
export const linkPage = (pathname: string): { kind: "setup" | "invite"; token: string } | null => {
  const m = /^\/(setup|invite)\/([^/]+)\/?$/.exec(pathname)
  if (!m?.[1] || !m[2]) return null
  try {
    return { kind: m[1] as "setup" | "invite", token: decodeURIComponent(m[2]) }
  } catch {
    return null
  }
}

export { HttpError }
