/**
 * One daemon per home. The pid file alone could not say so: a daemon writes it once it is up (after
 * its embedded server, its scan and its watch), so two `overlord start` at the same moment both
 * found none and both ran, on one SQLite database, and `overlord stop` stopped only the one the pid
 * file named (walkthrough-7). The daemon now holds an exclusive lock on `<home>/daemon.lock` for as
 * long as it runs: SQLite's (`locking_mode=EXCLUSIVE` and an open `BEGIN EXCLUSIVE`), a POSIX record
 * lock on Linux and macOS alike, which the kernel drops when the process ends however it ends (kill -9
 * included), so there is never a stale lock to clean up, unlike a file created with O_EXCL.
 */
import { Database } from "bun:sqlite"
import { join } from "node:path"

/** Held until the process exits: a lock closed early would let a second daemon in. */
let held: Database | null = null

/**
 * Takes this home's daemon lock for the life of the process: false when another process holds it
 * (a daemon running, or one starting at this moment).
 */
export function holdDaemonLock(home: string): boolean {
  if (held) return true
  const db = new Database(join(home, "daemon.lock"), { create: true })
  try {
    db.exec("PRAGMA locking_mode = EXCLUSIVE")
    db.exec("BEGIN EXCLUSIVE")
  } catch {
    db.close()
    return false
  }
  held = db
  return true
}
