import { StoreInputError } from "./errors.ts"

/** Opaque keyset cursors for the session list: (last activity, id) of the last row served. */
export interface SessionCursor {
  readonly at: string
  readonly id: number
}

export const encodeCursor = (c: SessionCursor): string =>
  Buffer.from(JSON.stringify([c.at, c.id])).toString("base64url")

export function decodeCursor(s: string): SessionCursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, "base64url").toString("utf8"))
    if (Array.isArray(v) && typeof v[0] === "string" && Number.isInteger(v[1])) return { at: v[0], id: v[1] as number }
  } catch {
    // falls through to the error below
  }
  throw new StoreInputError({ operation: "listSessions", reason: "invalid cursor" })
}
