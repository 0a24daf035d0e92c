#!/usr/bin/env node
/**
 * The `xeno` executable of a source-tree install: binds the CLI to the tree's plugin catalog. This
 * entry (like a build bundle's generated one) is the only place the core meets a plugin list.
 */
import { runCli } from './main.js';
import { treeCatalog } from '../../plugins/catalog.js';

process.exitCode = await runCli(process.argv.slice(2), { catalog: treeCatalog });
