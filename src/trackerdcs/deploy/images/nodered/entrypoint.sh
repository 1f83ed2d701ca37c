#!/bin/sh
# The shipped flows are the start: once an operator deploys from the editor, theirs are kept
# (in the data volume) and `deploy kube` does not overwrite them. The bus login is written
# into the encrypted credentials file at every start (a rotated password takes effect).
set -e
S=/run/secrets/trackerdcs
[ -f /data/flows.json ] || cp /etc/trackerdcs/nodered/flows.json /data/flows.json
node /usr/local/lib/trackerdcs/credentials.js /data/flows_cred.json trackerdcs-broker nodered \
     $S/mqtt/nodered.password $S/nodered/credential_secret
exec node /opt/nodered/node_modules/node-red/red.js --userDir /data \
     --settings /etc/trackerdcs/nodered/settings.js
