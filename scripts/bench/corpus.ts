/**
 * Benchmark corpus from REAL Claude Code session files (see seed.ts), replicated with fresh ids.
 *
 *   bun scripts/bench/corpus.ts <outDir> [--seed 42] [--big 5] [--medium 110] [--small 100] [--projects 100]
 *                                        [--images 6] [--tiny] [--max-files N]   # --tiny: lines > 4 KB dropped
 *
 * `<outDir>` becomes a CLAUDE_CONFIG_DIR: files land in `<outDir>/projects/<project>/<sessionId>.jsonl` (and
 * `<sessionId>/subagents/agent-<id>.jsonl`). Every copy gets a new sessionId (file names and subagent paths
 * too), new agent ids, and every repetition of the turns gets new uuid/parentUuid/promptId (one consistent map
 * per repetition), message.id, requestId and tool_use ids, so usage dedup sees distinct responses. The cwd is
 * rewritten per project. `<outDir>/manifest.json` records files, bytes, lines and sessions for verification.
 * Deterministic for a given seed.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from "node:fs"
import { dirname, join, relative } from "node:path"
import { rng as seededRng } from "@overlord/testkit/random"
import { ensureSeed } from "./seed.ts"

export interface Manifest {
  readonly seed: number
  readonly files: number
  readonly bytes: number
  readonly lines: number
  readonly sessions: number
  readonly projects: number
  readonly imageLines: number
  readonly largestFile: number
  readonly createdAt: string
}

// ---- deterministic randomness -----------------------------------------------------------------
/** The testkit's seeded generator, as a bare function: the corpus is reproducible from its seed. */
const rng = (seed: number) => seededRng(seed).next
type Rand = ReturnType<typeof rng>
const HEX = "0123456789abcdef"
const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const pick = (r: Rand, alphabet: string, n: number) => {
  let out = ""
  for (let i = 0; i < n; i++) out += alphabet[Math.floor(r() * alphabet.length)]
  return out
}
const uuid = (r: Rand) =>
  `${pick(r, HEX, 8)}-${pick(r, HEX, 4)}-4${pick(r, HEX, 3)}-${"89ab"[Math.floor(r() * 4)]}${pick(r, HEX, 3)}-${pick(r, HEX, 12)}`

// ---- seed sessions ------------------------------------------------------------------------------
interface SeedFile {
  readonly rel: string // path below the project folder, with the session id / agent id as in the seed
  readonly lines: string[] // without trailing newline
}
interface SeedSession {
  readonly name: string
  readonly sessionId: string
  readonly projectFolder: string
  readonly cwd: string
  readonly agentIds: string[]
  readonly files: SeedFile[]
}

function walk(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...walk(p))
    else if (e.name.endsWith(".jsonl")) out.push(p)
  }
  return out.sort()
}

function loadSeed(seedDir: string): SeedSession[] {
  const sessions: SeedSession[] = []
  for (const name of readdirSync(seedDir).sort()) {
    const root = join(seedDir, name)
    const [projectFolder] = readdirSync(root)
    if (!projectFolder) continue
    const files = walk(join(root, projectFolder)).map((p) => ({
      rel: relative(join(root, projectFolder), p),
      lines: readFileSync(p, "utf8")
        .split("\n")
        .filter((l) => l.length > 0),
    }))
    const main = files.find((f) => !f.rel.includes("/"))!
    const sessionId = main.rel.replace(/\.jsonl$/, "")
    const agentIds = files.flatMap((f) => /agent-([0-9a-f]+)\.jsonl$/.exec(f.rel)?.slice(1) ?? [])
    const cwd = /"cwd":"([^"]+)"/.exec(main.lines.join("\n"))?.[1] ?? ""
    sessions.push({ name, sessionId, projectFolder, cwd, agentIds, files })
  }
  return sessions
}

// ---- rewriting ---------------------------------------------------------------------------------
const ID_RE =
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|msg_[A-Za-z0-9]+|req_[A-Za-z0-9]+|toolu_[A-Za-z0-9_]+/g

