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
import { existsSync } from "node:fs"
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
    // A look by `daemonLockHeld` (status, stop) holds it for microseconds: wait that out, not a daemon.
    db.exec("PRAGMA busy_timeout = 1000")
    db.exec("PRAGMA locking_mode = EXCLUSIVE")
    db.exec("BEGIN EXCLUSIVE")
  } catch {
    db.close()
    return false
  }
  held = db
  return true
}

/**
 * Whether a daemon holds this home's lock now (this process, or another); null when no daemon ever took
 * one here (a daemon from before the lock), so that only the pid file can tell. The pid file alone
 * cannot: a daemon killed by SIGKILL, the OOM killer or a power cut leaves it behind, its pid is soon
 * another process's (after a reboot, at once), and `overlord start` then refused ("already running")
 * while `overlord stop` sent SIGTERM to that unrelated process (walkthrough-7).
 */
export function daemonLockHeld(home: string): boolean | null {
  if (held) return true
  const path = join(home, "daemon.lock")
  if (!existsSync(path)) return null
  let db: Database
  try {
    db = new Database(path, { readwrite: true })
  } catch {
    return null
  }
  try {
    // No wait: a daemon holding it would cost every `overlord status` the whole wait, and two looks at
    // once taking each other for a daemon only fall back to the pid file's answer.
    db.exec("BEGIN EXCLUSIVE")
    db.exec("ROLLBACK")
    return false
  } catch {
    return true
  } finally {
    db.close()
  }
}
