/** Shell: navigation, sign-in notice, health badge, and the hash-routed pages. */
import { useEffect, useRef, useState } from "react"
import { onUnauthorized } from "../api.ts"
import { hrefWith, navigate, type Route, useRoute } from "../router.ts"
import { AccountPages, accountTabOf } from "./AccountPages.tsx"
import { HealthIndicator } from "./HealthIndicator.tsx"
import { Overview } from "./Overview.tsx"
import { CommandPage, RunPage } from "./RunPage.tsx"
import { SearchPage } from "./SearchPage.tsx"
import { SessionList } from "./SessionList.tsx"
import { SessionView } from "./SessionView.tsx"
import { UsagePage } from "./UsagePage.tsx"

const Page = ({ route }: { route: Route }) => {
  switch (route.name) {
    case "overview":
      return <Overview />
    case "sessions":
      return <SessionList params={route.params} />
    case "session":
      return <SessionView key={route.sessionId} sessionId={route.sessionId} seq={route.seq} />
    case "search":
      return <SearchPage q={route.q} />
    case "usage":
      return <UsagePage params={route.params} />
    case "run":
      return <RunPage params={route.params} />
    case "command":
      return <CommandPage key={route.commandId} commandId={route.commandId} />
    case "account":
      return <AccountPages tab={accountTabOf(route.tab)} />
    case "notFound":
      return <div className="page">Nothing at {route.path}.</div>
  }
}

const NAV = [
  { href: "#/", label: "Overview", match: "overview" },
  { href: "#/sessions", label: "Sessions", match: "sessions" },
  { href: "#/search", label: "Search", match: "search" },
  { href: "#/usage", label: "Usage", match: "usage" },
  { href: "#/run", label: "Run", match: "run" },
  { href: "#/account", label: "Account", match: "account" },
] as const

export const App = () => {
  const route = useRoute()
  const [unauthorized, setUnauthorized] = useState(false)
  const searchRef = useRef<HTMLInputElement>(null)
  useEffect(() => onUnauthorized(() => setUnauthorized(true)), [])
  useEffect(() => {
    // "/" focuses search from anywhere, as in most dashboards.
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null
      if (e.key === "/" && !(t && /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) {
        e.preventDefault()
        searchRef.current?.focus()
      }
    }
    window.addEventListener("keydown", onKey)
    return () => window.removeEventListener("keydown", onKey)
  }, [])
  const active = route.name === "session" ? "sessions" : route.name === "command" ? "run" : route.name
  return (
    <div className="app">
      <nav className="topbar">
        <a className="brand" href="#/">
          Overlord
        </a>
        {NAV.map((n) => (
          <a key={n.href} href={n.href} className={active === n.match ? "active" : ""}>
            {n.label}
          </a>
        ))}
        <form
          className="top-search"
          onSubmit={(e) => {
            e.preventDefault()
            const q = searchRef.current?.value.trim()
            if (q) navigate(hrefWith("/search", { q }))
          }}
        >
          <input ref={searchRef} type="search" placeholder="Search  /" aria-label="Search transcripts" />
        </form>
        <HealthIndicator />
      </nav>
      {unauthorized && (
        <div className="auth-banner" role="alert" data-testid="auth-required">
          Not signed in. Open the link printed by <code>overlord start</code> in this browser.
        </div>
      )}
      <main className="content">
        <Page route={route} />
      </main>
    </div>
  )
}
