/**
 * Runs Claude Code for a project in a Daytona sandbox of its own, with the real SDK.
 *
 * One sandbox per project, found by its labels (`overlord: "1"`, `project: <hash of the path>`) or
 * created from the snapshot that has Claude Code (`overlord daytona snapshot`), started if stopped,
 * with auto-stop set every time. The Daytona key and URL and the Anthropic key stay on this machine
 * and in the sandbox: the Anthropic key reaches the sandbox only through the toolbox (an env file
 * the run sources and deletes), never through the control plane.
 *
 * The SDK is large, so it is imported on first use: the idle daemon never loads it.
 */
import { createHash } from "node:crypto"
import { basename, join } from "node:path"
import type * as Sdk from "@daytonaio/sdk"
import { type DaytonaConnection, loadDaytonaSdk, openDaytona } from "./daytona-client.ts"
import { DaytonaSandboxError, type DaytonaStep, toDaytonaError } from "./daytona-errors.ts"
import { inspectProjectCode } from "./daytona-working-tree.ts"

export interface DaytonaSettings extends DaytonaConnection {
  /** Passed into the sandbox for Claude Code; never sent to Daytona's control plane. */
  readonly anthropicApiKey: string
  /** Snapshot the sandboxes are created from (`overlord daytona snapshot` builds it). */
  readonly snapshot: string
  /** Minutes of inactivity after which Daytona stops a sandbox; set on every sandbox. */
  readonly autoStopMinutes: number
  /** Seconds a sandbox may take to reach `started` (create or start). Default 120. */
  readonly startTimeoutSeconds?: number
  /** Most bytes `syncCode` sends (working tree, or diff + untracked files). Default 100 MiB. */
  readonly uploadLimitBytes?: number
  /** More environment for Claude Code in the sandbox (`daytona.json`'s `sandboxEnv`), e.g. ANTHROPIC_BASE_URL. */
  readonly sandboxEnv?: Readonly<Record<string, string>>
}

/** A project's sandbox, as `ensureSandbox` found or made it. */
export interface ProjectSandbox {
  readonly id: string
  readonly name: string
  /** The machine the sandbox's session files are synced under. */
  readonly machineName: string
  /** The sandbox user's home (absolute, in the sandbox). */
  readonly home: string
  /** Where the project's code lives in the sandbox: Claude Code runs here. */
  readonly projectPath: string
}

export interface SandboxSummary {
  readonly id: string
  readonly name: string
  readonly state: string
  /** The project folder's name on the laptop it was made for. */
  readonly projectName: string
  readonly autoStopMinutes: number | undefined
}

export interface CodeSyncResult {
  readonly mode: "clone" | "upload"
  /** Bytes sent from the laptop (diff + untracked files, or the working tree). */
  readonly bytes: number
  /** Where Claude Code should run: the project path, or a subfolder of the clone. */
  readonly cwd: string
}

export interface ClaudeRunRequest {
  readonly prompt: string
  /** Claude Code session id to `--resume`. */
  readonly resume?: string
  readonly model?: string
  /** More environment for `claude` (e.g. ANTHROPIC_BASE_URL); it travels with the Anthropic key. */
  readonly env?: Readonly<Record<string, string>>
  /** Folder to run in (default: the project path; `syncCode` says which). */
  readonly cwd?: string
  /** Claude Code's `--permission-mode`; default: bypass (nobody is there to answer a prompt). */
  readonly permissionMode?: "default" | "acceptEdits" | "plan" | "bypassPermissions"
}

export interface ClaudeRunHandle {
  /** The Daytona session and command, for logs in the Daytona dashboard. */
  readonly sessionId: string
  readonly commandId: string
  /** Claude Code's stdout (stream-json), chunk by chunk as the sandbox writes it. */
  readonly stdout: AsyncIterable<string>
  readonly stderr: AsyncIterable<string>
  /**
   * Resolves once the command ended and both streams are closed: Claude Code's exit code, or null
   * when `cancel` ended the run before the sandbox reported one.
   */
  readonly exitCode: Promise<number | null>
  /** Ends the run: deletes its sandbox session, which ends the processes in it. */
  readonly cancel: () => Promise<void>
}

