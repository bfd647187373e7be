/** Which `StoreError` a bun:sqlite failure is, by its (extended) result code, never by its message. */
import { StoreConflictError, type StoreError, StoreQueryError, StoreUnavailableError } from "../errors.ts"

/** The database cannot be read or written now: a full or failing disk, a file it cannot open. */
const UNAVAILABLE = [
  "SQLITE_IOERR",
  "SQLITE_FULL",
  "SQLITE_CANTOPEN",
  "SQLITE_READONLY",
  "SQLITE_NOMEM",
  "SQLITE_PROTOCOL",
]
/** Another connection holds the lock past `busy_timeout`, or a row it wrote is in the way. */
const CONFLICT = ["SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CONSTRAINT"]

/** Node's file errors (the line log) that say the disk cannot take it now. */
const DISK = ["ENOSPC", "EIO", "EDQUOT", "EROFS", "EMFILE", "ENFILE"]

const codeOf = (cause: unknown): string | null => {
  const code = (cause as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : null
}
const isOf = (code: string, families: readonly string[]) => families.some((f) => code === f || code.startsWith(`${f}_`))

export function sqliteErrorOf(operation: string, cause: unknown): StoreError {
  const code = codeOf(cause)
  if (code !== null && DISK.includes(code)) {
    return new StoreUnavailableError({ operation, cause })
  }
  if (code !== null && isOf(code, UNAVAILABLE)) return new StoreUnavailableError({ operation, cause })
  if (code !== null && isOf(code, CONFLICT)) return new StoreConflictError({ operation, cause })
  return new StoreQueryError({ operation, cause })
}
