/**
 * The session files each projects folder has held, per home (`<home>/folder-keys.json`): which folder a
 * file the server holds was synced from, so that only a file gone from ITS folder is reported `gone`.
 *
 * File keys are relative to the projects folder and the server's cursors are per machine, not per
 * folder: with two Claude accounts (`CLAUDE_CONFIG_DIR=confA`, then `confB`), every file of confA was
 * "not there" under confB and was marked gone, 54 of 56 sessions in walkthrough-7's reproduction,
 * though intact in confA. A key is recorded when the daemon first tracks its file under a folder, and
 * kept: switching back to confA, a confA file Claude Code deleted meanwhile (its 30-day cleanup) is
 * still reported, and confB's files are not.
 *
 * A home whose daemon synced before this record existed starts with an empty one: a file deleted while
 * that daemon was down, before its first start with the record, is not reported (its lines are kept all
 * the same); every file tracked from then on is. About 80 bytes a file: 800 KB for 10,000 files.
 */
import { realpathSync } from "node:fs"
import { resolve } from "node:path"
import { readJson, writeJson, writeJsonAsync } from "./home.ts"

/** Written at most this long after a new key: a backfill's thousands of new files make a few writes. */
const SAVE_DELAY_MS = 2_000

interface FolderKeysFile {
  readonly version: 1
  /** Projects folder (its real path) → the file keys tracked under it. */
  readonly folders: Record<string, readonly string[]>
}

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
  private readonly others: Record<string, readonly string[]>
  private readonly keys: Set<string>
  private timer: ReturnType<typeof setTimeout> | null = null
  private saving: Promise<void> = Promise.resolve()

  /** `path`: the home's `folder-keys.json`; `projectsDir`: the folder this daemon watches. */
  constructor(
    private readonly path: string,
    projectsDir: string,
    private readonly warn: (message: string) => void,
  ) {
    this.folder = folderIdentity(projectsDir)
    const stored = readJson<FolderKeysFile>(path)
    const folders = stored?.version === 1 && typeof stored.folders === "object" && stored.folders ? stored.folders : {}
    const { [this.folder]: mine, ...others } = folders
    this.others = others
    this.keys = new Set(Array.isArray(mine) ? mine : [])
  }

  /** The file was tracked under this folder at some point. */
  has(fileKey: string): boolean {
    return this.keys.has(fileKey)
  }

  /** A file tracked under this folder: recorded (saved within `SAVE_DELAY_MS`). */
  add(fileKey: string): void {
    if (this.keys.has(fileKey)) return
    this.keys.add(fileKey)
    this.timer ??= setTimeout(() => {
      this.timer = null
      this.saving = this.saving.then(() =>
        writeJsonAsync(this.path, this.contents()).catch((e: unknown) => this.failed(e)),
      )
    }, SAVE_DELAY_MS)
  }

  /** Saves what is not saved yet, now (the daemon stops). */
  flush(): void {
    if (!this.timer) return
    clearTimeout(this.timer)
    this.timer = null
    try {
      writeJson(this.path, this.contents())
    } catch (e) {
      this.failed(e)
    }
  }

  private contents(): FolderKeysFile {
    return { version: 1, folders: { ...this.others, [this.folder]: [...this.keys] } }
  }

  private failed(e: unknown): void {
    this.warn(`saving ${this.path}: ${e instanceof Error ? e.message : String(e)}`)
  }
}
