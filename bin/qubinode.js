#!/usr/bin/env node
'use strict';
// Runs the compiled CLI (npm run build); from a checkout without dist/ it runs the TypeScript sources through tsx.
// QUBINODE_FROM_SOURCES=1 runs the sources even beside a dist/ build, so a lab's workers run the code under test.
const path = require('node:path');
const fs = require('node:fs');

const compiled = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (fs.existsSync(compiled) && process.env.QUBINODE_FROM_SOURCES !== '1') {
  require(compiled).main();
} else {
  require('tsx/cjs');
  require(path.join(__dirname, '..', 'cli', 'main.ts')).main();
}
