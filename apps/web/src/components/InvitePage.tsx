/** The invitee's landing page, `/invite/<token>`: the same form as setup, accepted as an invite. */
import { LinkSignupPage } from "./SetupPage.tsx"

export const InvitePage = ({ token }: { token: string }) => <LinkSignupPage kind="invite" token={token} />