export interface SessionFile {
  /** Relative to the sandbox's `~/.claude/projects` (the sync protocol's file key). */
  readonly relativePath: string
  readonly bytes: Uint8Array
}

export interface SandboxSessionFiles {
  readonly machineName: string
  readonly files: readonly SessionFile[]
}

/** Names tried for a project's sandbox when Daytona holds the earlier ones (see `ensureSandbox`). */
export const NAME_TRIES = 9

const DEFAULT_START_TIMEOUT_SECONDS = 120
const DEFAULT_UPLOAD_LIMIT = 100 * 1024 * 1024
/** Files per bulk upload: bounds one multipart request (the SDK streams each file from disk). */
const UPLOAD_BATCH = 200
/** Daytona's auto-stop ignores running processes, so a long run touches the sandbox this often. */
const KEEP_ALIVE_MS = 60_000

/** States from which a sandbox reaches `started` by itself: wait instead of asking it to start. */
const ON_ITS_WAY_UP: ReadonlySet<string> = new Set([
  "creating",
  "starting",
  "restoring",
  "resuming",
  "pending_build",
  "building_snapshot",
  "pulling_snapshot",
])

const OVERLORD_LABEL = "overlord"
const PROJECT_LABEL = "project"
const PROJECT_NAME_LABEL = "project-name"