class Rewriter {
  private rep = new Map<string, string>()
  private readonly fixedValues: Set<string>
  constructor(
    private readonly r: Rand,
    private readonly fixed: Map<string, string>, // per copy: session id, agent ids, cwd
    private readonly fixedRe: RegExp,
  ) {
    this.fixedValues = new Set(fixed.values())
  }
  /** New per-repetition ids (uuids other than the session id, message/request/tool ids). */
  nextRepetition(): void {
    this.rep = new Map()
  }
  private fresh(id: string): string {
    if (id.startsWith("msg_")) return `msg_01${pick(this.r, ALNUM, 22)}`
    if (id.startsWith("req_")) return `req_011${pick(this.r, ALNUM, 21)}`
    if (id.startsWith("toolu_")) return `toolu_01${pick(this.r, ALNUM, 22)}`
    return uuid(this.r)
  }
  line(l: string): string {
    const a = l.replace(this.fixedRe, (m) => this.fixed.get(m) ?? m)
    return a.replace(ID_RE, (m) => {
      if (this.fixedValues.has(m)) return m
      let v = this.rep.get(m)
      if (!v) {
        v = this.fresh(m)
        this.rep.set(m, v)
      }
      return v
    })
  }
  fixedValue(k: string): string {
    return this.fixed.get(k) ?? k
  }
}
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** A user tool_result line carrying a ~`bytes` base64 image, built from the seed's image line. */
function bigImageLine(template: string, r: Rand, bytes: number): string {
  const raw = Buffer.alloc(Math.floor((bytes * 3) / 4))
  for (let i = 0; i < raw.length; i += 4)
    raw.writeUInt32LE(Math.floor(r() * 0x100000000), i < raw.length - 3 ? i : raw.length - 4)
  return template.replace(/"data":"[A-Za-z0-9+/=]+"/, `"data":"${raw.toString("base64")}"`)
}

