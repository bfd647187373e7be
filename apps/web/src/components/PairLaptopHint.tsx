/**
 * What a dashboard with nothing synced yet tells its reader to do. On a team's `overlord serve` a laptop
 * syncs only after `overlord login <this server>`: the old hint ("Run `overlord start` on a laptop")
 * sent it to its own embedded server instead (found in the walkthrough). Pairing keys are left out:
 * only admins can make them, and members read this too.
 */
export const PairLaptopHint = () => (
  <span data-testid="pair-laptop-hint">
    On each laptop: <code>overlord login {window.location.origin}</code> (it shows a code to approve here), then{" "}
    <code>overlord start</code>.
  </span>
)
