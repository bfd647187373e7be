import { existsSync } from "node:fs"
import { rm } from "node:fs/promises"
import { describe, expect, it } from "vitest"
import { chromiumMissing, launchChromium, screenshot } from "../src/browser.ts"

const missing = chromiumMissing()
if (missing) console.warn(`skipping browser tests: ${missing}`)

describe("chromium", () => {
  it.skipIf(missing !== undefined)("launches headless and saves a screenshot into .artifacts/screenshots", async () => {
    const browser = await launchChromium()
    try {
      const page = await browser.newPage()
      await page.setContent("<h1 id='t'>Overlord testkit</h1>")
      expect(await page.textContent("#t")).toBe("Overlord testkit")
      const path = await screenshot(page, "testkit-smoke")
      expect(path).toMatch(/\.artifacts\/screenshots\/testkit-smoke\.png$/)
      expect(existsSync(path)).toBe(true)
      await rm(path)
    } finally {
      await browser.close()
    }
  })
})
