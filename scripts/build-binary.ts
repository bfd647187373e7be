/**
 * Compiles `overlord` into one executable, dist/overlord, that runs on a machine without Bun or
 * Node: the Bun runtime, the CLI, the daemon, both workers and the dashboard are inside it.
 *
 *   npm run build:binary      (bun scripts/build-binary.ts [--out <file>])
 *   npm run install:local     (the same, then --link: `overlord` on PATH through ~/.local/bin)
 *
 * What the bundle (`build-daemon.ts`) writes side by side in apps/overlord/dist/ lives here in the
 * executable's own file system (`/$bunfs/root/` on Linux and macOS):
 * - the CLI is the executable's entry point, and the workers (`embedded-server-worker`,
 *   `sqlite-checkpoint-worker`) are entry points of their own named `<worker>.js`, so the code that
 *   starts them finds `./<worker>.js` beside itself, exactly as in the bundle;
 * - the dashboard (`apps/web/dist`, built first by `build-web.sh`) is embedded as an asset folder,
 *   `dist/` beside the entry points (Bun names an asset given by absolute path after its last
 *   component), and the server is told so at build time through `OVERLORD_WEB_DIR_FROM_MODULE`
 *   (apps/server/src/app.ts), so it serves the dashboard with the same file reads as from a clone.
 */
import { spawnSync } from "node:child_process"
import { existsSync, lstatSync, mkdirSync, readlinkSync, rmSync, statSync, symlinkSync } from "node:fs"
import { homedir } from "node:os"
import { delimiter, dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const REPO = fileURLToPath(new URL("..", import.meta.url))
export const BINARY_PATH = `${REPO}dist/overlord`
const WEB_DIST = `${REPO}apps/web/dist`

export async function buildBinary(outfile = BINARY_PATH): Promise<string> {
  const web = spawnSync("bash", [`${REPO}scripts/build-web.sh`], { stdio: "inherit" })
  if (web.status !== 0 || !existsSync(`${WEB_DIST}/index.html`)) {
    throw new Error(`overlord: the dashboard did not build (scripts/build-web.sh exited ${web.status})`, {
      cause: web.error,
    })
  }
  const out = resolve(outfile)
  mkdirSync(dirname(out), { recursive: true })
  rmSync(out, { force: true })
  const result = await Bun.build({
    entrypoints: [
      `${REPO}apps/overlord/src/bin.ts`,
      `${REPO}apps/overlord/src/embedded-server-worker.ts`,
      `${REPO}packages/store/src/sqlite-checkpoint-worker.ts`,
      `${REPO}apps/server/src/ai-indexer-worker.ts`,
    ],
    target: "bun",
    naming: { entry: "[name].[ext]" },
    // ws loads these optional native speed-ups only if installed; they are not.
    external: ["bufferutil", "utf-8-validate"],
    define: { OVERLORD_WEB_DIR_FROM_MODULE: JSON.stringify("./dist") },
    compile: {
      outfile: out,
      assets: [WEB_DIST],
      // The daemon runs in whatever folder it was started from (a project, a service's home): a
      // .env or bunfig.toml there is the user's, not ours, and must not change how it runs.
      autoloadDotenv: false,
      autoloadBunfig: false,
    },
  })
  if (!result.success) {
    throw new AggregateError(result.logs, "overlord: the executable failed to build")
  }
  if (!existsSync(out) || !(statSync(out).mode & 0o100)) throw new Error(`overlord: no executable at ${out}`)
  return out
}

/**
 * `<dir>/overlord` → the executable, as a symbolic link, so a rebuild updates the command. Replaces
 * a link, never a file someone else put there. Returns what it did, for the user.
 */
export function linkBinary(binary: string, dir = join(homedir(), ".local", "bin")): string[] {
  const link = join(dir, "overlord")
  mkdirSync(dir, { recursive: true })
  const existing = lstatSync(link, { throwIfNoEntry: false })
  if (existing && !existing.isSymbolicLink()) {
    throw new Error(`overlord: ${link} exists and is not a link: remove it, or link by hand with ln -s "${binary}"`)
  }
  if (existing) rmSync(link)
  symlinkSync(binary, link)
  const said = [`linked ${link} -> ${readlinkSync(link)}`]
  const onPath = (process.env.PATH ?? "").split(delimiter).some((d) => d && resolve(d) === resolve(dir))
  said.push(
    onPath
      ? "`overlord` is on your PATH: try `overlord --help`, then `overlord service install` to start it at login"
      : `${dir} is not on your PATH: add it (e.g. echo 'export PATH="${dir}:$PATH"' >> ~/.profile) and open a new shell`,
  )
  return said
}

if (import.meta.main) {
  const arg = (name: string) => {
    const at = process.argv.indexOf(name)
    return at > 0 ? process.argv[at + 1] : undefined
  }
  const started = performance.now()
  const out = await buildBinary(arg("--out"))
  const mb = (statSync(out).size / 1024 ** 2).toFixed(0)
  console.error(`overlord: built ${out} (${mb} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  if (process.argv.includes("--link")) {
    const dir = arg("--link")
    for (const line of linkBinary(out, dir?.startsWith("--") ? undefined : dir)) console.error(`overlord: ${line}`)
  } else {
    console.error(
      `overlord: put it on your PATH with: ln -sf "${out}" ~/.local/bin/overlord (or npm run install:local)`,
    )
  }
}
