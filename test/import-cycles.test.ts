/**
 * No package imports itself in a circle. A cycle makes module start-up order decide what is
 * defined (a class used before its module ran), and it is how one module's job leaks into
 * another's; issue 11 removed four, and one (the notification outbox ↔ the tasks repository)
 * crept back in unnoticed. Every static `import`/`export … from` of a relative path counts,
 * type-only ones too (they tie the modules' designs together all the same); a dynamic
 * `import()` does not: loading on first use is a legitimate way to break a cycle.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PACKAGES = fileURLToPath(new URL('../packages/', import.meta.url));
const STATIC_IMPORT =
  /^\s*(?:import|export)\s[^;]*?\sfrom\s+['"](\.{1,2}\/[^'"]+)['"]|^\s*import\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sourceFiles(full);
    return /\.(ts|tsx|mts)$/.test(name) && !/\.d\.m?ts$/.test(name) ? [full] : [];
  });
}

/** `./x.js` from a TypeScript file names x.ts (or x.tsx, or x/index.ts). */
function resolve(from: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(from), specifier);
  const stem = base.replace(/\.(m?js|jsx)$/, '');
  const candidates = [`${stem}.ts`, `${stem}.tsx`, `${stem}.mts`, base, path.join(base, 'index.ts')];
  return candidates.find((file) => existsSync(file) && statSync(file).isFile());
}

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(STATIC_IMPORT)]
      .map((match) => resolve(file, (match[1] ?? match[2])!))
      .filter((target): target is string => target !== undefined && /\.(ts|tsx|mts)$/.test(target));
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the files in order. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push(stack.slice(stack.indexOf(next)));
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

describe('imports', () => {
  for (const pkg of readdirSync(PACKAGES).filter((name) => existsSync(path.join(PACKAGES, name, 'src')))) {
    it(`form no cycle in packages/${pkg}`, () => {
      const src = path.join(PACKAGES, pkg, 'src');
      const graph = importGraph(sourceFiles(src));
      expect(graph.size).toBeGreaterThan(0);
      const cycles = findCycles(graph).map((cycle) => cycle.map((file) => path.relative(src, file)).join(' → '));
      expect(cycles).toEqual([]);
    });
  }

  it('finds a cycle when there is one (the one issue 11 found again)', () => {
    const src = path.join(PACKAGES, 'server/src');
    const graph = importGraph(sourceFiles(src));
    const repository = path.join(src, 'tasks/repository.ts');
    const events = path.join(src, 'notify/events.ts');
    expect(graph.get(repository)).toContain(events);
    graph.set(events, [...(graph.get(events) ?? []), repository]);
    const found = findCycles(graph).filter((cycle) => cycle.length === 2);
    expect(found.some((cycle) => cycle.includes(repository) && cycle.includes(events))).toBe(true);
  });
});
