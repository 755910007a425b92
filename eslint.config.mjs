import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.local/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Only shared/config.ts reads process.env.',
        },
        // process['env'], globalThis.process.env, const { env } = process
        {
          selector: "MemberExpression[object.name='process'][property.value='env']",
          message: 'Only shared/config.ts reads process.env.',
        },
        {
          selector: "MemberExpression[object.property.name='process'][property.name='env']",
          message: 'Only shared/config.ts reads process.env.',
        },
        {
          selector: "VariableDeclarator[init.name='process'] > ObjectPattern > Property[key.name='env']",
          message: 'Only shared/config.ts reads process.env.',
        },
      ],
    },
  },
  {
    files: ['shared/config.ts', 'dev/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    files: ['functions/**/*.ts', 'shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/dev/**', '**/test/**'], message: 'Shipped code never imports dev/ or test/.' }] },
      ],
    },
  },
  {
    // Same rule (it replaces the one above for these files), plus: the domain talks to ports, never to an SDK.
    files: ['shared/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/dev/**', '**/test/**'], message: 'Shipped code never imports dev/ or test/.' },
            { group: ['@azure/*', '@microsoft/*'], message: 'shared/domain imports no SDK: use a port.' },
          ],
        },
      ],
    },
  },
);
