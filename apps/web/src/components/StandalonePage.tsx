/**
 * Pages at their own path rather than a `#/` route, because a link printed in a terminal or sent to
 * someone opens them: `/setup/<token>`, `/invite/<token>` (before anyone is signed in) and
 * `/device?code=…` (`overlord login`). They render without the dashboard's shell, which would open
 * the live feed and ask for data the visitor may not be allowed yet.
 */
import type { ReactNode } from "react"
import { linkPage } from "../accounts-api.ts"
import { DeviceApprove } from "./DeviceApprove.tsx"
import { InvitePage } from "./InvitePage.tsx"
import { SetupPage } from "./SetupPage.tsx"

export const standalonePage = (location: { pathname: string; search: string }): ReactNode | null => {
  if (location.pathname === "/device" || location.pathname === "/device/") {
    return <DeviceApprove code={new URLSearchParams(location.search).get("code")} />
  }
  const link = linkPage(location.pathname)
  if (link?.kind === "setup") return <SetupPage token={link.token} />
  if (link?.kind === "invite") return <InvitePage token={link.token} />
  return null
}
