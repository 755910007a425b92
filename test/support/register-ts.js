// Lets a child `node` process run TypeScript sources directly (tests only): `node -r ./register-ts.js file.ts`.
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
