// Entry point for notebooks: tslab compiles notebook cells but not TypeScript files inside
// node_modules, so register tsx's CommonJS hook and load the library's TypeScript source.
// Types come from index.ts ("types" in package.json), so cells are type-checked against lib.
require('tsx/cjs');
module.exports = require('./index.ts');
