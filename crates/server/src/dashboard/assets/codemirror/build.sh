#!/bin/sh
# Rebuilds codemirror.min.js (and the licence files beside it) from npm, at development time
# only: the binary embeds the result and no Node runs at run time. Needs node and npm.
#   sh crates/server/src/dashboard/assets/codemirror/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/entry.mjs" "$work/"
cd "$work"
npm install --no-audit --no-fund --ignore-scripts >/dev/null
# esbuild's own binary comes from its platform package; --ignore-scripts skips only its check.
node_modules/.bin/esbuild entry.mjs --bundle --format=esm --minify --legal-comments=none \
  --target=es2020 --metafile=meta.json --outfile="$here/codemirror.min.js"
# The licence of every package that went into the bundle, beside it.
rm -f "$here"/LICENSE-*
node -e '
  const meta = require("./meta.json"), fs = require("fs"), path = require("path");
  const names = new Set(Object.keys(meta.inputs).map((f) => {
    const m = f.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/); return m && m[1]; }).filter(Boolean));
  for (const name of [...names].sort()) {
    const dir = path.join("node_modules", name);
    const file = fs.readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
    if (!file) throw new Error(`no licence file in ${name}`);
    const version = require(path.resolve(dir, "package.json")).version;
    fs.writeFileSync(path.join(process.argv[1], `LICENSE-${name.replace("/", "+")}`),
      `${name} ${version}\n\n` + fs.readFileSync(path.join(dir, file), "utf8"));
    console.log(`${name} ${version}`);
  }' "$here"
