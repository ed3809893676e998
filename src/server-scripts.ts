/** The scripts qdeploy runs on servers, embedded so a compiled qdeploy carries them. */
import addonScript from "../server/addon.sh" with { type: "text" };
import bootstrapScript from "../server/bootstrap.sh" with { type: "text" };
import factsText from "../server/facts.sh" with { type: "text" };
import firewallScript from "../server/firewall.sh" with { type: "text" };
import lockText from "../server/lock.sh" with { type: "text" };
import serveAuthorizeScript from "../server/serve-authorize.sh" with { type: "text" };
import serveFactsScript from "../server/serve-facts.sh" with { type: "text" };
import serveSiteScript from "../server/serve-site.sh" with { type: "text" };
import switchText from "../server/switch.sh" with { type: "text" };
import uploadScript from "../server/upload.sh" with { type: "text" };
import writeScript from "../server/write.sh" with { type: "text" };
import { layoutShell } from "./server-layout.ts";

/**
 * A script with the layout's paths and unit names in place of its `# @layout` line (the
 * layout is defined once, in src/server-layout.ts). `appsDir`: tests lay apps out elsewhere.
 */
export function withLayout(script: string, appsDir?: string): string {
  const marker = /^# @layout$/m;
  if (!marker.test(script)) throw new Error("withLayout: the script has no `# @layout` line");
  return script.replace(marker, () => layoutShell(appsDir));
}

const factsScript = withLayout(factsText);
const lockScript = withLayout(lockText);
const switchScript = withLayout(switchText);
/** The scripts before the layout goes in (tests lay the apps out in a temp folder). */
export { factsText, lockText, switchText };

export { addonScript, bootstrapScript, factsScript, firewallScript, lockScript, switchScript };
/** `qdeploy serve --install` (src/serve/install.ts). */
export { serveAuthorizeScript, serveFactsScript, serveSiteScript };
/** Remote.write and Remote.upload over SSH (src/remote/transfer.ts). */
export { uploadScript, writeScript };
