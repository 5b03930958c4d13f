// Kept in step with package.json by test/layout.test.ts.
export const VERSION = '0.1.0';
