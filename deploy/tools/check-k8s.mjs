// Validates Kubernetes objects against the API schemas of the npm package
// kubernetes-models (offline). Input on stdin: a JSON array of objects (a rendered
// `kubectl kustomize`). Prints one line per object; exits 1 if any is invalid or of a
// kind/apiVersion the package does not know.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const objects = JSON.parse(readFileSync(0, "utf8"));
let bad = 0;
for (const obj of objects) {
  const name = `${obj.kind}/${obj.metadata?.name} (${obj.apiVersion})`;
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  // core kinds live in kubernetes-models/v1, the others in kubernetes-models/<group>/<version>
  const modulePath = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  let Model;
  try {
    Model = require(modulePath)[obj.kind];
  } catch (e) {
    Model = undefined;
  }
  if (!Model) {
    console.log(`UNKNOWN ${name}: no schema in ${modulePath}`);
    bad++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`ok ${name}`);
  } catch (e) {
    console.log(`INVALID ${name}: ${e.message}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
