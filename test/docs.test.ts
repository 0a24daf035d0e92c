import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedDocs } from '../core/cli/docs.js';
import { treeCatalog } from '../plugins/catalog.js';

const ROOT = join(import.meta.dirname, '..');

describe('generated docs', () => {
  it('are what the code generates today (run `npm run docs` after changing features, schemas or the hypercall table)', async () => {
    for (const [file, text] of Object.entries(await generatedDocs(treeCatalog, ROOT))) {
      expect(readFileSync(join(ROOT, file), 'utf8'), file).toBe(text);
    }
  });
});
