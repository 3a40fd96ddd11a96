#!/usr/bin/env node
// Copies the files the compiled code reads at run time (the web page's static files) into dist/.
import { cpSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
for (const dir of ['api/src/ui/static']) {
  cpSync(`${root}${dir}`, `${root}dist/${dir}`, { recursive: true });
}
