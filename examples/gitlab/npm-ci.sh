#!/bin/sh
# Stands in for `npm ci` during a registry outage: prints what npm prints and fails, so the
# example pipelines fail the same way every time, with no network.
cat <<'LOG'
npm warn deprecated inflight@1.0.6: This module is not supported, and leaks memory.
npm ERR! code ECONNRESET
npm ERR! syscall read
npm ERR! errno ECONNRESET
npm ERR! network request to https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz failed, reason: read ECONNRESET
npm ERR! network This is a problem related to network connectivity.
npm ERR! network In most cases you are behind a proxy or have bad network settings.
npm ERR! network
npm ERR! network If you are behind a proxy, please make sure that the
npm ERR! network 'proxy' config is set properly.  See: 'npm help config'

npm ERR! A complete log of this run can be found in: /root/.npm/_logs/2026-11-20T09_14_05_123Z-debug-0.log
LOG
exit 1
