#!/bin/sh
# The shipped flows are the start: once an operator deploys from the editor, theirs are kept
# (in the data volume) and `deploy kube` does not overwrite them.
set -e
[ -f /data/flows.json ] || cp /etc/trackerdcs/nodered/flows.json /data/flows.json
exec node /opt/nodered/node_modules/node-red/red.js --userDir /data \
     --settings /etc/trackerdcs/nodered/settings.js