/** Single-quoted for sh. */
const sh = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`

/** A stable, path-free identity for a project folder (the label value). */
export const projectHash = (projectDir: string): string =>
  createHash("sha256").update(projectDir).digest("hex").slice(0, 16)

const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40) || "project"

export const machineNameFor = (sandboxName: string): string => `daytona-${sandboxName}`

/** A push-fed async iterable: the SDK's log callbacks push, the runner iterates. */
class ChunkQueue implements AsyncIterable<string> {
  private readonly chunks: string[] = []
  private waiting: ((r: IteratorResult<string>) => void) | undefined
  private closed = false
  push(chunk: string) {
    if (this.waiting) {
      const w = this.waiting
      this.waiting = undefined
      w({ value: chunk, done: false })
    } else this.chunks.push(chunk)
  }
  close() {
    this.closed = true
    if (this.waiting) {
      const w = this.waiting
      this.waiting = undefined
      w({ value: undefined, done: true })
    }
  }
  [Symbol.asyncIterator](): AsyncIterator<string> {
    return {
      next: () => {
        const chunk = this.chunks.shift()
        if (chunk !== undefined) return Promise.resolve({ value: chunk, done: false })
        if (this.closed) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => {
          this.waiting = resolve
        })
      },
    }
  }
}

export class DaytonaSandboxes {
  private client: Promise<Sdk.Daytona> | undefined
  private readonly handles = new Map<string, Sdk.Sandbox>()
  private readonly startTimeoutSeconds: number
  private readonly uploadLimitBytes: number

  constructor(private readonly settings: DaytonaSettings) {
    this.startTimeoutSeconds = settings.startTimeoutSeconds ?? DEFAULT_START_TIMEOUT_SECONDS
    this.uploadLimitBytes = settings.uploadLimitBytes ?? DEFAULT_UPLOAD_LIMIT
  }

  private daytona(): Promise<Sdk.Daytona> {
    this.client ??= openDaytona(this.settings)
    return this.client
  }

  /** Runs `f`, turning what the SDK throws into a `DaytonaSandboxError` for `step`. */
  private async step<T>(step: DaytonaStep, what: string | undefined, f: () => Promise<T>): Promise<T> {
    try {
      return await f()
    } catch (e) {
      throw toDaytonaError(await loadDaytonaSdk(), step, e, {
        apiUrl: this.settings.apiUrl,
        startTimeoutSeconds: this.startTimeoutSeconds,
        ...(what ? { what } : {}),
      })
    }
  }

  /** The SDK's handle for a sandbox `ensureSandbox` returned (here, or in an earlier process). */
  private async sandbox(ref: ProjectSandbox): Promise<Sdk.Sandbox> {
    const known = this.handles.get(ref.id)
    if (known) return known
    const daytona = await this.daytona()
    const s = await this.step("find", `sandbox ${ref.name}`, () => daytona.get(ref.id))
    this.handles.set(s.id, s)
    return s
  }

  /** Finds the project's sandbox by its labels, or creates it; starts it if needed; sets auto-stop. */
  async ensureSandbox(projectDir: string): Promise<ProjectSandbox> {
    const daytona = await this.daytona()
    const hash = projectHash(projectDir)
    const projectName = slug(basename(projectDir))
    const labels = { [OVERLORD_LABEL]: "1", [PROJECT_LABEL]: hash }
    const what = `the sandbox for ${basename(projectDir)}`
    const find = () =>
      this.step("find", what, async () => {
        for await (const s of daytona.list({ labels }))
          if (s.state !== "destroyed" && s.state !== "destroying") return s
        return undefined
      })
    let sandbox = await find()
    if (!sandbox) {
      const sdk = await loadDaytonaSdk()
      const create = (name: string) => this.create(daytona, sdk, { name, labels, projectName, what, find })
      // Daytona keeps sandbox names unique per organization (a taken one is a 409). The name is
      // deterministic, so two runs racing to create the project's sandbox get one sandbox: the
      // loser's create is a 409, and it takes the winner's. A 409 with no sandbox of ours listed means
      // something else holds the name: a sandbox that lost our labels, or the project's removed sandbox
      // if Daytona keeps a destroyed sandbox's name (its table has a unique (organizationId, name); not
      // verified against the service). Then `<name>-2`, `-3`, … up to `-${NAME_TRIES}`, labelled the
      // same, so the next run finds it by its labels, a project removed again and again still gets a
      // sandbox, and racing retries still meet on one name (they walk the same series).
      const name = `overlord-${projectName}-${hash.slice(0, 8)}`
      let made = await create(name)
      for (let n = 2; "taken" in made && n <= NAME_TRIES; n++) made = await create(`${name}-${n}`)
      if ("taken" in made)
        throw new DaytonaSandboxError(
          "daytona",
          `Daytona refused to create ${what} (409): the names ${name} to ${name}-${NAME_TRIES} are taken, yet no sandbox labelled for this project is listed. Delete or rename the sandboxes with those names in the Daytona dashboard, then run the command again; if none is left, Daytona still holds removed sandboxes' names, and the project in another folder gets new ones.`,
          { cause: made.taken },
        )
      sandbox = made.sandbox
    }
    if (sandbox.state !== "started") {
      const s = sandbox
      await this.step("start", what, () =>
        s.state !== undefined && ON_ITS_WAY_UP.has(s.state)
          ? s.waitUntilStarted(this.startTimeoutSeconds)
          : s.start(this.startTimeoutSeconds),
      )
    }
    const s = sandbox
    // Also on a reused sandbox: the setting may have changed since it was made.
    await this.step("sandbox", what, () => s.setAutostopInterval(this.settings.autoStopMinutes))
    const home = await this.step("sandbox", what, async () => (await s.getUserHomeDir()) ?? "/home/daytona")
    this.handles.set(s.id, s)
    return {
      id: s.id,
      name: s.name,
      machineName: machineNameFor(s.name),
      home,
      projectPath: `${home}/${projectName}`,
    }
  }

  /**
   * Creates the project's sandbox under `name`. On a 409 (name taken) it takes the project's sandbox
   * if one is now listed (a concurrent run made it), else answers `taken` with the conflict.
   */
  private async create(
    daytona: Sdk.Daytona,
    sdk: typeof Sdk,
    o: {
      readonly name: string
      readonly labels: Readonly<Record<string, string>>
      readonly projectName: string
      readonly what: string
      readonly find: () => Promise<Sdk.Sandbox | undefined>
    },
  ): Promise<{ readonly sandbox: Sdk.Sandbox } | { readonly taken: unknown }> {
    try {
      const sandbox = await daytona.create(
        {
          name: o.name,
          snapshot: this.settings.snapshot,
          labels: { ...o.labels, [PROJECT_NAME_LABEL]: o.projectName },
          autoStopInterval: this.settings.autoStopMinutes,
        },
        { timeout: this.startTimeoutSeconds },
      )
      return { sandbox }
    } catch (e) {
      if (e instanceof sdk.DaytonaConflictError) {
        const winner = await o.find()
        return winner ? { sandbox: winner } : { taken: e }
      }
      // Daytona answers a missing snapshot with a 400 whose text sends the user to its dashboard;
      // asking for the snapshot tells that case apart (a 404), and Overlord builds it itself.
      if (e instanceof sdk.DaytonaBadRequestError && (await this.snapshotMissing(daytona, sdk)))
        throw new DaytonaSandboxError(
          "not-found",
          `Daytona has no snapshot "${this.settings.snapshot}" (404) to create ${o.what} from: build it with \`overlord daytona snapshot\`, or name an existing one as "snapshot" in daytona.json.`,
          { cause: e },
        )
      throw toDaytonaError(sdk, "create", e, {
        apiUrl: this.settings.apiUrl,
        startTimeoutSeconds: this.startTimeoutSeconds,
        what: o.what,
      })
    }
  }

  /** Whether Daytona answers 404 for the configured snapshot (any other answer: not known to be missing). */
  private async snapshotMissing(daytona: Sdk.Daytona, sdk: typeof Sdk): Promise<boolean> {
    return daytona.snapshot.get(this.settings.snapshot).then(
      () => false,
      (e: unknown) => e instanceof sdk.DaytonaNotFoundError,
    )
  }

  /** Runs a shell command in the sandbox; a non-zero exit is an error naming `purpose`. */
  private async exec(s: Sdk.Sandbox, command: string, purpose: string, cwd?: string): Promise<string> {
    const res = await this.step("sandbox", undefined, () => s.process.executeCommand(command, cwd))
    if (res.exitCode !== 0)
      throw new DaytonaSandboxError(
        "daytona",
        `${purpose} failed in the sandbox (exit ${res.exitCode}): ${res.result.trim()}`,
      )
    return res.result
  }

  private async upload(s: Sdk.Sandbox, files: readonly Sdk.FileUpload[]): Promise<void> {
    for (let i = 0; i < files.length; i += UPLOAD_BATCH)
      await this.step("sandbox", undefined, () => s.fs.uploadFiles(files.slice(i, i + UPLOAD_BATCH)))
  }

  /**
   * Puts the project's code into the sandbox at `projectPath`, replacing what was there: a clone of
   * the git remote at the laptop's commit with the uncommitted changes applied, or an upload of the
   * working tree when there is no remote. Records the result as the base `pullPatch` diffs against.
   */
  async syncCode(ref: ProjectSandbox, projectDir: string): Promise<CodeSyncResult> {
    const s = await this.sandbox(ref)
    const code = await inspectProjectCode(projectDir)
    if (code.bytes > this.uploadLimitBytes) {
      const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`
      throw new DaytonaSandboxError(
        "too-large",
        code.kind === "upload"
          ? `The working tree of ${projectDir} is ${mib(code.bytes)}, over the ${mib(this.uploadLimitBytes)} upload limit: add a git remote (and push), or list large files in .gitignore.`
          : `The uncommitted changes of ${projectDir} are ${mib(code.bytes)}, over the ${mib(this.uploadLimitBytes)} upload limit: commit and push them first.`,
      )
    }
    const dest = ref.projectPath
    const stash = `${ref.home}/.overlord`
    await this.exec(s, `rm -rf -- ${sh(dest)} && mkdir -p -- ${sh(stash)}`, "clearing the project folder")
    if (code.kind === "git-remote") {
      await this.step("clone", `${code.remoteUrl} at ${code.commit.slice(0, 12)}`, () =>
        s.git.clone(code.remoteUrl, dest, undefined, code.commit),
      )
      const uploads: Sdk.FileUpload[] = code.untracked.map((p) => ({
        source: join(code.root, p),
        destination: `${dest}/${p}`,
      }))
      if (code.diff.length > 0) uploads.push({ source: Buffer.from(code.diff), destination: `${stash}/sync.patch` })
      await this.upload(s, uploads)
      if (code.diff.length > 0)
        await this.exec(
          s,
          `git apply --binary --whitespace=nowarn ${sh(`${stash}/sync.patch`)} && rm -f ${sh(`${stash}/sync.patch`)}`,
          "applying the uncommitted changes",
          dest,
        )
    } else {
      await this.upload(
        s,
        code.files.map((p) => ({ source: join(code.root, p), destination: `${dest}/${p}` })),
      )
      await this.exec(
        s,
        `mkdir -p -- ${sh(dest)} && cd ${sh(dest)} && git init -q`,
        "creating a git repository",
        undefined,
      )
    }
    // The base for pullPatch: the tree as the laptop has it. A ref to a tree, not a commit, so the
    // sandbox's history and uncommitted changes look exactly like the laptop's.
    await this.exec(
      s,
      `git add -A && git update-ref refs/overlord/base "$(git write-tree)" && { git reset -q 2>/dev/null || git rm -r -q --cached . >/dev/null; }`,
      "recording the synced tree",
      dest,
    )
    return {
      mode: code.kind === "git-remote" ? "clone" : "upload",
      bytes: code.bytes,
      cwd: code.subdir ? `${dest}/${code.subdir}` : dest,
    }
  }

  /**
   * Starts `claude -p` in a sandbox session (`runAsync`) and streams its stdout and stderr apart over
   * the SDK's log stream. The Anthropic key and `env` go in a file the command sources and deletes.
   */
  async runClaude(ref: ProjectSandbox, request: ClaudeRunRequest): Promise<ClaudeRunHandle> {
    const s = await this.sandbox(ref)
    const sessionId = `overlord-${crypto.randomUUID()}`
    const envFile = `${ref.home}/.overlord/${sessionId}.env`
    const env: Record<string, string> = {
      // Claude Code refuses --dangerously-skip-permissions as root unless it knows it is sandboxed.
      IS_SANDBOX: "1",
      DISABLE_AUTOUPDATER: "1",
      ...request.env,
      ANTHROPIC_API_KEY: this.settings.anthropicApiKey,
    }
    const envText = Object.entries(env)
      .map(([k, v]) => `export ${k}=${sh(v)}\n`)
      .join("")
    await this.step("sandbox", undefined, () => s.fs.uploadFile(Buffer.from(envText), envFile))
    const argv = [
      "claude",
      "-p",
      request.prompt,
      "--output-format",
      "stream-json",
      "--verbose",
      ...(request.permissionMode && request.permissionMode !== "bypassPermissions"
        ? ["--permission-mode", request.permissionMode]
        : ["--dangerously-skip-permissions"]),
      ...(request.resume ? ["--resume", request.resume] : []),
      ...(request.model ? ["--model", request.model] : []),
    ]
    // The env file is removed whatever happens next, so the key does not stay on the sandbox's disk.
    const command = `. ${sh(envFile)}; rm -f ${sh(envFile)}; cd ${sh(request.cwd ?? ref.projectPath)} && exec ${argv.map(sh).join(" ")} </dev/null`
    await this.step("sandbox", undefined, () => s.process.createSession(sessionId))
    const started = await this.step("sandbox", undefined, () =>
      s.process.executeSessionCommand(sessionId, { command, runAsync: true }),
    )
    const commandId = started.cmdId
    const stdout = new ChunkQueue()
    const stderr = new ChunkQueue()
    const keepAlive = setInterval(() => void s.refreshActivity().catch(() => {}), KEEP_ALIVE_MS)
    let cancelled: (() => void) | undefined
    const cancelledP = new Promise<"cancelled">((resolve) => {
      cancelled = () => resolve("cancelled")
    })
    const exitCode = (async (): Promise<number | null> => {
      try {
        const logs = this.step("sandbox", undefined, () =>
          s.process.getSessionCommandLogs(
            sessionId,
            commandId,
            (c) => stdout.push(c),
            (c) => stderr.push(c),
          ),
        )
        // A cancelled session may never close its log stream cleanly: stop waiting for it.
        if ((await Promise.race([logs, cancelledP])) === "cancelled") {
          logs.catch(() => {})
          return null
        }
        // The stream closes when the exit code is written; read it (a few tries if it lags).
        for (let attempt = 0; ; attempt++) {
          const cmd = await this.step("sandbox", undefined, () => s.process.getSessionCommand(sessionId, commandId))
          if (cmd.exitCode !== undefined && cmd.exitCode !== null) return cmd.exitCode
          if (attempt >= 50)
            throw new DaytonaSandboxError("daytona", "the sandbox did not report Claude Code's exit code")
          await Bun.sleep(100)
        }
      } finally {
        clearInterval(keepAlive)
        stdout.close()
        stderr.close()
        await s.process.deleteSession(sessionId).catch(() => {})
      }
    })()
    // The caller may only ever await `cancel`; a failure is still theirs to see through `exitCode`.
    exitCode.catch(() => {})
    const cancel = async () => {
      cancelled?.()
      await this.step("sandbox", undefined, () => s.process.deleteSession(sessionId)).catch((e: unknown) => {
        // Already gone (the run ended and cleaned up): nothing to cancel.
        if (!(e instanceof DaytonaSandboxError && e.reason === "not-found")) throw e
      })
    }
    return { sessionId, commandId, stdout, stderr, exitCode, cancel }
  }

  /** Every session file under the sandbox's `~/.claude/projects`, with the machine to sync them under. */
  async downloadSessionFiles(ref: ProjectSandbox): Promise<SandboxSessionFiles> {
    const s = await this.sandbox(ref)
    const projects = `${ref.home}/.claude/projects`
    const listing = await this.exec(
      s,
      `if [ -d ${sh(projects)} ]; then cd ${sh(projects)} && find . -type f -name '*.jsonl'; fi`,
      "listing session files",
    )
    const relativePaths = listing
      .split("\n")
      .map((l) => l.trim().replace(/^\.\//, ""))
      .filter((l) => l.endsWith(".jsonl"))
    if (relativePaths.length === 0) return { machineName: ref.machineName, files: [] }
    const downloaded = await this.step("sandbox", undefined, () =>
      s.fs.downloadFiles(relativePaths.map((p) => ({ source: `${projects}/${p}` }))),
    )
    const files: SessionFile[] = []
    for (const [i, d] of downloaded.entries()) {
      // A file listed and gone before the download (Claude Code never deletes live ones) is skipped.
      if (d.error || d.result === undefined) continue
      const bytes = typeof d.result === "string" ? new TextEncoder().encode(d.result) : new Uint8Array(d.result)
      files.push({ relativePath: relativePaths[i]!, bytes })
    }
    return { machineName: ref.machineName, files }
  }

  /** The sandbox's changes since `syncCode` as a binary git patch (`git apply` it on the laptop). */
  async pullPatch(ref: ProjectSandbox): Promise<Uint8Array> {
    const s = await this.sandbox(ref)
    const patch = `${ref.home}/.overlord/pull.patch`
    await this.exec(
      s,
      `git add -A && git diff --cached --binary --no-color refs/overlord/base > ${sh(patch)}; status=$?; git reset -q 2>/dev/null || git rm -r -q --cached . >/dev/null; exit $status`,
      "computing the patch",
      ref.projectPath,
    )
    const bytes = await this.step("sandbox", undefined, () => s.fs.downloadFile(patch))
    return new Uint8Array(bytes)
  }

  /** Overlord's sandboxes (label `overlord: "1"`), all projects. */
  async list(): Promise<SandboxSummary[]> {
    const daytona = await this.daytona()
    return this.step("find", undefined, async () => {
      const out: SandboxSummary[] = []
      for await (const s of daytona.list({ labels: { [OVERLORD_LABEL]: "1" } }))
        out.push({
          id: s.id,
          name: s.name,
          state: s.state ?? "unknown",
          projectName: s.labels[PROJECT_NAME_LABEL] ?? "",
          autoStopMinutes: s.autoStopInterval,
        })
      return out
    })
  }

  /** One of Overlord's sandboxes by id or name; others are not ours to stop or remove. */
  private async ours(idOrName: string): Promise<Sdk.Sandbox> {
    const daytona = await this.daytona()
    const s = await this.step("find", `sandbox ${idOrName}`, () => daytona.get(idOrName))
    if (s.labels[OVERLORD_LABEL] !== "1")
      throw new DaytonaSandboxError("not-found", `Sandbox ${idOrName} was not made by Overlord; manage it in Daytona.`)
    return s
  }

  async stop(idOrName: string): Promise<void> {
    const s = await this.ours(idOrName)
    if (s.state === "stopped" || s.state === "archived") return
    await this.step("sandbox", `sandbox ${idOrName}`, () => s.stop(this.startTimeoutSeconds))
  }

  async remove(idOrName: string): Promise<void> {
    const s = await this.ours(idOrName)
    await this.step("sandbox", `sandbox ${idOrName}`, () => s.delete(this.startTimeoutSeconds))
    this.handles.delete(s.id)
  }
}
