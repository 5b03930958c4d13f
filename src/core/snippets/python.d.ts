// A .py import is the file's text: esbuild's text loader (esbuild.config.mjs), used by sources.bundle.ts.
declare module '*.py' {
  const text: string;
  export default text;
}
