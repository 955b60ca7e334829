/**
 * Lets a child Node process run the project's TypeScript directly (`node -r
 * ./test/support/ts-register.js src/...ts`), for tests that need a real second bot process:
 * each file is transpiled on load with the project's compiler options, without type checking
 * (the test command type-checks everything first).
 */
'use strict';
const fs = require('node:fs');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  resolveJsonModule: true,
  sourceMap: false,
  inlineSourceMap: true,
};

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename });
  module._compile(outputText, filename);
};
