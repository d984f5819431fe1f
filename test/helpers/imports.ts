/**
 * The import graph of medsynth's own source, read with the TypeScript parser (not regular expressions, so
 * that imports named in comments or strings do not count): static `import … from`, `export … from`,
 * `import x = require(…)`, dynamic `import('…')` and `import('…')` types. Only relative specifiers are
 * edges (packages are not ours). Type-only imports count like any other: a type is part of a module's
 * interface, and a cycle through types still ties two modules together.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

export interface ImportRef {
  specifier: string;
  /** 1-based line of the import in its file. */
  line: number;
  kind: 'import' | 'export' | 'dynamic' | 'require' | 'type';
}

/** Every module specifier a TypeScript source imports or re-exports, in source order. */
export function parseImports(text: string, fileName = 'file.ts'): ImportRef[] {
  const sf = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: ImportRef[] = [];
  const add = (lit: ts.Node, kind: ImportRef['kind']) => {
    if (!ts.isStringLiteralLike(lit)) return; // import(name) with a computed name: not a static edge
    out.push({ specifier: lit.text, line: sf.getLineAndCharacterOfPosition(lit.getStart(sf)).line + 1, kind });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node.moduleSpecifier, 'import');
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier) add(node.moduleSpecifier, 'export');
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) add(node.moduleReference.expression, 'require');
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) add(node.arguments[0], 'dynamic');
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, 'type');
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

export interface Edge {
  /** Repository-relative path of the imported .ts file, with '/' separators. */
  to: string;
  line: number;
}

/** file → its edges to other files of the graph; all paths repository-relative with '/'. */
export type ImportGraph = Map<string, Edge[]>;

function listTs(dir: string, out: string[]): void {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) listTs(p, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
}

/**
 * The graph of every .ts file under `dirs` (relative to `root`). A relative import must name an existing
 * .ts file (NodeNext: './x.js' is x.ts) or be a non-code file such as JSON; anything else is thrown, so a
 * typo cannot hide an edge.
 */
export function importGraph(root: string, dirs: string[]): ImportGraph {
  const files: string[] = [];
  for (const d of dirs) listTs(join(root, d), files);
  const graph: ImportGraph = new Map();
  for (const abs of files) {
    const from = relative(root, abs).split(sep).join('/');
    const edges: Edge[] = [];
    for (const ref of parseImports(readFileSync(abs, 'utf8'), from)) {
      if (!ref.specifier.startsWith('./') && !ref.specifier.startsWith('../')) continue;
      const target = posix.normalize(posix.join(posix.dirname(from), ref.specifier));
      const file = target.replace(/\.js$/, '.ts');
      if (file.endsWith('.ts') && existsSync(join(root, file))) edges.push({ to: file, line: ref.line });
      else if (!/\.(json|wasm|node)$/.test(target) || !existsSync(join(root, target))) {
        throw new Error(`${from}:${ref.line}: import '${ref.specifier}' names no file (looked for ${file})`);
      }
    }
    graph.set(from, edges);
  }
  return graph;
}

/** The area a file belongs to: the longest of `areas` that is a prefix of its path (areas end in '/' or name a file). */
export function areaOf(file: string, areas: readonly string[]): string | null {
  let best: string | null = null;
  for (const a of areas) if ((file === a || file.startsWith(a.endsWith('/') ? a : `${a}/`)) && (!best || a.length > best.length)) best = a;
  return best;
}

/**
 * The cycles of the graph: one per strongly connected component with more than one file (or a file that
 * imports itself), given as a closed path `[a, b, …, a]` through that component, so the message names the
 * files in import order. Tarjan's algorithm, iterative (no recursion limit on deep graphs).
 */
export function findCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const succ = (v: string) => (graph.get(v) ?? []).map((e) => e.to).filter((w) => graph.has(w));
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { v: string; i: number; ws: string[] }[] = [];
    const open = (v: string) => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      work.push({ v, i: 0, ws: succ(v) });
    };
    open(start);
    while (work.length) {
      const top = work[work.length - 1]!;
      if (top.i < top.ws.length) {
        const w = top.ws[top.i++]!;
        if (!index.has(w)) open(w);
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1]!.v;
        low.set(parent, Math.min(low.get(parent)!, low.get(top.v)!));
      }
      if (low.get(top.v) === index.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          comp.push(w);
        } while (w !== top.v);
        if (comp.length > 1 || succ(top.v).includes(top.v)) components.push(comp);
      }
    }
  }
  return components.map((comp) => cycleThrough(comp, succ));
}

/** A shortest closed path from the component's first file (sorted) back to itself, inside the component. */
function cycleThrough(comp: string[], succ: (v: string) => string[]): string[] {
  const members = new Set(comp);
  const start = [...comp].sort()[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of succ(v)) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`internal error: no cycle through ${start}`);
}
