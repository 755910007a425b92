// Lets the e2e host child process run the TypeScript sources directly: `node -r ./register-ts.js host.ts`.
// Transpiles with @swc/core (the settings of jest's transform), no type-checking.
const swc = require('@swc/core');

require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = swc.transformFileSync(filename, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};
