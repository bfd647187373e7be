/**
 * The project directories remote commands may run in: the `cwd`s this machine's session files name,
 * as the sync engine ships their lines (the line facts carry `cwd`). Kept in
 * `<home>/remote/projects.json` so a restarted daemon knows them before it has re-read anything
 * (a restart ships only new lines).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { dirname, isAbsolute } from "node:path"
import { Schema } from "effect"
import type { Logger } from "../logger.ts"
import { remotePaths } from "./command-runner.ts"

const ProjectsFile = Schema.Struct({ projects: Schema.Array(Schema.String) })
const decode = Schema.decodeUnknownExit(Schema.fromJsonString(ProjectsFile))

export class KnownProjects {
  private readonly projects = new Set<string>()
  private readonly path: string
  private writeTimer: ReturnType<typeof setTimeout> | null = null

  constructor(
    home: string,
    private readonly logger: Logger,
  ) {
    this.path = `${remotePaths(home).dir}/projects.json`
    let text: string | undefined
    try {
      text = readFileSync(this.path, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT")
        logger.warn(`remote: reading ${this.path}: ${String(error)}`)
    }
    if (text !== undefined) {
      const exit = decode(text)
      if (exit._tag === "Success")
        for (const p of exit.value.projects)
          if (isAbsolute(p)) this.projects.add(p)
          else logger.warn(`remote: ${this.path} is not valid; known projects start empty`)
    }
  }

  /** The directories known now (the runner reads it at each command). */
  readonly current = (): ReadonlySet<string> => this.projects

  /** New `cwd`s from shipped lines; written to disk shortly after (one write per burst). */
  add(cwds: Iterable<string>): void {
    let added = false
    for (const cwd of cwds) {
      if (!isAbsolute(cwd) || this.projects.has(cwd)) continue
      this.projects.add(cwd)
      added = true
    }
    if (added && this.writeTimer === null) {
      this.writeTimer = setTimeout(() => this.flush(), 200)
      this.writeTimer.unref?.()
    }
  }

  /** Writes the file now (and at close). */
  flush(): void {
    if (this.writeTimer) clearTimeout(this.writeTimer)
    this.writeTimer = null
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 })
      const tmp = `${this.path}.tmp`
      writeFileSync(tmp, JSON.stringify({ projects: [...this.projects].sort() }), { mode: 0o600 })
      renameSync(tmp, this.path)
    } catch (error) {
      this.logger.warn(`remote: writing ${this.path}: ${String(error)}`)
    }
  }
}
