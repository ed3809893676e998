/** The scripts qdeploy runs on servers, embedded so a compiled qdeploy carries them. */
import addonScript from "../server/addon.sh" with { type: "text" };
import bootstrapScript from "../server/bootstrap.sh" with { type: "text" };
import factsScript from "../server/facts.sh" with { type: "text" };
import firewallScript from "../server/firewall.sh" with { type: "text" };
import lockScript from "../server/lock.sh" with { type: "text" };
import serveAuthorizeScript from "../server/serve-authorize.sh" with { type: "text" };
import serveFactsScript from "../server/serve-facts.sh" with { type: "text" };
import serveSiteScript from "../server/serve-site.sh" with { type: "text" };
import switchScript from "../server/switch.sh" with { type: "text" };
import uploadScript from "../server/upload.sh" with { type: "text" };
import writeScript from "../server/write.sh" with { type: "text" };

export { addonScript, bootstrapScript, factsScript, firewallScript, lockScript, switchScript };
/** `qdeploy serve --install` (src/serve/install.ts). */
export { serveAuthorizeScript, serveFactsScript, serveSiteScript };
/** Remote.write and Remote.upload over SSH (src/remote/transfer.ts). */
export { uploadScript, writeScript };
