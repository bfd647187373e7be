/**
 * The session files each projects folder has held, per home (`<home>/folder-keys/`): which folder a file
 * the server holds was synced from, so that only a file gone from ITS folder is reported `gone`.
 *
 * File keys are relative to the projects folder and the server's cursors are per machine, not per
 * folder: with two Claude accounts (`CLAUDE_CONFIG_DIR=confA`, then `confB`), every file of confA was
 * "not there" under confB and was marked gone, 54 of 56 sessions in walkthrough-7's reproduction,
 * though intact in confA. A key is recorded when the daemon first tracks its file under a folder, before
 * anything of it is sent, and kept: switching back to confA, a confA file Claude Code deleted meanwhile
 * (its 30-day cleanup) is still reported, and confB's files are not.
 *
 * One file per folder (`<sha256 of the folder's real path>.keys`): its first line the folder, then one
 * key a line, each a JSON string, appended as files are first tracked (a backfill's thousands of new
 * files coalesce into a few appends: O(keys) bytes written in all, where rewriting a whole record per
 * batch would be quadratic). Measured (load 7.5, 10,000 keys): 658 KB, recorded in one burst in 34 ms,
 * loaded at start in 9-10 ms; a new key alone costs one append (~0.09 ms).
 *
 * A home whose daemon synced before this record existed starts with an empty one: a file deleted while
 * that daemon was down, before its first start with the record, is not reported (its lines are kept all
 * the same); every file tracked from then on is.
 */
import { createHash } from "node:crypto"
import { readFileSync, realpathSync } from "node:fs"
import { appendFile, mkdir } from "node:fs/promises"
import { join, resolve } from "node:path"

/** The folder as a name that stays the same however it was reached (a symlinked `~/.claude`, say). */
export const folderIdentity = (folder: string): string => {
  try {
    return realpathSync(folder)
  } catch {
    return resolve(folder)
  }
}

export class FolderKeys {
  private readonly folder: string
  private readonly path: string
  private readonly keys = new Set<string>()
  /** Keys added and not written yet. */
  private pending: string[] = []
  /** The latest write queued: it includes every key added before it started. */
  private saved: Promise<void> = Promise.resolve()
  private writeQueued = false
  /** What the next write starts with: the folder line for a new file, a newline after a cut-off line. */
  private lead: string

  /** `dir`: the home's `folder-keys/`; `projectsDir`: the folder this daemon watches. */
  constructor(
    private readonly dir: string,
    projectsDir: string,
    private readonly warn: (message: string) => void,
  ) {
    this.folder = folderIdentity(projectsDir)
    this.path = join(dir, `${createHash("sha256").update(this.folder).digest("hex")}.keys`)
    let text: string | null = null
    try {
      text = readFileSync(this.path, "utf8")
    } catch {
      // Not recorded yet.
    }
    this.lead = text ? (text.endsWith("\n") ? "" : "\n") : `${JSON.stringify(this.folder)}\n`
    for (const line of (text ?? "").split("\n").slice(1)) {
      try {
        const key = JSON.parse(line) as unknown
        if (typeof key === "string") this.keys.add(key)
      } catch {
        // A line cut off by a crash: its file is recorded again when next tracked.
      }
    }
  }

  /** The file was tracked under this folder at some point. */
  has(fileKey: string): boolean {
    return this.keys.has(fileKey)
  }

  /** A file tracked under this folder: resolves once it is recorded (a failure is a warning). */
  add(fileKey: string): Promise<void> {
    if (this.keys.has(fileKey)) return this.saved
    this.keys.add(fileKey)
    this.pending.push(fileKey)
    if (!this.writeQueued) {
      this.writeQueued = true
      this.saved = this.saved.then(() => this.write())
    }
    return this.saved
  }

  private async write(): Promise<void> {
    this.writeQueued = false
    const keys = this.pending.splice(0)
    if (keys.length === 0) return
    const text = `${this.lead}${keys.map((k) => JSON.stringify(k)).join("\n")}\n`
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 })
      await appendFile(this.path, text, { mode: 0o600 })
      this.lead = ""
    } catch (e) {
      this.warn(`recording the files of ${this.folder} in ${this.path}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
}
