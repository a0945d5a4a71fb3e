#!/usr/bin/env node
'use strict';
// Runs the compiled CLI (npm run build); from a checkout without dist/ it runs the TypeScript sources through tsx.
const path = require('node:path');
const fs = require('node:fs');

const compiled = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (fs.existsSync(compiled)) {
  require(compiled).main();
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'cli', 'main.ts')).main();
}
