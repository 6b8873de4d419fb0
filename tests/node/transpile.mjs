// Transpiles the built components with jco into gen/ (git-ignored):
// gen/full/ (world `service`: parse, map, collect) and gen/mapper/ (world
// `mapper`). The .wasm paths come from LLM_METRICS_WASM and
// LLM_METRICS_MAPPING_WASM (`cargo run -q -p llm-metrics-host --example
// component_path [mapping]` prints them; .ci/run sets both).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const jco = join(here, 'node_modules', '.bin', 'jco');
for (const [name, env] of [['full', 'LLM_METRICS_WASM'], ['mapper', 'LLM_METRICS_MAPPING_WASM']]) {
  const wasm = process.env[env];
  if (!wasm) {
    console.error(`${env} is not set: run \`cargo run -q -p llm-metrics-host --example component_path\` for the path`);
    process.exit(2);
  }
  const out = join(here, 'gen', name);
  rmSync(out, { recursive: true, force: true });
  execFileSync(jco, ['transpile', wasm, '--name', 'llm-metrics', '--out-dir', out, '--quiet'], {
    stdio: 'inherit',
  });
}
