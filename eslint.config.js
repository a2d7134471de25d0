// Lint rules for the whole repository: typescript-eslint's type-aware recommended set, and the
// direction of imports that docs/architecture.md draws, so it cannot drift back.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const PROCESS_ENV = { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'inject the environment; read process.env only in agent/main.ts' };

/**
 * Who may import whom. Top-level folders: qemu/ and test/ -> agent/ -> cloud-config/, images/ ->
 * platform/. Inside agent/: main.ts -> wiring/ -> cli/ -> the domains; update/ is the pure core and
 * reaches its adapters (update-io/) and their libraries only through its ports, as health/ does
 * (health-io/, systemd/).
 */
const TOP = ['qemu', 'test'];
const DOMAIN = [...TOP, 'cli', 'wiring'];
const BOUNDARIES = [
  { files: ['platform/**'], folders: ['agent', 'cloud-config', 'images', ...TOP], why: 'platform/ depends on nothing of ours' },
  { files: ['cloud-config/**'], folders: ['agent', 'images', ...TOP], why: 'cloud-config/ depends only on platform/' },
  { files: ['images/**'], folders: ['agent', 'cloud-config', ...TOP], env: true, why: 'images/ depends only on platform/' },
  { files: ['agent/main.ts'], folders: TOP, env: true, why: 'the agent does not import the test harness' },
  { files: ['agent/wiring/**'], folders: TOP, why: 'the agent does not import the test harness' },
  { files: ['agent/cli/**'], folders: [...TOP, 'wiring'], why: 'only agent/main.ts uses the wiring' },
  {
    files: ['agent/update/**'],
    folders: [...DOMAIN, 'update-io'],
    packages: ['got', 'openpgp', 'dbus-next', 'node:fs', 'node:fs/promises', 'node:http', 'node:https', 'node:zlib'],
    why: 'update/ is the pure core: its adapters come in through its ports',
  },
  {
    files: ['agent/health/**'],
    folders: [...DOMAIN, 'health-io'],
    packages: ['dbus-next', 'node:fs', 'node:fs/promises', 'node:http', 'node:https', 'node:child_process'],
    why: 'health/ is the pure health gate: units, probes and files come in through its ports',
  },
  { files: ['agent/*.ts', 'agent/*/**'], ignores: ['agent/main.ts', 'agent/wiring/**', 'agent/cli/**', 'agent/update/**', 'agent/health/**'], folders: DOMAIN, why: 'domains never import the CLI or the wiring' },
];

function boundary({ files, ignores = [], folders, packages = [], env = false, why }) {
  const folderPattern = folders.map((f) => `**/${f}/**`);
  // esquery ends a regular expression at the first "/", so the slash is written \x2F.
  const dynamic = `(^|\\x2F)(${folders.join('|')})\\x2F${packages.length ? `|^(${packages.map((p) => p.replaceAll('/', '\\x2F')).join('|')})$` : ''}`;
  return {
    files,
    ignores: [...ignores, '**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: folderPattern, message: why }], paths: packages.map((name) => ({ name, message: why })) }],
      'no-restricted-syntax': ['error', ...(env ? [] : [PROCESS_ENV]), { selector: `ImportExpression > Literal[value=/${dynamic}/]`, message: why }],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'build/', '.cache/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', PROCESS_ENV],
    },
  },
  {
    files: ['test/**', 'qemu/**', '**/*.test.ts', '*.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  ...BOUNDARIES.map(boundary),
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
);
