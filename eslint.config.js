// Lint: the recommended JS and typescript-eslint rules, typed where that finds real bugs
// (floating promises in a server that must never drop an exit).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

// The layering, enforced (docs/architecture.md): the core imports nothing outside src/kvm;
// the client imports only schemas/, its own files and ws; routes never reach the core.
// no-restricted-imports matches the import's text, so what may be imported depends on how
// deep a file sits: a file d folders below src/kvm may climb at most d - 1 levels.
function inside (depth) {
  return depth === 1 ? '\\./' : `\\./|(\\.\\./){1,${depth - 1}}(?!\\.\\./)`
}
const kvmOnly = [1, 2, 3, 4].map(depth => ({
  files: [`src/kvm/${'*/'.repeat(depth - 1)}*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{ regex: `^(?!${inside(depth)})`, message: 'src/kvm is the pure core: it imports nothing outside src/kvm.' }]
    }]
  }
}))
const clientOnly = {
  files: ['src/client/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{ regex: '^(?!\\./|\\.\\./\\.\\./schemas/|ws$|node:)', message: 'the client imports only schemas/, its own files, ws and node: modules, so it works without the server.' }]
    }]
  }
}
const routesNoCore = {
  files: ['routes/**/*.ts'],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [{ regex: 'src/kvm/', message: 'routes validate, call control/ and translate: they never reach the core.' }]
    }]
  }
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**', 'data/**', 'public/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      eqeqeq: ['error', 'always'],
      'no-console': 'off'
    }
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { ...globals.node, ...globals.browser } }
  },
  ...kvmOnly,
  clientOnly,
  routesNoCore
)
