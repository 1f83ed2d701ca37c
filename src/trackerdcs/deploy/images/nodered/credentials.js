// Puts the panel's bus login into Node-RED's encrypted credentials file, at every start.
// Node-RED takes credentials only from that file (it substitutes neither environment
// variables nor files there), and a rotated password must take effect on a restart.
// The format is Node-RED's own: {"$": iv_hex + base64(aes-256-ctr(JSON))} with the key
// sha256(credentialSecret).
// usage: node credentials.js CRED_FILE NODE_ID USER PASSWORD_FILE SECRET_FILE
"use strict";
const crypto = require("crypto");
const fs = require("fs");

const [credFile, nodeId, user, passwordFile, secretFile] = process.argv.slice(2);
const read = (f) => fs.readFileSync(f, "utf8").trim();
const key = crypto.createHash("sha256").update(read(secretFile)).digest();

let creds = {};
if (fs.existsSync(credFile)) {
    try {
        const s = JSON.parse(fs.readFileSync(credFile, "utf8"))["$"];
        const d = crypto.createDecipheriv("aes-256-ctr", key, Buffer.from(s.slice(0, 32), "hex"));
        creds = JSON.parse(d.update(s.slice(32), "base64", "utf8") + d.final("utf8"));
    } catch (err) {
        // written with another secret: keep it aside, Node-RED could not read it either
        const aside = credFile + ".unreadable-" + Date.now();
        fs.renameSync(credFile, aside);
        console.error(`credentials: ${credFile} does not decrypt with the current secret ` +
                      `(kept as ${aside}); starting with the bus login only`);
        creds = {};
    }
}
creds[nodeId] = Object.assign({}, creds[nodeId], {user: user, password: read(passwordFile)});
const iv = crypto.randomBytes(16);
const c = crypto.createCipheriv("aes-256-ctr", key, iv);
const out = {"$": iv.toString("hex") + c.update(JSON.stringify(creds), "utf8", "base64") +
                  c.final("base64")};
const tmp = credFile + ".tmp";
fs.writeFileSync(tmp, JSON.stringify(out), {mode: 0o600});
fs.renameSync(tmp, credFile);
console.log(`credentials: bus login of ${nodeId} set for ${user}`);