export async function generate(
  outDir: string,
  opts: {
    seed: number
    big: number
    medium: number
    small: number
    projects: number
    images: number
    tiny: boolean
    maxFiles?: number
  },
): Promise<Manifest> {
  const seedSessions = loadSeed(await ensureSeed())
  opts = { ...opts, maxFiles: opts.maxFiles ?? Number.POSITIVE_INFINITY }
  const imageTemplate = seedSessions
    .flatMap((s) => s.files.flatMap((f) => f.lines))
    .find((l) => l.includes('"type":"image"'))
  const r = rng(opts.seed)
  rmSync(join(outDir, "projects"), { recursive: true, force: true })
  mkdirSync(join(outDir, "projects"), { recursive: true })
  let files = 0
  let bytes = 0
  let lines = 0
  let sessions = 0
  let imageLines = 0
  let largestFile = 0
  const baseTime = Date.UTC(2026, 0, 1) / 1000

  // Sizes: big 20–50 MB, medium 2–4 MB, small = the seed session as recorded (or --tiny: trimmed).
  const plan: { target: number; image: number }[] = []
  for (let i = 0; i < opts.big; i++) plan.push({ target: (20 + r() * 30) * 1e6, image: 0 })
  for (let i = 0; i < opts.medium; i++) plan.push({ target: (2 + r() * 2) * 1e6, image: 0 })
  for (let i = 0; i < opts.small; i++) plan.push({ target: 0, image: 0 })
  for (let i = 0; i < opts.images && plan.length > 0; i++)
    plan[Math.floor(r() * Math.min(plan.length, opts.big + opts.medium || plan.length))]!.image += 1

  for (const [n, item] of plan.entries()) {
    if (files >= opts.maxFiles!) break
    let src = seedSessions[Math.floor(r() * seedSessions.length)]!
    // Stop at exactly maxFiles: a session with subagents would overshoot, so take a single-file one.
    if (files + src.files.length > opts.maxFiles!) src = seedSessions.find((s) => s.files.length === 1) ?? src
    const project = Math.floor(r() * opts.projects)
    const cwd = `/home/dev/work/proj-${String(project).padStart(3, "0")}`
    const folder = cwd.replace(/[^a-zA-Z0-9]/g, "-")
    const fixed = new Map<string, string>([[src.sessionId, uuid(r)]])
    for (const a of src.agentIds) fixed.set(a, pick(r, HEX, a.length))
    fixed.set(src.cwd, cwd)
    fixed.set(src.cwd.replace(/\/project$/, "/config"), "/home/dev/.claude")
    fixed.set(src.projectFolder, folder)
    const fixedRe = new RegExp(
      [...fixed.keys()]
        .sort((a, b) => b.length - a.length)
        .map(escapeRe)
        .join("|"),
      "g",
    )
    const rw = new Rewriter(r, fixed, fixedRe)
    sessions += 1
    for (const f of src.files) {
      const isMain = !f.rel.includes("/")
      const rel = f.rel.replace(fixedRe, (m) => fixed.get(m) ?? m)
      const path = join(outDir, "projects", folder, rel)
      mkdirSync(dirname(path), { recursive: true })
      const fd = openSync(path, "w")
      let size = 0
      let buf: string[] = []
      let bufLen = 0
      const emit = (l: string) => {
        buf.push(l, "\n")
        bufLen += l.length + 1
        lines += 1
        if (bufLen > 4e6) flush()
      }
      const flush = () => {
        if (buf.length === 0) return
        size += writeSync(fd, buf.join(""))
        buf = []
        bufLen = 0
      }
      const src_lines = opts.tiny ? f.lines.filter((l) => l.length < 4096) : f.lines
      rw.nextRepetition()
      for (const l of src_lines) emit(rw.line(l))
      flush()
      if (isMain && item.target > 0) {
        // Pad by repeating the conversation (everything after the first two queue lines) with fresh ids.
        const body = src_lines.slice(2)
        let images = item.image
        while (size < item.target) {
          rw.nextRepetition()
          for (const l of body) emit(rw.line(l))
          if (images > 0 && imageTemplate && size > item.target / 3) {
            // The template comes from another seed session: give it this session's id and cwd.
            const img = rw
              .line(bigImageLine(imageTemplate, r, 1_000_000))
              .replace(/"sessionId":"[^"]*"/g, `"sessionId":"${rw.fixedValue(src.sessionId)}"`)
              .replace(/"cwd":"[^"]*"/g, `"cwd":"${cwd}"`)
              .replace(/\/tmp\/overlord-claude-[A-Za-z0-9]+\/project/g, cwd)
            emit(img)
            images -= 1
            imageLines += 1
          }
          flush()
        }
      }
      flush()
      closeSync(fd)
      const t = baseTime + n * 600
      utimesSync(path, t, t)
      files += 1
      bytes += size
      largestFile = Math.max(largestFile, size)
    }
  }
  const manifest: Manifest = {
    seed: opts.seed,
    files,
    bytes,
    lines,
    sessions,
    projects: readdirSync(join(outDir, "projects")).length,
    imageLines,
    largestFile,
    createdAt: new Date().toISOString(),
  }
  writeFileSync(join(outDir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}

export function readManifest(outDir: string): Manifest | null {
  try {
    return JSON.parse(readFileSync(join(outDir, "manifest.json"), "utf8")) as Manifest
  } catch {
    return null
  }
}

export const argValue = (args: string[], name: string, fallback: number): number => {
  const i = args.indexOf(name)
  return i >= 0 && args[i + 1] !== undefined ? Number(args[i + 1]) : fallback
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  const out = args[0]
  if (!out || out.startsWith("--")) {
    console.error(
      "usage: bun scripts/bench/corpus.ts <outDir> [--seed N] [--big N] [--medium N] [--small N] [--projects N] [--images N] [--tiny] [--max-files N]",
    )
    process.exit(2)
  }
  const t0 = performance.now()
  const m = await generate(out, {
    seed: argValue(args, "--seed", 42),
    big: argValue(args, "--big", 5),
    medium: argValue(args, "--medium", 110),
    small: argValue(args, "--small", 100),
    projects: argValue(args, "--projects", 100),
    images: argValue(args, "--images", 6),
    tiny: args.includes("--tiny"),
    maxFiles: argValue(args, "--max-files", Number.POSITIVE_INFINITY),
  })
  console.log(JSON.stringify(m))
  console.error(
    `corpus: ${(m.bytes / 1e6).toFixed(1)} MB, ${m.files} files, ${m.lines} lines in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
  void statSync
}
