import { existsSync } from "node:fs"
import { mkdir } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"

// Re-exported so tests in packages without their own playwright-core dependency can type their code.
export type { Browser, BrowserContext, Download, Locator, Page, WebSocketRoute } from "playwright-core"

/** Debian's chromium; playwright-core ships no browser of its own. */
export const CHROMIUM_PATH = process.env.OVERLORD_CHROMIUM ?? "/usr/bin/chromium"

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
] as const

export const chromiumAvailable = (): boolean => existsSync(CHROMIUM_PATH)

/** Why browser tests are skipped, or undefined when chromium is there. Use with `it.skipIf(chromiumMissing())`. */
export const chromiumMissing = (): string | undefined =>
  chromiumAvailable()
    ? undefined
    : `chromium not found at ${CHROMIUM_PATH}: run \`apt-get install -y chromium\` or set OVERLORD_CHROMIUM`

export async function launchChromium(): Promise<Browser> {
  const missing = chromiumMissing()
  if (missing) throw new Error(missing)
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] })
}

/** `<repo>/.artifacts/screenshots` (git-ignored), where screenshots from any package's tests are collected. */
export const screenshotDir = (): string =>
  join(fileURLToPath(new URL("../../../", import.meta.url)), ".artifacts", "screenshots")

/** Saves a full-page PNG as `<name>.png` and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  const dir = screenshotDir()
  await mkdir(dir, { recursive: true })
  const path = join(dir, `${name.replace(/[^a-zA-Z0-9._-]/g, "_")}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}
