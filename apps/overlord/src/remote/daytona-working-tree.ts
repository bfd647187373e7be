/**
 * What of a laptop's project goes into its sandbox: with a git remote, the remote, the commit and the
 * uncommitted changes (a binary diff against HEAD plus the untracked files git does not ignore);
 * without one, the working tree's files (`git ls-files -co --exclude-standard`, so `.gitignore` is
 * honoured; outside git every file but `.git` and `node_modules`).
 */
import { lstat, readdir, realpath } from "node:fs/promises"
import { join, relative } from "node:path"

export type ProjectCode =
  | {
      readonly kind: "git-remote"
      readonly remoteUrl: string
      readonly commit: string
      /** `git diff HEAD --binary`: empty when nothing tracked changed. */
      readonly diff: Uint8Array
      /** Untracked, not ignored files, relative to the project dir. */
      readonly untracked: readonly string[]
      /** Bytes to send: the diff plus the untracked files. */
      readonly bytes: number
      /** The repository's top level on the laptop: the clone's root. */
      readonly root: string
      /** The project dir relative to `root` ("" when they are the same). */
      readonly subdir: string
    }
  | {
      readonly kind: "upload"
      /** Files relative to the project dir. */
      readonly files: readonly string[]
      readonly bytes: number
      /** What `files` are relative to: the repository's top level, or the project dir outside git. */
      readonly root: string
      readonly subdir: string
    }

interface GitResult {
  readonly exitCode: number
  readonly stdout: Uint8Array
  readonly stderr: string
}

async function git(cwd: string, args: readonly string[]): Promise<GitResult> {
  const proc = Bun.spawn(["git", ...args], { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" })
  const [stdout, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).bytes(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { exitCode, stdout, stderr }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b).trim()

/** NUL-separated paths (`-z`), so names with newlines or quotes survive. */
const zPaths = (b: Uint8Array): string[] =>
  new TextDecoder()
    .decode(b)
    .split("\0")
    .filter((p) => p !== "")

/** Sizes of regular files (symlinks and vanished files are skipped: a tracked file deleted on disk is in the diff). */
async function regularFiles(dir: string, paths: readonly string[]): Promise<{ files: string[]; bytes: number }> {
  const files: string[] = []
  let bytes = 0
  for (const p of paths) {
    const st = await lstat(join(dir, p)).catch(() => undefined)
    if (!st?.isFile()) continue
    files.push(p)
    bytes += st.size
  }
  return { files, bytes }
}

/** The remote the sandbox clones: `origin` if there is one, else the first remote. */
async function remoteUrl(dir: string): Promise<string | undefined> {
  const names = text((await git(dir, ["remote"])).stdout)
    .split("\n")
    .filter((n) => n !== "")
  const name = names.includes("origin") ? "origin" : names[0]
  if (name === undefined) return undefined
  const url = await git(dir, ["remote", "get-url", name])
  return url.exitCode === 0 ? text(url.stdout) : undefined
}

export async function inspectProjectCode(projectDir: string): Promise<ProjectCode> {
  const dir = await realpath(projectDir)
  const top = await git(dir, ["rev-parse", "--show-toplevel"])
  if (top.exitCode !== 0) {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true })
    const paths = entries
      .filter((e) => e.isFile())
      .map((e) => relative(dir, join(e.parentPath, e.name)))
      .filter((p) => !p.split("/").some((part) => part === ".git" || part === "node_modules"))
    const { files, bytes } = await regularFiles(dir, paths)
    return { kind: "upload", files, bytes, root: dir, subdir: "" }
  }
  // Git commands run at the top level so every path (diff, ls-files) is relative to the clone's root.
  const root = await realpath(text(top.stdout))
  const subdir = relative(root, dir)
  const head = await git(root, ["rev-parse", "--verify", "-q", "HEAD"])
  const url = head.exitCode === 0 ? await remoteUrl(root) : undefined
  if (url === undefined) {
    const listed = await git(root, ["ls-files", "-co", "--exclude-standard", "-z"])
    const { files, bytes } = await regularFiles(root, zPaths(listed.stdout))
    return { kind: "upload", files, bytes, root, subdir }
  }
  const [diff, others] = await Promise.all([
    git(root, ["diff", "HEAD", "--binary", "--no-color", "--no-ext-diff"]),
    git(root, ["ls-files", "-o", "--exclude-standard", "-z"]),
  ])
  if (diff.exitCode !== 0) throw new Error(`git diff failed in ${root}: ${diff.stderr.trim()}`)
  const untracked = await regularFiles(root, zPaths(others.stdout))
  return {
    kind: "git-remote",
    remoteUrl: url,
    commit: text(head.stdout),
    diff: diff.stdout,
    untracked: untracked.files,
    bytes: diff.stdout.length + untracked.bytes,
    root,
    subdir,
  }
}
