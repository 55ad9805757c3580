/**
 * Builds the solver's argv from an operator's template, e.g.
 *   SPEOS_COMMAND_V252="/opt/ansys_inc/v252/optical/SPEOSHPC.x {master} -t {thread_count} -p {priority}"
 * The template is split into words first (quotes group, as in a shell), then each
 * placeholder is replaced inside its word. User values (file names, job names) thus stay
 * one argument each and never meet a shell: spaces, quotes and `;` are just characters.
 */

/** Placeholders a template may use. `{options}` must stand alone: it becomes 0…n words. */
export const PLACEHOLDERS = [
  'master',
  'master_dir',
  'master_name',
  'include_dir',
  'workdir',
  'thread_count',
  'priority',
  'job_name',
  'task_id',
  'version',
  'options',
] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/** Splits a template into words: whitespace separates, '…' and "…" group, \ escapes. */
export function splitTemplate(template: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < template.length) word += template[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < template.length) {
      word += template[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unclosed ${quote} quote`);
  if (inWord) words.push(word);
  return words;
}

/** Throws with a message naming the problem when a template cannot work. */
export function checkTemplate(template: string): void {
  const words = splitTemplate(template);
  if (words.length === 0) throw new Error('the command is empty');
  for (const word of words) {
    for (const [, name] of word.matchAll(/\{([^}]*)\}/g)) {
      if (!PLACEHOLDERS.includes(name as Placeholder)) {
        throw new Error(`unknown placeholder {${name}}; use ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`);
      }
      if (name === 'options' && word !== '{options}') throw new Error('{options} must be a word of its own');
    }
  }
  if (!words.some((w) => w.includes('{master}'))) throw new Error('the command must pass {master} to the solver');
}

/** The optional SPEOS switches for a task's params (docs/api.md, confirm's optional solver options). */
export function solverOptions(params: Record<string, unknown>): string[] {
  const words: string[] = [];
  const value = (name: string, flag: string) => {
    const v = params[name];
    if (v !== undefined && v !== null && v !== '') words.push(flag, String(v));
  };
  value('simulation_index', '-S');
  value('ray_count', '-r');
  value('duration_minutes', '-D');
  if (params.use_gpu === true) words.push('-G');
  value('hpc_job_name', '-J');
  value('node_count', '-N');
  value('walltime_hours', '-W');
  return words;
}

/** argv for one run: placeholders replaced word by word; options appended if not placed. */
export function buildCommand(
  template: string,
  values: Record<Exclude<Placeholder, 'options'>, string>,
  options: string[],
): string[] {
  const words = splitTemplate(template);
  const argv: string[] = [];
  let placedOptions = false;
  for (const word of words) {
    if (word === '{options}') {
      argv.push(...options);
      placedOptions = true;
      continue;
    }
    argv.push(
      word.replace(/\{([a-z_]+)\}/g, (whole, name: string) =>
        name in values ? values[name as keyof typeof values] : whole,
      ),
    );
  }
  if (!placedOptions) argv.push(...options);
  return argv;
}
