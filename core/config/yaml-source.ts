/** YAML (and JSON) parsed with eemeli/yaml so that every key path can be traced back to its line. */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { ConfigError } from '../api/errors.js';
import type { LineLookup, PathSegment } from './paths.js';

/** A parsed YAML file: its value, a line lookup for key paths, and every syntax error. */
export interface YamlSource {
  value: unknown;
  lineOf: LineLookup;
  errors: ConfigError[];
}

/** Parses YAML (JSON is YAML too) and reports every syntax error with its line; duplicate keys are errors. */
export function parseYamlSource(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const errors = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return new ConfigError(`YAML syntax error: ${firstLine(e.message)}`, { file, line: pos.line });
  });
  const value = errors.length === 0 ? doc.toJS({ maxAliasCount: 1000 }) : undefined;
  return { value, lineOf: makeLineOf(doc, lineCounter), errors };
}

function firstLine(message: string): string {
  const text = message.split('\n')[0] ?? message;
  return text.replace(/ at line \d+, column \d+:?$/, '');
}

/** A lookup that walks the document's nodes along the path and returns the line where the key (or list item) starts. */
function makeLineOf(doc: Document, lc: LineCounter): LineLookup {
  return (path: readonly PathSegment[]) => {
    let node: unknown = doc.contents;
    let offset: number | undefined = rangeStart(node);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (pair === undefined) return undefined;
        offset = rangeStart(pair.key) ?? rangeStart(pair.value);
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (item === undefined) return undefined;
        offset = rangeStart(item);
        node = item;
      } else {
        return undefined;
      }
    }
    return offset === undefined ? undefined : lc.linePos(offset).line;
  };
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
