/** What of a laptop's project goes to the sandbox, decided with real git. */
import { mkdir, mkdtemp, realpath, rm, unlink, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { inspectProjectCode } from "../../src/remote/daytona-working-tree.ts"

const gitEnv = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@example.com",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
}

function git(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], { cwd, env: gitEnv, stdout: "pipe", stderr: "pipe" })
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`)
  return r.stdout.toString().trim()
}

describe("inspectProjectCode", () => {
  let root: string
  beforeAll(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), "overlord-working-tree-")))
  })
  afterAll(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it("a subfolder of a repository with a remote: the clone is the whole repository, the run starts in the subfolder", async () => {
    const repo = join(root, "mono")
    await mkdir(join(repo, "pkg"), { recursive: true })
    git(repo, "init", "-q")
    await writeFile(join(repo, "pkg", "a.txt"), "a\n")
    await writeFile(join(repo, "gone.txt"), "to delete\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "c")
    git(repo, "remote", "add", "upstream", "https://example.com/mono.git")
    await unlink(join(repo, "gone.txt"))
    await writeFile(join(repo, "pkg", "new.txt"), "n\n")
    const code = await inspectProjectCode(join(repo, "pkg"))
    if (code.kind !== "git-remote") throw new Error(`expected a git remote, got ${code.kind}`)
    expect(code).toMatchObject({
      remoteUrl: "https://example.com/mono.git",
      root: repo,
      subdir: "pkg",
      untracked: ["pkg/new.txt"],
    })
    expect(code.commit).toBe(git(repo, "rev-parse", "HEAD"))
    // The deleted file travels in the diff; nothing is uploaded for it.
    expect(new TextDecoder().decode(code.diff)).toContain("deleted file mode")
    expect(code.bytes).toBe(code.diff.length + 2)
  })

  it("outside git: every file but .git and node_modules", async () => {
    const dir = join(root, "plain")
    await mkdir(join(dir, "node_modules", "x"), { recursive: true })
    await mkdir(join(dir, "src"), { recursive: true })
    await writeFile(join(dir, "node_modules", "x", "index.js"), "x")
    await writeFile(join(dir, "src", "b.ts"), "bb")
    await writeFile(join(dir, "c.md"), "ccc")
    const code = await inspectProjectCode(dir)
    expect(code.kind).toBe("upload")
    if (code.kind !== "upload") return
    expect([...code.files].sort()).toEqual(["c.md", "src/b.ts"])
    expect(code.bytes).toBe(5)
  })
})
